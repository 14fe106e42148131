// Proving possession from a piece's cached segment roots: only the challenged leaves' segments (2^17 leaves,
// ~4 MiB of payload each) are read and hashed, and the path above a segment comes from the cached roots, as
// rust-fil-proofs keeps tree_r_last in a sector's cache directory with its lowest rows discarded
// (StoreConfig rows_to_discard), re-deriving those from the replica when it proves: the same trade, at 2^17 leaves.
// The proof bytes are the same as provePossession's (one pass over the whole payload) for the same set and seed.
import {
  PieceHasher, SEGMENT_HEIGHT, SEGMENT_PAYLOAD_BYTES, nobleNodeHasher, truncatedNode, zeroComm, type NodeHasher
} from '../piece'
import { deriveChallenges, type Challenge } from './challenges'
import { encodePossessionProof, type ChallengeProof } from './possession-proof'
import { pieceRoot, type ProofSet } from './proof-set'
import { PossessionProofError } from './errors'
import { bytesEqual } from '../address'

/** One piece's payload as the segment prover reads it. */
export interface SegmentedPayload {
  /** The payload's length: which segments exist and how short the last one is. */
  payloadBytes: number
  /**
   * Segment i's root at SEGMENT_HEIGHT (a short last segment lifted with zero subtrees, as combineSegments
   * takes them). Needed only for a payload of more than one segment; a smaller one is proved by a full pass.
   */
  segmentRoots?: Uint8Array[]
  /** Segment i's payload bytes: SEGMENT_PAYLOAD_BYTES, or what is left for the last one. */
  readSegment: (segment: number) => Promise<Uint8Array>
}

export type SegmentedPayloadSource = (piece: number) => SegmentedPayload | Promise<SegmentedPayload>

/**
 * The cached segment roots do not make the piece root the proof set names (or do not fit the payload's
 * length): the cache is wrong, not necessarily the bytes. Rebuild it from the payload and prove again.
 */
export class SegmentRootsMismatchError extends Error {
  static override name = 'SegmentRootsMismatchError'
  override name = 'SegmentRootsMismatchError'
  constructor (readonly piece: number, readonly pieceCid: string, message: string) { super(`piece ${piece} (${pieceCid}): ${message}`) }
}

const LEAVES_PER_SEGMENT = 2 ** SEGMENT_HEIGHT

/**
 * The levels of the tree above the segments, as combineSegments builds them: levels[0] is the segment roots,
 * each next level pairs the one below, a missing right child being the zero subtree of that height.
 */
export function segmentTreeLevels (roots: Uint8Array[], hasher: NodeHasher = nobleNodeHasher): Uint8Array[][] {
  const levels = [roots]
  let height = SEGMENT_HEIGHT
  for (let level = roots; level.length > 1; height++) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) next.push(truncatedNode(level[i]!, level[i + 1] ?? zeroComm(height, hasher), hasher))
    levels.push(next)
    level = next
  }
  return levels
}


/**
 * Proves the `count` challenges `seed` derives for `set`, reading only the challenged segments. A segment
 * whose bytes no longer hash to its cached root is PossessionProofError BAD_PATH (the bytes changed); cached
 * roots that do not combine to the piece root are SegmentRootsMismatchError (rebuild the cache).
 */
export async function provePossessionFromSegments (set: ProofSet, payload: SegmentedPayloadSource, seed: Uint8Array, count: number, hasher: NodeHasher = nobleNodeHasher): Promise<Uint8Array> {
  return await proveChallengesFromSegments(set, payload, deriveChallenges(seed, set, count), hasher)
}

/**
 * The same proof for challenges the caller names instead of a seed's (a spot audit's leaves, drawn by the
 * client): each must name a piece of the set and a leaf inside it, or PossessionProofError WRONG_CHALLENGE.
 */
export async function proveChallengesFromSegments (set: ProofSet, payload: SegmentedPayloadSource, challenges: Challenge[], hasher: NodeHasher = nobleNodeHasher): Promise<Uint8Array> {
  for (const c of challenges) {
    const p = set.pieces[c.piece]
    if (p === undefined || !Number.isSafeInteger(c.leaf) || c.leaf < 0 || c.leaf >= p.paddedBytes / 32) {
      throw new PossessionProofError('WRONG_CHALLENGE', `piece ${c.piece} leaf ${c.leaf} is not in the proof set`)
    }
  }
  const answers = new Map<string, ChallengeProof>()
  for (const piece of new Set(challenges.map(c => c.piece))) {
    const info = set.pieces[piece]!
    const root = pieceRoot(info)
    const leaves = [...new Set(challenges.filter(c => c.piece === piece).map(c => c.leaf))]
    const source = await payload(piece)
    const proofs = source.payloadBytes <= SEGMENT_PAYLOAD_BYTES
      ? await proveWholePiece(piece, info.paddedBytes, root, source, leaves, hasher)
      : await proveFromSegments(piece, String(info.pieceCid), info.paddedBytes, root, source, leaves, hasher)
    for (const p of proofs) answers.set(`${piece}/${p.leaf}`, { piece, ...p })
  }
  return encodePossessionProof(challenges.map(c => answers.get(`${c.piece}/${c.leaf}`)!))
}

