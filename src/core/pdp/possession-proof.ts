// A proof of possession: for each challenge, in order, [piece index, leaf index, leaf (32 bytes), path
// (32-byte siblings from the leaf up)] as DAG-CBOR. The verifier derives the challenges itself, so a proof
// for other leaves, another root, or a changed byte anywhere fails.
import * as dagCbor from '@ipld/dag-cbor'
import { deriveChallenges, MAX_CHALLENGES } from './challenges'
import { pieceRoot, type ProofSet } from './proof-set'
import { verifyMerklePath } from './merkle-path'
import { PossessionProofError } from './errors'

/** Checks one leaf's path to a root: core's verifyMerklePath, or the WASM module's. */
export type PathCheck = (root: Uint8Array, leaf: number, value: Uint8Array, path: Uint8Array[]) => boolean

export interface ChallengeProof { piece: number, leaf: number, value: Uint8Array, path: Uint8Array[] }

/** Deep enough for a 64 GiB piece (2^31 leaves) with room to spare; bounds what a decoder accepts. */
export const MAX_PATH_LENGTH = 40

export function encodePossessionProof (proofs: ChallengeProof[]): Uint8Array {
  return dagCbor.encode(proofs.map(p => [p.piece, p.leaf, p.value, p.path]))
}

export function decodePossessionProof (bytes: Uint8Array): ChallengeProof[] {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new PossessionProofError('MALFORMED', `proof is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length > MAX_CHALLENGES) throw new PossessionProofError('MALFORMED', 'proof is not a list of challenge proofs')
  return raw.map((e: unknown, i) => {
    const [piece, leaf, value, path] = Array.isArray(e) && e.length === 4 ? e as unknown[] : []
    const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
    if (!uint(piece) || !uint(leaf) || !(value instanceof Uint8Array) || value.length !== 32 || !Array.isArray(path) ||
        path.length > MAX_PATH_LENGTH || !path.every(s => s instanceof Uint8Array && s.length === 32)) {
      throw new PossessionProofError('MALFORMED', `challenge proof ${i} is not [piece, leaf, 32-byte leaf, [32-byte siblings]]`)
    }
    return { piece, leaf, value, path: path as Uint8Array[] }
  })
}

/** Throws PossessionProofError unless `proofBytes` answers the `count` challenges `seed` derives for `set`. */
export function verifyPossession (set: ProofSet, seed: Uint8Array, count: number, proofBytes: Uint8Array, check: PathCheck = verifyMerklePath): void {
  const challenges = deriveChallenges(seed, set, count) // checks count first: a huge one must not cost anything
  const proofs = decodePossessionProof(proofBytes)
  if (proofs.length !== challenges.length) throw new PossessionProofError('WRONG_CHALLENGE', `${proofs.length} answers for ${challenges.length} challenges`)
  challenges.forEach((c, i) => {
    const p = proofs[i]!
    if (p.piece !== c.piece || p.leaf !== c.leaf) throw new PossessionProofError('WRONG_CHALLENGE', `answer ${i} is for piece ${p.piece} leaf ${p.leaf}, challenged piece ${c.piece} leaf ${c.leaf}`)
    const piece = set.pieces[c.piece]!
    if (p.path.length !== Math.log2(piece.paddedBytes / 32)) throw new PossessionProofError('BAD_PATH', `answer ${i}: path of ${p.path.length} levels for a tree of ${Math.log2(piece.paddedBytes / 32)}`)
    if (!check(pieceRoot(piece), p.leaf, p.value, p.path)) throw new PossessionProofError('BAD_PATH', `answer ${i}: leaf and path do not hash to piece ${c.piece}'s root`)
  })
}
