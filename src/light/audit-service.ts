// Spot audits as the tab runs them: leaves of a deal's payload drawn with the tab's own randomness, asked of the
// deal's provider over `/coffer/audit/1.0.0`, every returned path checked in the WASM verifier against the piece CID
// of the tab's verified deal record; outcomes kept in IndexedDB, on demand (Audit now) and on a schedule.
import type { Dialer } from '../net'
import { multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_AUDIT_LEAVES, AUDIT_NONCE_BYTES, payloadLeafCount, drawAuditLeaves, auditRandomBytes, checkAuditNonce,
  type AuditRequest, type CID, type Epoch
} from '../core'
import { requestAudit } from '../net'
import {
  AUDIT_SCHEDULE_SETTING, DEFAULT_AUDIT_EVERY_MINUTES, type AuditRecord, type AuditReason
} from './audit-store'
import type { DealStore } from './deal-store'

/**
 * How long an audit may take from dial to the last byte of the answer. Not planned from throughput: the answer is
 * ~20 KiB, but the provider reads and hashes up to one 4 MiB segment per leaf from a disk it shares with proving
 * and retrieval, and a tab may be on a slow or loaded link; a minute is far beyond what an honest provider needs
 * on any of those and still tells a user promptly that one did not answer.
 */
export const AUDIT_DEADLINE_MS = 60_000
/** How often the schedule looks for deals due an audit; audits run one at a time, so a provider sees one at once. */
const SCHEDULE_TICK_MS = 30_000

/** What the tab knows of a deal it may audit, all from its own verified records (never the provider's word). */
export interface AuditTarget {
  dealId: number
  provider: string
  pieceCid: CID
  paddedBytes: number
  /** The CAR's length as this tab packed it: audits draw leaves only where the payload is. */
  payloadBytes: number
  peerId: string
  addrs: string[]
}

export interface AuditServiceInit {
  libp2p: Dialer
  store: Pick<DealStore, 'audits' | 'putAudit' | 'setting' | 'putSetting'>
  /** The deal's target, or null when it is not a live deal this tab follows and has verified. */
  target: (dealId: number) => AuditTarget | null
  /** Deals a schedule audits (live ones). */
  liveDeals: () => number[]
  /** The tab's verified head. */
  head: () => Epoch
  /** The WASM verifier (the piece pool's verifyAudit): rejects with AuditFailedError. */
  verify: (pieceCid: CID, paddedBytes: number, leaves: number[], proof: Uint8Array) => Promise<void>
  /** Random bytes; default crypto.getRandomValues. A test passes chosen bytes to draw chosen leaves. */
  random?: (n: number) => Uint8Array
  /** Wall clock (ms since 1970) for records; default Date.now. */
  nowMs?: () => number
  /** Monotonic clock for durations; default performance.now. */
  clockMs?: () => number
  deadlineMs?: number
  leaves?: number
  /** How often the schedule looks for due deals; SCHEDULE_TICK_MS unless a test wants it sooner. */
  scheduleTickMs?: number
  changed: () => void
}

export interface AuditService {
  /** Audits the deal now; resolves with what was recorded (whatever the outcome). */
  auditNow: (dealId: number, opts?: { trigger?: AuditRecord['trigger'], signal?: AbortSignal }) => Promise<AuditRecord>
  /** The deal's audits, oldest first. */
  auditsOf: (dealId: number) => AuditRecord[]
  /** Failed and unanswered audits per provider (t0…), as provider choice counts them (see failuresOf below). */
  failuresOf: () => Map<string, number>
  everyMinutes: () => number
  setEveryMinutes: (minutes: number) => Promise<void>
  stop: () => void
}

/** The deal cannot be audited from here: it is not a live deal this tab stored and follows through verified records. */
export class AuditNotPossibleError extends Error {
  static override name = 'AuditNotPossibleError'
  override name = 'AuditNotPossibleError'
  constructor (readonly dealId: number, message: string) { super(message) }
}

const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n))

