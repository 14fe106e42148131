// Splitting one piece's tree across workers: the payload is cut into segments of 127·2^15 bytes, whose
// FR32 padding is exactly 2^17 leaves, so each segment is one aligned subtree. Workers return segment
// roots; the last, short segment's root is lifted to the segment height with zero subtrees; the roots are
// then combined, zero-padded up to a power of two, into the piece root.
import { FR32_IN_BYTES } from './fr32'
import { zeroComm } from './zero-comm'
import { nobleNodeHasher, truncatedNode, type NodeHasher } from './node-hash'
import { MIN_PIECE_PAYLOAD_BYTES, PieceTooSmallError, PieceTooLargeError, MAX_PIECE_PAYLOAD_BYTES, type PieceDigest } from './piece-hasher'

export const SEGMENT_HEIGHT = 17
/** 4,161,536 bytes: 2^15 FR32 chunks, 2^17 leaves. */
export const SEGMENT_PAYLOAD_BYTES = FR32_IN_BYTES * 2 ** (SEGMENT_HEIGHT - 2)


/**
 * Combines segment roots into the piece digest. `roots[i]` is segment i's root at SEGMENT_HEIGHT (lift a
 * short last segment first); used only when the payload spans more than one segment's worth of leaves.
 */
export function combineSegments (roots: Uint8Array[], payloadBytes: number, hasher: NodeHasher = nobleNodeHasher): PieceDigest {
  if (payloadBytes < MIN_PIECE_PAYLOAD_BYTES) throw new PieceTooSmallError(payloadBytes)
  if (payloadBytes > MAX_PIECE_PAYLOAD_BYTES) throw new PieceTooLargeError()
  if (roots.length !== Math.ceil(payloadBytes / SEGMENT_PAYLOAD_BYTES)) throw new RangeError(`${roots.length} segment roots for ${payloadBytes} payload bytes`)
  let level = roots
  let height = SEGMENT_HEIGHT
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) next.push(truncatedNode(level[i]!, level[i + 1] ?? zeroComm(height, hasher), hasher))
    level = next
    height++
  }
  const paddedBytes = 32 * 2 ** height
  return { root: level[0]!, height, padding: paddedBytes / 128 * 127 - payloadBytes, payloadBytes, paddedBytes }
}
