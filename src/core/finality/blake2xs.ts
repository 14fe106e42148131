// BLAKE2Xs, the extendable-output BLAKE2s that go-f3's BDN coefficients are drawn from (kyber's
// sign/bdn reads them from golang.org/x/crypto's blake2s.NewXOF). @noble/hashes has BLAKE2s but
// not the XOF's parameter block (node offset, XOF length, inner length), so its BLAKE2s runs here
// with that block xor-ed into the initial state, as x/crypto's blake2x.go does, and no compression
// function is written twice. Checked against x/crypto's and the BLAKE2 team's test vectors.
import { _BLAKE2s } from '@noble/hashes/blake2.js'

/** XOF length parameter for "output length not known in advance" (x/crypto's magicUnknownOutputLength). */
export const BLAKE2XS_UNKNOWN_LENGTH = 0xffff

export interface Blake2xsOptions {
  /** The XOF length written into the parameter block: the output length, or 0xffff (the default) for unknown. */
  readonly xofLength?: number
  /** A MAC key of at most 32 bytes (the test vectors use one; go-f3 does not). */
  readonly key?: Uint8Array
}

/** BLAKE2s whose initial state is changed by `tweak` (an xor of parameter-block words), before any input. */
class Blake2sNode extends _BLAKE2s {
  constructor (dkLen: number, key: Uint8Array | undefined, tweak: (v: number[]) => number[]) {
    super({ dkLen, key })
    const v = tweak(this.get())
    this.set(v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!, v[6]!, v[7]!)
  }
}

/** `outputLength` bytes of BLAKE2Xs over `input`. */
export function blake2xs (input: Uint8Array, outputLength: number, opts: Blake2xsOptions = {}): Uint8Array {
  const xofLength = opts.xofLength ?? BLAKE2XS_UNKNOWN_LENGTH
  if (!Number.isInteger(xofLength) || xofLength < 1 || xofLength > 0xffff) throw new RangeError('BLAKE2Xs length must be 1..65535')
  if (xofLength !== BLAKE2XS_UNKNOWN_LENGTH && outputLength > xofLength) throw new RangeError(`BLAKE2Xs of length ${xofLength} cannot give ${outputLength} bytes`)
  // the root: BLAKE2s-256 (fanout 1, depth 1) with the XOF length in the parameter block's bytes 12..13
  const root = new Blake2sNode(32, opts.key, v => [v[0]!, v[1]!, v[2]!, v[3]! ^ xofLength, ...v.slice(4)])
  root.update(input)
  const h0 = root.digest()
  const out = new Uint8Array(outputLength)
  const remainingTotal = xofLength === BLAKE2XS_UNKNOWN_LENGTH ? Infinity : xofLength
  for (let node = 0, at = 0; at < outputLength; node++, at += 32) {
    // each 32-byte block: BLAKE2s of the root with fanout 0, depth 0, leaf length 32, node offset `node`,
    // inner length 32, and digest length 32 (or what is left of a known length)
    const digestLength = Math.min(32, remainingTotal - at)
    const block = new Blake2sNode(digestLength, undefined, v => [
      v[0]! ^ (0x01 << 16) ^ (0x01 << 24), // undo noble's fanout 1 and depth 1: BLAKE2X's leaves have 0
      v[1]! ^ 32,
      v[2]! ^ node,
      v[3]! ^ xofLength ^ (32 << 24),
      ...v.slice(4)
    ])
    block.update(h0)
    const bytes = block.digest()
    out.set(bytes.subarray(0, Math.min(digestLength, outputLength - at)), at)
  }
  return out
}
