// Lying providers on audits (issue 16 part 2): the tab's audit service asks a provider to prove random leaves of
// a deal's piece; a provider that lost the data can only lie. Each try audits a liar (which must never pass) and an
// honest provider holding the piece (which must pass: the harness tells truth from lies). A pass for a liar is an
// accepted lie; an honest provider not passing means the tab would have wrongly counted a fault.
import { setMaxListeners } from 'node:events'
import type { Stream } from '@libp2p/interface'
import {
  encodeAuditReply, encodePossessionProof, pieceDigest, pieceCidV1, PieceHasher, verifyAuditProof, decodeAuditRequest, AUDIT_PROTOCOL,
  type AuditRequest
} from '../../src/core'
import { createCofferLibp2p, serveAudits, type CofferLibp2p } from '../../src/net'
import { readAll } from '../../src/net/stream-io'
import { createAuditService, type AuditTarget } from '../../src/light/audit-service'
import { openDealStore } from '../../src/light/deal-store'
import { watchCrashes } from './harness'
import type { Row } from './table'

export const AUDIT_LIES = [
  'proofs of other leaves', 'proofs from another payload', 'an old nonce (a replayed answer)', 'a leaf value changed',
  'a path cut short', 'junk bytes', 'an oversized answer', 'never answers'
] as const
export type AuditLie = typeof AUDIT_LIES[number]

function proofFor (bytes: Uint8Array, leaves: number[]): Uint8Array {
  const h = new PieceHasher(undefined, leaves)
  h.write(bytes)
  h.digest()
  const paths = new Map(h.paths().map(p => [p.leaf, p]))
  return encodePossessionProof(leaves.map(l => ({ piece: 0, ...paths.get(l)! })))
}

async function provider (payload: Uint8Array, lie: AuditLie | null, stop: AbortSignal): Promise<CofferLibp2p> {
  const node = await createCofferLibp2p({ role: 'client', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const other = payload.map(b => b ^ 0x33)
  /** The proof bytes a provider answers (serveAudits wraps them in a reply with the request's nonce). */
  const proofOf = (req: AuditRequest): Uint8Array => {
    if (lie === 'proofs of other leaves') return proofFor(payload, req.leaves.map(l => l + 1))
    if (lie === 'proofs from another payload') return proofFor(other, req.leaves)
    const h = new PieceHasher(undefined, req.leaves)
    h.write(payload)
    h.digest()
    const paths = new Map(h.paths().map(p => [p.leaf, p]))
    const proofs = req.leaves.map(l => ({ piece: 0, ...paths.get(l)! }))
    if (lie === 'a leaf value changed') proofs[0] = { ...proofs[0]!, value: proofs[0]!.value.map((b, i) => i === 0 ? b ^ 1 : b) }
    if (lie === 'a path cut short') proofs[0] = { ...proofs[0]!, path: proofs[0]!.path.slice(0, -1) }
    return encodePossessionProof(proofs)
  }
  if (lie === 'junk bytes' || lie === 'an oversized answer' || lie === 'never answers' || lie === 'an old nonce (a replayed answer)') {
    await node.handle(AUDIT_PROTOCOL, async (stream: Stream) => {
      try {
        const req = decodeAuditRequest(await readAll(stream, 4096))
        const send = async (b: Uint8Array): Promise<void> => { if (!stream.send(b)) await stream.onDrain() }
        if (lie === 'junk bytes') await send(Uint8Array.from({ length: 2000 }, (_, i) => (i * 131) & 0xff))
        else if (lie === 'an oversized answer') for (let i = 0; i < 8; i++) await send(new Uint8Array(64 * 1024).fill(0x82))
        else if (lie === 'an old nonce (a replayed answer)') await send(encodeAuditReply({ kind: 'proof', nonce: new Uint8Array(req.nonce.length).fill(1), proof: proofOf(req) }))
        else await new Promise(resolve => stop.addEventListener('abort', resolve, { once: true }))
        await stream.close()
      } catch { stream.abort(new Error('liar done')) }
    })
  } else {
    // the honest provider is audited once a try, by the one client, hundreds of times in the long form: its per-peer
    // audit rate (AUDIT_RATE, 20 then one per 3 s, against floods) would refuse it BUSY, which is not what is measured
    await serveAudits(node, async (req) => proofOf(req), { rate: { burst: 1_000_000, refillMs: 1 } })
  }
  return node
}

export async function auditLiars (opts: { repeats: number, lies?: AuditLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  const payload = new Uint8Array(300_000).map((_, i) => (i * 2654435761) >>> 24)
  const digest = pieceDigest(payload)
  const pieceCid = pieceCidV1(digest.root)
  const stop = new AbortController()
  setMaxListeners(Infinity, stop.signal)
  const client = await createCofferLibp2p({ role: 'client', allowLoopbackDials: true })
  const honest = await provider(payload, null, stop.signal)
  const store = await openDealStore(`reliability-audits-${Date.now()}`)
  let target: AuditTarget | null = null
  const targetOf = (node: CofferLibp2p, provider: string): AuditTarget =>
    ({ dealId: 1, provider, pieceCid, paddedBytes: digest.paddedBytes, payloadBytes: payload.length, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()) })
  const audits = await createAuditService({
    libp2p: client, store, target: () => target, liveDeals: () => [], head: () => 100, changed: () => {},
    verify: async (cid, padded, leaves, proof) => { verifyAuditProof(cid, padded, leaves, proof) },
    // a silent provider is given up after 5 s here (what is checked is that it is)
    deadlineMs: 5000
  })
  let tries = 0
  let accepted = 0
  let wronged = 0
  try {
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? AUDIT_LIES) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await provider(payload, lie, stop.signal)
        try {
          target = targetOf(liar, 't01001')
          const l = await audits.auditNow(1)
          if (l.outcome === 'passed') { accepted++; failures.push(`${lie}: the audit passed`) }
          target = targetOf(honest, 't01002')
          const h = await audits.auditNow(1)
          if (h.outcome !== 'passed') { wronged++; failures.push(`${lie}: the honest provider's audit ${h.outcome} (${h.reason ?? ''} ${h.message ?? ''})`) }
          console.log(`  ${lie}: ${failures.length === before ? 'caught' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${l.outcome} ${l.reason ?? ''})`)
        } finally {
          await liar.stop()
        }
      }
    }
  } finally {
    stop.abort()
    audits.stop()
    store.close()
    await client.stop()
    await honest.stop()
    crashes.stop()
  }
  // an honest provider failed is a fault counted against it wrongly: the user would drop good storage (data lost)
  return { scenario: 'liars: audits (proofs of possession on demand)', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: wronged, ms: performance.now() - started, failures }
}

