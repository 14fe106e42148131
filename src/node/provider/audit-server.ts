// The provider's side of `/coffer/audit/1.0.0`: answers a client's spot audit of one of its deals with a proof of
// possession for exactly the leaves asked, made as its period proofs are (provePossessionFromFiles: the challenged
// segments read and hashed, the rest of each path from the segment roots kept beside the file).
import type { PeerId } from '@libp2p/interface'
import { AuditRejectedError, CID, type AuditRequest, type NodeHasher } from '../../core'
import { serveAudits, type ServeAuditsOptions } from '../../net'
import type { Libp2p } from '@libp2p/interface'
import { proveChallengesFromFiles } from '../prove-possession'
import type { ProviderStore } from './provider-store'

export interface AuditServerInit {
  store: ProviderStore
  /** Hashes the challenged segments; default: the one the prover uses on this thread. */
  hasher?: NodeHasher
  log?: (line: string) => void
}

/**
 * Proof bytes for `req`, or AuditRejectedError: NOT_FOUND (no such deal here, or not for that piece), RANGE (a leaf
 * outside the piece), LOST (the deal's bytes no longer prove it: changed on disk, or gone). A provider whose bytes
 * changed cannot answer correctly: the prover refuses a segment that no longer hashes to its kept root, and a cache
 * rebuilt from changed bytes no longer makes the deal's piece CID.
 */
/** `signal`: the stream's deadline; the proof stops between segments once it fires (and the audit's slot is freed). */
export async function answerAudit (init: AuditServerInit, req: AuditRequest, peer?: PeerId, signal?: AbortSignal): Promise<Uint8Array> {
  const deal = init.store.all().find(d => d.dealId === req.dealId)
  // the deal's own piece only: a client asking about a deal with another piece CID learns nothing about either
  if (deal === undefined || !CID.parse(deal.pieceCid).equals(req.pieceCid)) {
    throw new AuditRejectedError('NOT_FOUND', `this provider stores no deal ${req.dealId} for piece ${String(req.pieceCid)}`)
  }
  const leaves = deal.paddedBytes / 32
  const outside = req.leaves.find(l => l >= leaves)
  if (outside !== undefined) throw new AuditRejectedError('RANGE', `leaf ${outside} is outside the piece's ${leaves} leaves`)
  const set = { pieces: [{ pieceCid: req.pieceCid, paddedBytes: deal.paddedBytes }] }
  try {
    return await proveChallengesFromFiles(set, [{ file: init.store.absolute(deal.file), payloadBytes: deal.payloadBytes }], req.leaves.map(leaf => ({ piece: 0, leaf })), {
      ...(init.hasher === undefined ? {} : { hasher: init.hasher }),
      ...(signal === undefined ? {} : { signal }),
      log: (l) => { init.log?.(`audit of deal ${deal.dealId}: ${l}`) }
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.name === 'PossessionProofError' || e.code === 'ENOENT') {
      init.log?.(`audit of deal ${deal.dealId}${peer === undefined ? '' : ` by ${peer.toString()}`}: cannot prove: ${e.message}`)
      throw new AuditRejectedError('LOST', `deal ${deal.dealId}'s stored bytes no longer prove piece ${deal.pieceCid}`)
    }
    throw err
  }
}

/** Serves audits of `init.store`'s deals on `node`. */
export async function serveProviderAudits (node: Libp2p, init: AuditServerInit, opts: ServeAuditsOptions = {}): Promise<void> {
  await serveAudits(node, async (req, peer, signal) => await answerAudit(init, req, peer, signal), { log: init.log, ...opts })
}
