// ChaCha20-Poly1305 (RFC 8439) for the browser's noise sessions (issue 17): in Chromium the shared node encrypts
// every byte it uploads and decrypts every byte it downloads on its one thread, and @noble/ciphers in JavaScript
// ran 120 MiB/s there (8 ms a MiB, the largest share of that thread's work in an upload); this runs about five
// times that. ChaCha20 four blocks at a time in SIMD lanes; Poly1305 with 26-bit limbs (as poly1305-donna).
// Checked against RFC 8439's AEAD vector and against @noble/ciphers on random inputs (test/unit/aead-wasm.test.ts).
// The host (workers/wasm/aead-wasm.ts) places key, nonce and data in memory; nothing here allocates.

@inline function rotl (x: v128, n: i32): v128 {
  return v128.or(i32x4.shl(x, n), i32x4.shr_u(x, 32 - n))
}

// rotations by 16 and 8 as byte shuffles
@inline function rotl16 (x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
}
@inline function rotl8 (x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)
}

/** XORs `len` bytes at `data` with the keystream of key/nonce from block `counter` on, in place. */
export function chacha20Xor (key: usize, nonce: usize, counter: u32, data: usize, len: usize, scr: usize): void {
  const k0 = load<u32>(key), k1 = load<u32>(key, 4), k2 = load<u32>(key, 8), k3 = load<u32>(key, 12)
  const k4 = load<u32>(key, 16), k5 = load<u32>(key, 20), k6 = load<u32>(key, 24), k7 = load<u32>(key, 28)
  const n0 = load<u32>(nonce), n1 = load<u32>(nonce, 4), n2 = load<u32>(nonce, 8)
  let off: usize = 0
  while (off < len) {
    const c0 = i32x4.splat(0x61707865), c1 = i32x4.splat(0x3320646e), c2 = i32x4.splat(0x79622d32), c3 = i32x4.splat(0x6b206574)
    const s4 = i32x4.splat(k0), s5 = i32x4.splat(k1), s6 = i32x4.splat(k2), s7 = i32x4.splat(k3)
    const s8 = i32x4.splat(k4), s9 = i32x4.splat(k5), s10 = i32x4.splat(k6), s11 = i32x4.splat(k7)
    const s12 = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3))
    const s13 = i32x4.splat(n0), s14 = i32x4.splat(n1), s15 = i32x4.splat(n2)
    let x0 = c0, x1 = c1, x2 = c2, x3 = c3, x4 = s4, x5 = s5, x6 = s6, x7 = s7
    let x8 = s8, x9 = s9, x10 = s10, x11 = s11, x12 = s12, x13 = s13, x14 = s14, x15 = s15
    for (let r = 0; r < 10; r++) {
      // columns
      x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl(v128.xor(x4, x8), 12)
      x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl(v128.xor(x4, x8), 7)
      x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl(v128.xor(x5, x9), 12)
      x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl(v128.xor(x5, x9), 7)
      x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl(v128.xor(x6, x10), 12)
      x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl(v128.xor(x6, x10), 7)
      x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl(v128.xor(x7, x11), 12)
      x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl(v128.xor(x7, x11), 7)
      // diagonals
      x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl(v128.xor(x5, x10), 12)
      x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl(v128.xor(x5, x10), 7)
      x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl(v128.xor(x6, x11), 12)
      x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl(v128.xor(x6, x11), 7)
      x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl(v128.xor(x7, x8), 12)
      x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl(v128.xor(x7, x8), 7)
      x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl(v128.xor(x4, x9), 12)
      x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl(v128.xor(x4, x9), 7)
    }
    v128.store(scr, i32x4.add(x0, c0), 0); v128.store(scr, i32x4.add(x1, c1), 16)
    v128.store(scr, i32x4.add(x2, c2), 32); v128.store(scr, i32x4.add(x3, c3), 48)
    v128.store(scr, i32x4.add(x4, s4), 64); v128.store(scr, i32x4.add(x5, s5), 80)
    v128.store(scr, i32x4.add(x6, s6), 96); v128.store(scr, i32x4.add(x7, s7), 112)
    v128.store(scr, i32x4.add(x8, s8), 128); v128.store(scr, i32x4.add(x9, s9), 144)
    v128.store(scr, i32x4.add(x10, s10), 160); v128.store(scr, i32x4.add(x11, s11), 176)
    v128.store(scr, i32x4.add(x12, s12), 192); v128.store(scr, i32x4.add(x13, s13), 208)
    v128.store(scr, i32x4.add(x14, s14), 224); v128.store(scr, i32x4.add(x15, s15), 240)
    // block j, word i is lane j of vector i; a last partial block is XORed byte by byte
    for (let j: usize = 0; j < 4 && off < len; j++) {
      const left = len - off
      if (left >= 64) {
        for (let i: usize = 0; i < 16; i++) {
          const p = data + off + (i << 2)
          store<u32>(p, load<u32>(p) ^ load<u32>(scr + (i << 4) + (j << 2)))
        }
        off += 64
      } else {
        for (let b: usize = 0; b < left; b++) {
          const i = b >> 2
          const ks = load<u8>(scr + (i << 4) + (j << 2) + (b & 3))
          store<u8>(data + off + b, load<u8>(data + off + b) ^ ks)
        }
        off = len
      }
    }
    counter += 4
  }
}

