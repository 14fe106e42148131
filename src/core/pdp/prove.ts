// Making a proof of possession: derives the challenges, then streams each challenged piece's payload once
// through the piece hasher, keeping only the challenged leaves' paths. Where the bytes come from (a file,
// memory) is the caller's; a payload that no longer hashes to its piece's root is reported, never proved.
import { PieceHasher, type NodeHasher } from '../piece'
import { deriveChallenges } from './challenges'
import { encodePossessionProof, type ChallengeProof } from './possession-proof'
import { pieceRoot, type ProofSet } from './proof-set'
import { PossessionProofError } from './errors'

export type PayloadSource = (piece: number) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export async function provePossession (set: ProofSet, payload: PayloadSource, seed: Uint8Array, count: number, hasher?: NodeHasher): Promise<Uint8Array> {
  const challenges = deriveChallenges(seed, set, count)
  const answers = new Map<string, ChallengeProof>()
  for (const piece of new Set(challenges.map(c => c.piece))) {
    const h = new PieceHasher(hasher, challenges.filter(c => c.piece === piece).map(c => c.leaf))
    for await (const chunk of payload(piece)) h.write(chunk)
    const d = h.digest()
    const root = pieceRoot(set.pieces[piece]!)
    if (d.paddedBytes !== set.pieces[piece]!.paddedBytes || !d.root.every((b, i) => b === root[i])) {
      throw new PossessionProofError('BAD_PATH', `piece ${piece}'s payload no longer hashes to its root`)
    }
    for (const p of h.paths()) answers.set(`${piece}/${p.leaf}`, { piece, leaf: p.leaf, value: p.value, path: p.path })
  }
  return encodePossessionProof(challenges.map(c => answers.get(`${c.piece}/${c.leaf}`)!))
}
