// AssemblyScript source of Coffer's piece WASM module (built by `npm run build:wasm`): the piece tree's
// node hash sha2-256-trunc254 over 64-byte inputs, one at a time and four at a time in SIMD lanes, and FR32
// padding. Inputs and outputs live in linear memory above heapBase(); the host grows memory as it needs.
// A 64-byte message is SHA-256's first block plus a fixed padding block whose schedule is computed once.

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]
const H: StaticArray<u32> = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]

// Scratch lives in static data (memory.data), below heapBase(), so the host's buffers can never overlap it.
const W = memory.data(64 * 4)
/** K[t] + W[t] of the padding block of any 64-byte message: 0x80, zeros, bit length 512. */
const PAD_KW = memory.data(64 * 4)
const WV = memory.data(64 * 16, 16)
/** K[t] in every lane, and the padding block's K[t] + W[t] in every lane: one vector load a round. */
const KV = memory.data(64 * 16, 16)
const PAD_KWV = memory.data(64 * 16, 16)

@inline function w (t: i32): u32 { return load<u32>(W + (<usize>t << 2)) }
@inline function setW (t: i32, v: u32): void { store<u32>(W + (<usize>t << 2), v) }
@inline function padKW (t: i32): u32 { return load<u32>(PAD_KW + (<usize>t << 2)) }
@inline function wv (t: i32): v128 { return v128.load(WV + (<usize>t << 4)) }
@inline function kv (t: i32): v128 { return v128.load(KV + (<usize>t << 4)) }
@inline function padKWV (t: i32): v128 { return v128.load(PAD_KWV + (<usize>t << 4)) }
@inline function setWV (t: i32, v: v128): void { v128.store(WV + (<usize>t << 4), v) }

function init (): void {
  for (let t = 0; t < 16; t++) setW(t, 0)
  setW(0, 0x80000000)
  setW(15, 512)
  for (let t = 16; t < 64; t++) setW(t, s1(w(t - 2)) + w(t - 7) + s0(w(t - 15)) + w(t - 16))
  for (let t = 0; t < 64; t++) store<u32>(PAD_KW + (<usize>t << 2), unchecked(K[t]) + w(t))
  for (let t = 0; t < 64; t++) {
    v128.store(KV + (<usize>t << 4), i32x4.splat(unchecked(K[t])))
    v128.store(PAD_KWV + (<usize>t << 4), i32x4.splat(padKW(t)))
  }
}
init()

@inline function s0 (x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3) }
@inline function s1 (x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10) }

export function heapBase (): usize { return __heap_base }

/** `pairs` 64-byte inputs at `input` → `pairs` 32-byte trunc254 digests at `output`. */
export function hashPairs (input: usize, output: usize, pairs: i32): void {
  for (let p = 0; p < pairs; p++) hashOne(input + <usize>p * 64, output + <usize>p * 32)
}

function hashOne (src: usize, dst: usize): void {
  for (let t = 0; t < 16; t++) setW(t, bswap<u32>(load<u32>(src + <usize>t * 4)))
  for (let t = 16; t < 64; t++) setW(t, s1(w(t - 2)) + w(t - 7) + s0(w(t - 15)) + w(t - 16))
  let a = unchecked(H[0]); let b = unchecked(H[1]); let c = unchecked(H[2]); let d = unchecked(H[3])
  let e = unchecked(H[4]); let f = unchecked(H[5]); let g = unchecked(H[6]); let h = unchecked(H[7])
  for (let t = 0; t < 64; t++) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + unchecked(K[t]) + w(t)
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2
  }
  const i0 = a + unchecked(H[0]); const i1 = b + unchecked(H[1]); const i2 = c + unchecked(H[2]); const i3 = d + unchecked(H[3])
  const i4 = e + unchecked(H[4]); const i5 = f + unchecked(H[5]); const i6 = g + unchecked(H[6]); const i7 = h + unchecked(H[7])
  a = i0; b = i1; c = i2; d = i3; e = i4; f = i5; g = i6; h = i7
  for (let t = 0; t < 64; t++) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + padKW(t)
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2
  }
  store<u32>(dst, bswap<u32>(a + i0)); store<u32>(dst + 4, bswap<u32>(b + i1))
  store<u32>(dst + 8, bswap<u32>(c + i2)); store<u32>(dst + 12, bswap<u32>(d + i3))
  store<u32>(dst + 16, bswap<u32>(e + i4)); store<u32>(dst + 20, bswap<u32>(f + i5))
  store<u32>(dst + 24, bswap<u32>(g + i6))
  store<u32>(dst + 28, bswap<u32>(h + i7) & 0x3fffffff) // trunc254: the last byte's top two bits
}