export async function createAuditService (init: AuditServiceInit): Promise<AuditService> {
  const random = init.random ?? randomBytes
  const nowMs = init.nowMs ?? (() => Date.now())
  const clock = init.clockMs ?? (() => performance.now())
  const deadlineMs = init.deadlineMs ?? AUDIT_DEADLINE_MS
  const count = init.leaves ?? DEFAULT_AUDIT_LEAVES
  const byDeal = new Map<number, AuditRecord[]>()
  for (const a of (await init.store.audits()).sort((x, y) => x.startedAtMs - y.startedAtMs)) byDeal.set(a.dealId, [...byDeal.get(a.dealId) ?? [], a])
  const stored = await init.store.setting(AUDIT_SCHEDULE_SETTING)
  let every = typeof stored === 'number' ? stored : DEFAULT_AUDIT_EVERY_MINUTES
  const running = new Map<number, Promise<AuditRecord>>()

  const run = async (t: AuditTarget, trigger: AuditRecord['trigger'], signal?: AbortSignal): Promise<AuditRecord> => {
    const leaves = drawAuditLeaves(random(auditRandomBytes(count)), payloadLeafCount(t.payloadBytes, t.paddedBytes), count)
    const req: AuditRequest = { dealId: t.dealId, pieceCid: t.pieceCid, leaves, nonce: random(AUDIT_NONCE_BYTES) }
    const startedAtMs = nowMs()
    const base = { key: `${t.dealId}/${startedAtMs}`, dealId: t.dealId, provider: t.provider, pieceCid: t.pieceCid.toString(), trigger, epoch: init.head(), startedAtMs, leaves }
    const outcome = (o: AuditRecord['outcome'], reason?: AuditReason, message?: string, figures: { roundTripMs?: number, verifyMs?: number } = {}): AuditRecord =>
      ({ ...base, outcome: o, ...(reason === undefined ? {} : { reason }), ...(message === undefined ? {} : { message: message.slice(0, 300) }), ...figures })
    const addrs = t.addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${t.peerId}`))
    const sent = clock()
    let reply
    try {
      reply = await requestAudit(init.libp2p, addrs, req, { deadlineMs, ...(signal === undefined ? {} : { signal }) })
    } catch (err) {
      signal?.throwIfAborted()
      const e = err as Error & { code?: string }
      if (e.name === 'AuditUnansweredError') return outcome('unanswered', e.code as AuditReason, e.message, { roundTripMs: clock() - sent })
      if (e.name === 'AuditRejectedError') return outcome('failed', 'MALFORMED', e.message, { roundTripMs: clock() - sent })
      throw err
    }
    const roundTripMs = clock() - sent
    if (reply.kind === 'rejected') {
      // a provider saying it cannot prove (or does not hold) a deal it is paid for has failed; busy or broken has not answered
      if (reply.code === 'LOST' || reply.code === 'NOT_FOUND') return outcome('failed', reply.code, `the provider said: ${reply.message}`, { roundTripMs })
      return outcome('unanswered', 'REFUSED', `the provider refused (${reply.code}): ${reply.message}`, { roundTripMs })
    }
    try { checkAuditNonce(req, reply.nonce) } catch (err) { return outcome('failed', 'WRONG_NONCE', (err as Error).message, { roundTripMs }) }
    const checking = clock()
    try {
      await init.verify(t.pieceCid, t.paddedBytes, leaves, reply.proof)
    } catch (err) {
      const e = err as Error & { code?: string }
      // only the verifier's own refusal is the provider's fault; a worker that failed to start is not
      if (e.name !== 'AuditFailedError') throw err
      return outcome('failed', e.code as AuditReason, e.message, { roundTripMs, verifyMs: clock() - checking })
    }
    return outcome('passed', undefined, undefined, { roundTripMs, verifyMs: clock() - checking })
  }

  const auditNow: AuditService['auditNow'] = async (dealId, opts = {}) => {
    // a click while the schedule (or another click) audits the deal gets that audit's record, not a second audit
    const already = running.get(dealId)
    if (already !== undefined) return await already
    const t = init.target(dealId)
    if (t === null) throw new AuditNotPossibleError(dealId, `deal ${dealId} is not a live deal of this tab with a verified record`)
    const p = (async () => {
      const r = await run(t, opts.trigger ?? 'manual', opts.signal)
      byDeal.set(dealId, [...byDeal.get(dealId) ?? [], r])
      await init.store.putAudit(r)
      init.changed()
      return r
    })()
    running.set(dealId, p)
    try { return await p } finally { running.delete(dealId) }
  }

  /**
   * Counted against a provider: every failed audit (a wrong answer, or an admission it cannot prove: both are about
   * its bytes, and a later pass of other leaves does not undo them), and unanswered audits of a deal since its last
   * passed one (a provider that was offline and answers again is forgiven its outage).
   */
  const failuresOf = (): Map<string, number> => {
    const m = new Map<string, number>()
    for (const list of byDeal.values()) {
      const lastPass = list.findLastIndex(a => a.outcome === 'passed')
      list.forEach((a, i) => {
        if (a.outcome === 'failed' || (a.outcome === 'unanswered' && i > lastPass)) m.set(a.provider, (m.get(a.provider) ?? 0) + 1)
      })
    }
    return m
  }

  // the schedule: each tick audits, one after another, the live deals whose last audit is older than the interval,
  // at most one per provider, so a tab with many deals at one provider spreads them over ticks instead of
  // running into the provider's per-peer rate (net/audit-protocol.ts AUDIT_RATE)
  let ticking = false
  const tick = async (): Promise<void> => {
    if (ticking || every <= 0) return
    ticking = true
    try {
      const audited = new Set<string>()
      for (const dealId of init.liveDeals()) {
        if (every <= 0) break
        const last = byDeal.get(dealId)?.at(-1)
        if (last !== undefined && nowMs() - last.startedAtMs < every * 60_000) continue
        const provider = init.target(dealId)?.provider
        if (provider === undefined || audited.has(provider)) continue
        audited.add(provider)
        await auditNow(dealId, { trigger: 'schedule' }).catch(() => {})
      }
    } finally { ticking = false }
  }
  const timer = setInterval(() => { void tick() }, init.scheduleTickMs ?? SCHEDULE_TICK_MS)
  ;(timer as { unref?: () => void }).unref?.()

  return {
    auditNow,
    auditsOf: (dealId) => byDeal.get(dealId) ?? [],
    failuresOf,
    everyMinutes: () => every,
    setEveryMinutes: async (minutes) => {
      if (!Number.isSafeInteger(minutes) || minutes < 0 || minutes > 7 * 24 * 60) throw new RangeError('an audit interval is 0 (off) to 10080 minutes')
      every = minutes
      await init.store.putSetting(AUDIT_SCHEDULE_SETTING, minutes)
      init.changed()
      void tick()
    },
    stop: () => { clearInterval(timer) }
  }
}
