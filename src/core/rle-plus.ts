// Filecoin's RLE+ bitfield (the spec's "RLE+ Bitfield", go-bitfield's rlepluslazy): the form in which
// F3 certificates name their signers and miner state names sectors. Bits are read least significant
// first; a 2-bit version (0), the first run's value, then run lengths: `1` for one, `01`+4 bits for
// 2..15, `00`+LEB128 for 16 and more. Decoding is as strict as go-bitfield's, so one set of indexes
// has one encoding: no trailing zero byte, no empty varint group, no run over 2^64.

export class RlePlusError extends Error {
  static override name = 'RlePlusError'
  override name = 'RlePlusError'
}

/** Largest index decoded: a certificate's signers index a power table, never near this. */
const MAX_INDEX = 2 ** 40

/** The set indexes of an RLE+ bitfield, ascending. `limit` bounds how many are returned. */
export function decodeRlePlus (bytes: Uint8Array, limit = 1 << 20): number[] {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0) throw new RlePlusError('RLE+ bitfield is not minimally encoded (trailing zero byte)')
  let bit = 0
  const totalBits = bytes.length * 8
  const read = (n: number): number => {
    let v = 0
    for (let i = 0; i < n; i++, bit++) {
      if (bit < totalBits && (bytes[bit >> 3]! >> (bit & 7)) & 1) v |= 1 << i
    }
    return v
  }
  if (bytes.length === 0) return []
  if (read(2) !== 0) throw new RlePlusError('RLE+ bitfield has an unknown version')
  let value = read(1) === 1
  const out: number[] = []
  let index = 0
  for (;;) {
    if (bit >= totalBits) break
    let run: number
    if (read(1) === 1) run = 1
    else if (read(1) === 1) run = read(4)
    else run = readVarint(read)
    if (run === 0) break
    if (value) {
      if (out.length + run > limit) throw new RlePlusError(`RLE+ bitfield sets more than ${limit} bits`)
      for (let i = 0; i < run; i++) out.push(index + i)
    }
    index += run
    if (index > MAX_INDEX) throw new RlePlusError('RLE+ bitfield runs past the largest index taken')
    value = !value
  }
  return out
}

function readVarint (read: (n: number) => number): number {
  let x = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    const b = read(8)
    if (b < 0x80) {
      if (b === 0 && i > 0) throw new RlePlusError('RLE+ bitfield has a varint with an empty last group')
      return x + b * scale
    }
    x += (b & 0x7f) * scale
    scale *= 128
    if (x > MAX_INDEX) throw new RlePlusError('RLE+ bitfield runs past the largest index taken')
  }
  throw new RlePlusError('RLE+ bitfield has a run over 64 bits')
}

/** RLE+ of a set of indexes (any order, duplicates ignored), as go-bitfield writes it. */
export function encodeRlePlus (indexes: Iterable<number>): Uint8Array {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b)
  for (const i of sorted) if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`bitfield index ${i} is not a non-negative integer`)
  if (sorted.length === 0) return new Uint8Array(0)
  const bits: number[] = []
  const put = (v: number, n: number): void => { for (let i = 0; i < n; i++) bits.push((v >> i) & 1) }
  const putRun = (len: number): void => {
    if (len === 1) put(1, 1)
    else if (len < 16) { put(2, 2); put(len, 4) } else {
      put(0, 2)
      let v = len
      while (v >= 0x80) { put((v % 128) | 0x80, 8); v = Math.floor(v / 128) }
      put(v, 8)
    }
  }
  put(0, 2)
  // runs alternate from the first one's value: ones when the set holds 0, else zeros up to its first index
  const runs: number[] = []
  let at = 0
  for (let i = 0; i < sorted.length;) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    if (sorted[i]! > at) runs.push(sorted[i]! - at)
    runs.push(j - i + 1)
    at = sorted[j]! + 1
    i = j + 1
  }
  put(sorted[0] === 0 ? 1 : 0, 1)
  for (const r of runs) putRun(r)
  const out = new Uint8Array(Math.ceil(bits.length / 8))
  bits.forEach((b, i) => { if (b) out[i >> 3]! |= 1 << (i & 7) })
  let end = out.length
  while (end > 0 && out[end - 1] === 0) end--
  return out.subarray(0, end)
}