// ---- four messages at once: lane i of every vector belongs to message i ----

@inline function rotrV (x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)) }

/** Like hashPairs, four inputs per step in SIMD lanes; a remainder of 1–3 goes through the scalar path. */
export function hashPairsX4 (input: usize, output: usize, pairs: i32): void {
  let p = 0
  for (; p + 4 <= pairs; p += 4) hashFour(input + <usize>p * 64, output + <usize>p * 32)
  for (; p < pairs; p++) hashOne(input + <usize>p * 64, output + <usize>p * 32)
}

function hashFour (src: usize, dst: usize): void {
  for (let t = 0; t < 16; t++) {
    const o = <usize>t * 4
    let v = i32x4.splat(bswap<u32>(load<u32>(src + o)))
    v = i32x4.replace_lane(v, 1, bswap<u32>(load<u32>(src + 64 + o)))
    v = i32x4.replace_lane(v, 2, bswap<u32>(load<u32>(src + 128 + o)))
    v = i32x4.replace_lane(v, 3, bswap<u32>(load<u32>(src + 192 + o)))
    setWV(t, v)
  }
  for (let t = 16; t < 64; t++) {
    const x2 = wv(t - 2); const x15 = wv(t - 15)
    const ss1 = v128.xor(v128.xor(rotrV(x2, 17), rotrV(x2, 19)), i32x4.shr_u(x2, 10))
    const ss0 = v128.xor(v128.xor(rotrV(x15, 7), rotrV(x15, 18)), i32x4.shr_u(x15, 3))
    setWV(t, i32x4.add(i32x4.add(ss1, wv(t - 7)), i32x4.add(ss0, wv(t - 16))))
  }
  let a = i32x4.splat(unchecked(H[0])); let b = i32x4.splat(unchecked(H[1])); let c = i32x4.splat(unchecked(H[2])); let d = i32x4.splat(unchecked(H[3]))
  let e = i32x4.splat(unchecked(H[4])); let f = i32x4.splat(unchecked(H[5])); let g = i32x4.splat(unchecked(H[6])); let h = i32x4.splat(unchecked(H[7]))
  // maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is the last round's a ^ b
  let bc = v128.xor(b, c)
  for (let t = 0; t < 64; t++) {
    const S1 = v128.xor(v128.xor(rotrV(e, 6), rotrV(e, 11)), rotrV(e, 25))
    const ch = v128.xor(g, v128.and(e, v128.xor(f, g)))
    const t1 = i32x4.add(i32x4.add(h, S1), i32x4.add(ch, i32x4.add(kv(t), wv(t))))
    const S0 = v128.xor(v128.xor(rotrV(a, 2), rotrV(a, 13)), rotrV(a, 22))
    const ab = v128.xor(a, b)
    const maj = v128.xor(b, v128.and(ab, bc))
    bc = ab
    const t2 = i32x4.add(S0, maj)
    h = g; g = f; f = e; e = i32x4.add(d, t1); d = c; c = b; b = a; a = i32x4.add(t1, t2)
  }
  const i0 = i32x4.add(a, i32x4.splat(unchecked(H[0]))); const i1 = i32x4.add(b, i32x4.splat(unchecked(H[1])))
  const i2 = i32x4.add(c, i32x4.splat(unchecked(H[2]))); const i3 = i32x4.add(d, i32x4.splat(unchecked(H[3])))
  const i4 = i32x4.add(e, i32x4.splat(unchecked(H[4]))); const i5 = i32x4.add(f, i32x4.splat(unchecked(H[5])))
  const i6 = i32x4.add(g, i32x4.splat(unchecked(H[6]))); const i7 = i32x4.add(h, i32x4.splat(unchecked(H[7])))
  a = i0; b = i1; c = i2; d = i3; e = i4; f = i5; g = i6; h = i7
  bc = v128.xor(b, c)
  for (let t = 0; t < 64; t++) {
    const S1 = v128.xor(v128.xor(rotrV(e, 6), rotrV(e, 11)), rotrV(e, 25))
    const ch = v128.xor(g, v128.and(e, v128.xor(f, g)))
    const t1 = i32x4.add(i32x4.add(h, S1), i32x4.add(ch, padKWV(t)))
    const S0 = v128.xor(v128.xor(rotrV(a, 2), rotrV(a, 13)), rotrV(a, 22))
    const ab = v128.xor(a, b)
    const maj = v128.xor(b, v128.and(ab, bc))
    bc = ab
    const t2 = i32x4.add(S0, maj)
    h = g; g = f; f = e; e = i32x4.add(d, t1); d = c; c = b; b = a; a = i32x4.add(t1, t2)
  }
  storeLanes(dst, i32x4.add(a, i0), 0); storeLanes(dst, i32x4.add(b, i1), 4)
  storeLanes(dst, i32x4.add(c, i2), 8); storeLanes(dst, i32x4.add(d, i3), 12)
  storeLanes(dst, i32x4.add(e, i4), 16); storeLanes(dst, i32x4.add(f, i5), 20)
  storeLanes(dst, i32x4.add(g, i6), 24)
  storeLanes(dst, v128.and(i32x4.add(h, i7), i32x4.splat(0xffffff3f)), 28) // trunc254, applied before the byte swap
}

