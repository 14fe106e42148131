// Proves possession from the bytes on disk: derives the challenges, then streams each challenged piece's
// payload once through the piece hasher, keeping only the challenged leaves' paths. A file that no longer
// hashes to its piece's root is reported, never proved.
import { createReadStream } from 'node:fs'
import {
  PieceHasher, deriveChallenges, encodePossessionProof, pieceRoot, PossessionProofError,
  type ProofSet, type ChallengeProof, type NodeHasher
} from '../core'

export async function provePossession (set: ProofSet, payloadFiles: string[], seed: Uint8Array, count: number, hasher?: NodeHasher): Promise<Uint8Array> {
  if (payloadFiles.length !== set.pieces.length) throw new RangeError(`${payloadFiles.length} files for ${set.pieces.length} pieces`)
  const challenges = deriveChallenges(seed, set, count)
  const answers = new Map<string, ChallengeProof>()
  for (const piece of new Set(challenges.map(c => c.piece))) {
    const leaves = challenges.filter(c => c.piece === piece).map(c => c.leaf)
    const h = new PieceHasher(hasher, leaves)
    for await (const chunk of createReadStream(payloadFiles[piece]!, { highWaterMark: 1 << 20 })) {
      const b = chunk as Buffer
      h.write(new Uint8Array(b.buffer, b.byteOffset, b.length))
    }
    const d = h.digest()
    const root = pieceRoot(set.pieces[piece]!)
    if (d.paddedBytes !== set.pieces[piece]!.paddedBytes || !d.root.every((b, i) => b === root[i])) {
      throw new PossessionProofError('BAD_PATH', `${payloadFiles[piece]} no longer hashes to piece ${piece}'s root`)
    }
    for (const p of h.paths()) answers.set(`${piece}/${p.leaf}`, { piece, leaf: p.leaf, value: p.value, path: p.path })
  }
  return encodePossessionProof(challenges.map(c => answers.get(`${c.piece}/${c.leaf}`)!))
}