// Poly1305's state: one MAC at a time (the host runs init, blocks and finish in one synchronous sequence)
let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0, r4: u32 = 0
let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0
let pad0: u32 = 0, pad1: u32 = 0, pad2: u32 = 0, pad3: u32 = 0

/** Starts a MAC under the 32-byte one-time key at `key` (r clamped, then s). */
export function polyInit (key: usize): void {
  const t0 = load<u32>(key), t1 = load<u32>(key, 4), t2 = load<u32>(key, 8), t3 = load<u32>(key, 12)
  r0 = t0 & 0x3ffffff
  r1 = ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03
  r2 = ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff
  r3 = ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff
  r4 = (t3 >>> 8) & 0x00fffff
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0
  pad0 = load<u32>(key, 16); pad1 = load<u32>(key, 20); pad2 = load<u32>(key, 24); pad3 = load<u32>(key, 28)
}

/** Absorbs `len` bytes (a multiple of 16; the host pads) at `m`. */
export function polyBlocks (m: usize, len: usize): void {
  const s1: u64 = <u64>r1 * 5, s2: u64 = <u64>r2 * 5, s3: u64 = <u64>r3 * 5, s4: u64 = <u64>r4 * 5
  const R0: u64 = r0, R1: u64 = r1, R2: u64 = r2, R3: u64 = r3, R4: u64 = r4
  let H0: u64 = h0, H1: u64 = h1, H2: u64 = h2, H3: u64 = h3, H4: u64 = h4
  for (let o: usize = 0; o < len; o += 16) {
    const t0 = load<u32>(m + o), t1 = load<u32>(m + o, 4), t2 = load<u32>(m + o, 8), t3 = load<u32>(m + o, 12)
    H0 += t0 & 0x3ffffff
    H1 += ((<u64>t0 >> 26) | (<u64>t1 << 6)) & 0x3ffffff
    H2 += ((<u64>t1 >> 20) | (<u64>t2 << 12)) & 0x3ffffff
    H3 += ((<u64>t2 >> 14) | (<u64>t3 << 18)) & 0x3ffffff
    H4 += (<u64>t3 >> 8) | (1 << 24)
    const d0 = H0 * R0 + H1 * s4 + H2 * s3 + H3 * s2 + H4 * s1
    let d1 = H0 * R1 + H1 * R0 + H2 * s4 + H3 * s3 + H4 * s2
    let d2 = H0 * R2 + H1 * R1 + H2 * R0 + H3 * s4 + H4 * s3
    let d3 = H0 * R3 + H1 * R2 + H2 * R1 + H3 * R0 + H4 * s4
    let d4 = H0 * R4 + H1 * R3 + H2 * R2 + H3 * R1 + H4 * R0
    let c = d0 >> 26; H0 = d0 & 0x3ffffff
    d1 += c; c = d1 >> 26; H1 = d1 & 0x3ffffff
    d2 += c; c = d2 >> 26; H2 = d2 & 0x3ffffff
    d3 += c; c = d3 >> 26; H3 = d3 & 0x3ffffff
    d4 += c; c = d4 >> 26; H4 = d4 & 0x3ffffff
    H0 += c * 5; c = H0 >> 26; H0 &= 0x3ffffff
    H1 += c
  }
  h0 = <u32>H0; h1 = <u32>H1; h2 = <u32>H2; h3 = <u32>H3; h4 = <u32>H4
}

/** Writes the 16-byte tag at `out`. */
export function polyFinish (out: usize): void {
  let c: u32
  c = h1 >>> 26; h1 &= 0x3ffffff
  h2 += c; c = h2 >>> 26; h2 &= 0x3ffffff
  h3 += c; c = h3 >>> 26; h3 &= 0x3ffffff
  h4 += c; c = h4 >>> 26; h4 &= 0x3ffffff
  h0 += c * 5; c = h0 >>> 26; h0 &= 0x3ffffff
  h1 += c
  // h + -p
  let g0 = h0 + 5; c = g0 >>> 26; g0 &= 0x3ffffff
  let g1 = h1 + c; c = g1 >>> 26; g1 &= 0x3ffffff
  let g2 = h2 + c; c = g2 >>> 26; g2 &= 0x3ffffff
  let g3 = h3 + c; c = g3 >>> 26; g3 &= 0x3ffffff
  const g4 = h4 + c - (1 << 26)
  // select h if h < p, else g (constant time)
  let mask = (g4 >>> 31) - 1
  g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask
  const g4m = g4 & mask
  mask = ~mask
  h0 = (h0 & mask) | g0; h1 = (h1 & mask) | g1; h2 = (h2 & mask) | g2; h3 = (h3 & mask) | g3; h4 = (h4 & mask) | g4m
  // h = h % 2^128
  const w0 = (h0 | (h1 << 26))
  const w1 = ((h1 >>> 6) | (h2 << 20))
  const w2 = ((h2 >>> 12) | (h3 << 14))
  const w3 = ((h3 >>> 18) | (h4 << 8))
  // + pad
  let f: u64 = <u64>w0 + pad0; store<u32>(out, <u32>f)
  f = <u64>w1 + pad1 + (f >> 32); store<u32>(out, <u32>f, 4)
  f = <u64>w2 + pad2 + (f >> 32); store<u32>(out, <u32>f, 8)
  f = <u64>w3 + pad3 + (f >> 32); store<u32>(out, <u32>f, 12)
}

export function heapBase (): usize { return __heap_base }