@inline function storeLanes (dst: usize, v: v128, offset: usize): void {
  store<u32>(dst + offset, bswap<u32>(i32x4.extract_lane(v, 0)))
  store<u32>(dst + 32 + offset, bswap<u32>(i32x4.extract_lane(v, 1)))
  store<u32>(dst + 64 + offset, bswap<u32>(i32x4.extract_lane(v, 2)))
  store<u32>(dst + 96 + offset, bswap<u32>(i32x4.extract_lane(v, 3)))
}

/**
 * FR32: `chunks` × 127 bytes at `input` → `chunks` × 128 bytes at `output` (see src/core/piece/fr32.ts): each
 * 127 bytes are 1,016 bits, read least significant first, cut into four 254-bit runs, each written as 32 bytes
 * whose top two bits are zero. Read 64 bits at a time; the last chunk's reads go up to 8 bytes past its end (the
 * host's output region follows the input, so they stay in memory) and those bits are masked off.
 */
export function fr32Pad (input: usize, output: usize, chunks: i32): void {
  for (let c = 0; c < chunks; c++) {
    const i = input + <usize>c * 127
    const o = output + <usize>c * 128
    quad(i, o, 0)
    quad(i + 31, o + 32, 6)
    quad(i + 63, o + 64, 4)
    quad(i + 95, o + 96, 2)
  }
}

/** One 254-bit run starting `shift` bits into the byte at `i`, as four 64-bit words at `o`. */
@inline function quad (i: usize, o: usize, shift: u64): void {
  store<u64>(o, bitsAt(i, shift))
  store<u64>(o + 8, bitsAt(i + 8, shift))
  store<u64>(o + 16, bitsAt(i + 16, shift))
  store<u64>(o + 24, bitsAt(i + 24, shift) & 0x3fffffffffffffff)
}

@inline function bitsAt (i: usize, shift: u64): u64 {
  const lo = load<u64>(i)
  return shift == 0 ? lo : (lo >> shift) | (load<u64>(i + 8) << (64 - shift))
}

/**
 * Merkle path check: hashes the 32-byte leaf at `value` up through `levels` siblings at `path` (leaf level
 * first), taking the left/right order from the bits of `leaf`, and compares with the 32-byte `root`.
 * Returns 1 on a match. `scratch` is 64 bytes the host leaves free.
 */
export function verifyPath (root: usize, value: usize, path: usize, levels: i32, leaf: u64, scratch: usize): i32 {
  memory.copy(scratch, value, 32)
  let index = leaf
  for (let k = 0; k < levels; k++) {
    const sib = path + <usize>k * 32
    if ((index & 1) == 0) memory.copy(scratch + 32, sib, 32)
    else { memory.copy(scratch + 32, scratch, 32); memory.copy(scratch, sib, 32) }
    hashOne(scratch, scratch)
    index >>= 1
  }
  return i32(load<u64>(scratch) == load<u64>(root) && load<u64>(scratch + 8) == load<u64>(root + 8) &&
    load<u64>(scratch + 16) == load<u64>(root + 16) && load<u64>(scratch + 24) == load<u64>(root + 24))
}

/**
 * A whole subtree from raw payload: `chunks` (a power of two) × 127 bytes at `input` are FR32-padded into
 * `scratch` (chunks × 128 bytes) and hashed level by level in place, four nodes at a time, down to one
 * 32-byte root written at `out`. One call per 1,024-leaf batch or per 2^17-leaf segment: no copies per level.
 */
export function subtreeRoot (input: usize, chunks: i32, scratch: usize, out: usize): void {
  fr32Pad(input, scratch, chunks)
  let nodes = chunks * 4
  while (nodes > 1) {
    // level k+1 overwrites the front of level k: node i reads bytes [64i, 64i+64) and writes [32i, 32i+32),
    // and a four-node step reads 256 bytes before writing 128 of them, so nothing is read after being overwritten
    hashPairsX4(scratch, scratch, nodes >> 1)
    nodes >>= 1
  }
  memory.copy(out, scratch, 32)
}
