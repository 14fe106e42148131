// Challenge derivation: from a 32-byte seed (the beacon's, in the chain), challenge i is
// sha256(seed ‖ u64be(i)) read as a big-endian integer, mod the set's total leaf count, then located in
// the piece holding that leaf. Every leaf of every piece is equally likely, so pieces are weighted by size.
import { sha256 } from '@noble/hashes/sha2.js'
import { pieceRoot, type ProofSet } from './proof-set'
import { PossessionProofError } from './errors'

/** More challenges than any proving period asks for; bounds the work a verifier can be made to do. */
export const MAX_CHALLENGES = 1000

export interface Challenge { piece: number, leaf: number }

export function deriveChallenges (seed: Uint8Array, set: ProofSet, count: number): Challenge[] {
  if (seed.length !== 32) throw new RangeError('a challenge seed is 32 bytes')
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CHALLENGES) throw new PossessionProofError('MALFORMED', `challenge count must be 1..${MAX_CHALLENGES}, got ${count}`)
  if (set.pieces.length === 0) throw new PossessionProofError('EMPTY_SET', 'a proof set without pieces cannot be challenged')
  const leaves = set.pieces.map(p => { pieceRoot(p); return BigInt(p.paddedBytes / 32) })
  const total = leaves.reduce((a, b) => a + b, 0n)
  const input = new Uint8Array(40)
  input.set(seed)
  const out: Challenge[] = []
  for (let i = 0; i < count; i++) {
    new DataView(input.buffer).setBigUint64(32, BigInt(i))
    let x = 0n
    for (const b of sha256(input)) x = (x << 8n) | BigInt(b)
    let at = x % total
    let piece = 0
    while (at >= leaves[piece]!) { at -= leaves[piece]!; piece++ }
    out.push({ piece, leaf: Number(at) })
  }
  return out
}