type LeafProof = Omit<ChallengeProof, 'piece'>

/** A payload of one segment or less: one pass over it is no more work than one segment, and needs no cache. */
async function proveWholePiece (piece: number, paddedBytes: number, root: Uint8Array, source: SegmentedPayload, leaves: number[], hasher: NodeHasher): Promise<LeafProof[]> {
  const bytes = await source.readSegment(0)
  if (bytes.length !== source.payloadBytes) throw new PossessionProofError('BAD_PATH', `piece ${piece}: ${bytes.length} payload bytes where ${source.payloadBytes} were stored`)
  const h = new PieceHasher(hasher, leaves)
  h.write(bytes)
  const d = h.digest()
  if (d.paddedBytes !== paddedBytes || !bytesEqual(d.root, root)) {
    throw new PossessionProofError('BAD_PATH', `piece ${piece}'s payload no longer hashes to its root`)
  }
  return h.paths()
}

async function proveFromSegments (piece: number, pieceCid: string, paddedBytes: number, root: Uint8Array, source: SegmentedPayload, leaves: number[], hasher: NodeHasher): Promise<LeafProof[]> {
  const roots = source.segmentRoots
  const segments = Math.ceil(source.payloadBytes / SEGMENT_PAYLOAD_BYTES)
  if (roots === undefined) throw new SegmentRootsMismatchError(piece, pieceCid, `no segment roots for a payload of ${segments} segments`)
  if (roots.length !== segments || roots.some(r => r.length !== 32)) {
    throw new SegmentRootsMismatchError(piece, pieceCid, `${roots.length} segment roots for ${source.payloadBytes} payload bytes (${segments} segments of 32 bytes each)`)
  }
  // the cache is checked whole before any of it goes into a path: a wrong root would make a proof the chain refuses
  const levels = segmentTreeLevels(roots, hasher)
  const top = levels[levels.length - 1]![0]!
  const height = SEGMENT_HEIGHT + levels.length - 1
  if (32 * 2 ** height !== paddedBytes || !bytesEqual(top, root)) {
    throw new SegmentRootsMismatchError(piece, pieceCid, `the cached segment roots combine to another piece (${32 * 2 ** height} padded bytes), not the one the proof set names`)
  }

  const out: LeafProof[] = []
  const bySegment = new Map<number, number[]>()
  for (const leaf of leaves) {
    const s = Math.floor(leaf / LEAVES_PER_SEGMENT)
    bySegment.set(s, [...bySegment.get(s) ?? [], leaf])
  }
  for (const [s, inSegment] of bySegment) {
    const local = inSegment.map(l => l - s * LEAVES_PER_SEGMENT)
    let below: Array<{ value: Uint8Array, path: Uint8Array[] }>
    if (s >= segments) {
      // past the payload: the padding up to a power of two is zero leaves, whose subtrees are known
      const zeros = Array.from({ length: SEGMENT_HEIGHT }, (_, h) => zeroComm(h, hasher))
      below = local.map(() => ({ value: new Uint8Array(32), path: zeros }))
    } else {
      const want = s === segments - 1 ? source.payloadBytes - s * SEGMENT_PAYLOAD_BYTES : SEGMENT_PAYLOAD_BYTES
      let bytes = await source.readSegment(s)
      if (bytes.length !== want) throw new PossessionProofError('BAD_PATH', `piece ${piece} (${pieceCid}) segment ${s}: ${bytes.length} bytes where ${want} were stored`)
      if (bytes.length < SEGMENT_PAYLOAD_BYTES) {
        // the short last segment: zero payload bytes FR32-pad to zero leaves, exactly the zeros
        // combineSegments lifts it with, so the segment hashes as a whole subtree of SEGMENT_HEIGHT
        const whole = new Uint8Array(SEGMENT_PAYLOAD_BYTES)
        whole.set(bytes)
        bytes = whole
      }
      const h = new PieceHasher(hasher, local)
      h.write(bytes)
      if (!bytesEqual(h.digest().root, roots[s]!)) {
        throw new PossessionProofError('BAD_PATH', `piece ${piece} (${pieceCid}) segment ${s}: its bytes no longer hash to the root recorded when the piece was stored`)
      }
      below = h.paths()
    }
    for (const [i, leaf] of inSegment.entries()) {
      const path = [...below[i]!.path]
      for (let k = 0; k < levels.length - 1; k++) {
        const index = Math.floor(s / 2 ** k)
        const sibling = index % 2 === 0 ? index + 1 : index - 1
        path.push(levels[k]![sibling] ?? zeroComm(SEGMENT_HEIGHT + k, hasher))
      }
      out.push({ leaf, value: below[i]!.value, path })
    }
  }
  return out
}
