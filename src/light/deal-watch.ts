// Following the tab's deals on chain: each published copy's deal read through verified state proofs (the
// provider's word about it confirmed on first sight), every proof the deal holds re-checked in the WASM pool with
// the verdict kept in IndexedDB, and the key's escrow. What the Deals view shows of them.
import {
  parseAddress, addressToString, dealStatus, challengeSeed, beaconEntryForEpoch, beaconTimingOf, dealProofSet, encodeProofSet, decodeClientDealProposal, toWireError,
  type DealRecord, type WireError, type Epoch, type SealedHeader
} from '../core'
import type { PiecePool } from '../../workers/piece-pool'
import type { LightClient } from './light-client'
import type { WalletService } from './wallet-service'
import type { DealStore, UploadRecord, CopyRecord, Verdict } from './deal-store'
import { describeDeal, describeProof, proofNodes, type DealsView, type DealView, type ProofDetail } from './deal-views'
import { judgeNamedDeal, type NamedDealVerdict } from './named-deal'

export interface DealWatchInit {
  client: LightClient
  wallet: WalletService
  pool: () => Promise<PiecePool>
  store: DealStore
  /** The deal service's upload records as they stand (read here; written only through `save`). */
  uploads: Map<string, UploadRecord>
  save: (u: UploadRecord) => Promise<void>
  /** Something the view shows changed. */
  changed: () => void
}

export interface DealWatch {
  /** Reads every live deal again (and the escrow), checking proofs not checked yet. One at a time: a call during one returns at once. */
  refresh: () => Promise<void>
  /** Missed proofs per provider (t0…), over the deals followed: what plans avoid. */
  faultsOf: () => Map<string, number>
  deals: () => DealView[]
  escrow: () => DealsView['escrow']
  proofDetail: (dealId: number, period: number) => Promise<ProofDetail>
}

export async function createDealWatch (init: DealWatchInit): Promise<DealWatch> {
  const { client: lc, store, uploads, save, changed } = init
  const verdicts = new Map<string, Verdict>((await store.verdicts()).map(v => [v.key, v]))
  const records = new Map<number, { record: DealRecord, height: Epoch, headerCid: string }>()
  const dealErrors = new Map<number, WireError>()
  let escrow: DealsView['escrow'] = null
  const params = lc.genesis.state.market

  const faultsOf = (): Map<string, number> => {
    const m = new Map<string, number>()
    for (const { record } of records.values()) {
      const p = addressToString(record.proposal.provider, 't')
      m.set(p, (m.get(p) ?? 0) + record.periods.filter(r => r.proof === null).length)
    }
    return m
  }

  const dealIds = (): Array<{ dealId: number, upload: UploadRecord, copy: CopyRecord }> => [...uploads.values()].flatMap(u =>
    (u.proposals ?? []).filter(c => c.dealId !== undefined && c.state === 'published').map(c => ({ dealId: c.dealId!, upload: u, copy: c })))

  const finished = (d: DealRecord): boolean => {
    const status = dealStatus(d.proposal, d.state, lc.sync.head.header.height)
    return (status === 'expired' || status === 'slashed') && d.periods.every((r, i) => r.proofBytes === null || verdicts.has(`${d.dealId}/${i}`))
  }

  /**
   * A deal the provider named but the chain had not shown: ours (confirmed), or the provider lied about it (another
   * proposal under that ID, or none at all once the start has passed): the copy then fails by name (named-deal.ts).
   */
  const confirm = async (u: UploadRecord, copy: CopyRecord, d: DealRecord | null, readAt: Epoch): Promise<NamedDealVerdict['kind']> => {
    const v = judgeNamedDeal(copy.provider, copy.dealId!, decodeClientDealProposal(copy.signed).proposal, d, readAt)
    if (v.kind === 'wait') return v.kind
    const cur = uploads.get(u.id)!
    await save({
      ...cur,
      proposals: cur.proposals!.map(c => c.dealId !== copy.dealId || c.provider !== copy.provider ? c : v.kind === 'confirmed'
        ? { ...c, confirmed: true }
        : { ...c, state: 'failed', error: v.error })
    })
    return v.kind
  }

  let refreshing = false
  const refreshDeals = async (): Promise<void> => {
    if (refreshing) return
    refreshing = true
    try {
      const key = init.wallet.view().keys[0]
      if (key !== undefined) {
        const v = await lc.state.escrow(parseAddress(key.address).bytes).catch(() => null)
        if (v !== null) escrow = { address: key.address, escrow: v.value.escrow.toString(), locked: v.value.locked.toString(), height: v.header.header.height }
      }
      for (const { dealId, upload, copy } of dealIds()) {
        const known = records.get(dealId)
        // a deal that has ended and whose every proof is checked will not change: no need to ask again
        if (known !== undefined && copy.confirmed !== false && finished(known.record)) continue
        try {
          const v = await lc.state.deal(dealId)
          // (another client's deal under the ID a liar named is not followed)
          if (copy.confirmed !== true && await confirm(upload, copy, v.value, v.header.header.height) !== 'confirmed') continue
          if (v.value === null) continue
          records.set(dealId, { record: v.value, height: v.header.header.height, headerCid: v.header.cid.toString() })
          dealErrors.delete(dealId)
          await checkProofs(v.value)
        } catch (err) { dealErrors.set(dealId, toWireError(err)) }
      }
    } finally {
      refreshing = false
      changed()
    }
  }

  /**
   * The verified block carrying challenge epoch `c`'s beacon round: the block at `c`, or when `c` was a null round the
   * first one above it (which carries one round per epoch since its parent, as the market's cron reads it).
   */
  const challengeHeader = async (c: Epoch): Promise<SealedHeader | null> => {
    const top = lc.sync.head.header.height
    // (a reorganisation may have moved the head below c since the deal was read: nothing to look at yet)
    if (c > top) return null
    // below the floor a jump to a finalized tipset left: fetched now, by hash link (no node served it: not yet)
    if (c < await lc.store.floor()) await lc.backfill(c).catch(() => {})
    return (await lc.store.tipSetAtOrAbove(c, top))?.blocks[0] ?? null
  }

  const checkProofs = async (d: DealRecord): Promise<void> => {
    for (const [i, r] of d.periods.entries()) {
      const key = `${d.dealId}/${i}`
      if (r.proofBytes === null || verdicts.has(key)) continue
      const c = d.proposal.startEpoch + i * params.provingPeriod
      const header = await challengeHeader(c)
      if (header === null) continue // not verified here yet
      const beacon = beaconEntryForEpoch(beaconTimingOf(lc.genesis), c, header.header)
      if (beacon === undefined) continue // a verified header always carries its epoch's round
      const started = performance.now()
      let ok = true
      let error: string | undefined
      try {
        await (await init.pool()).verifyPossession(encodeProofSet(dealProofSet(d.proposal)), challengeSeed(beacon, c, d.dealId), params.challengesPerPeriod, r.proofBytes)
      } catch (err) {
        // only the verifier's own refusal is a verdict; a worker that failed to start is not the provider's fault
        if ((err as Error).name !== 'PossessionProofError') continue
        ok = false
        error = `${(err as Error).name}: ${(err as Error).message}`
      }
      const v: Verdict = { key, dealId: d.dealId, period: i, ok, checkedAtMs: Date.now(), checkMs: performance.now() - started, ...(error === undefined ? {} : { error }) }
      verdicts.set(key, v)
      await store.putVerdict(v)
    }
  }

  const dealView = (dealId: number, upload: UploadRecord): DealView | null => {
    const got = records.get(dealId)
    if (got === undefined) return null
    return describeDeal({ ...got, upload, verdicts, params, head: lc.sync.head.header.height, error: dealErrors.get(dealId) })
  }

  const proofDetail = async (dealId: number, period: number): Promise<ProofDetail> => {
    const got = records.get(dealId)
    const r = got?.record.periods[period]
    if (got === undefined || r?.proofBytes == null) throw new RangeError(`deal ${dealId} has no proof for period ${period}`)
    const c = got.record.proposal.startEpoch + period * params.provingPeriod
    const header = await challengeHeader(c)
    if (header === null) throw new Error(`the header at ${c} is not verified here yet`)
    const beacon = beaconEntryForEpoch(beaconTimingOf(lc.genesis), c, header.header)
    if (beacon === undefined) throw new Error(`the header at ${c} carries no beacon entry for its epoch`)
    // each step re-hashed by the verdict's own WASM kernel; a pool that cannot start leaves the TypeScript verdicts alone
    const stepChecks = await init.pool().then(async pool => await Promise.all(proofNodes(r.proofBytes!).map(async p => await pool.pathSteps(p.leaf, p.value, p.path, p.nodes)))).catch(() => undefined)
    const upload = dealIds().find(x => x.dealId === dealId)?.upload
    return describeProof(got.record, period, c, { headerCid: header.cid, beacon }, verdicts.get(`${dealId}/${period}`) ?? null, {
      layout: upload?.layout ?? null, carBytes: upload?.carBytes ?? null, ...(stepChecks === undefined ? {} : { stepChecks })
    })
  }

  return {
    refresh: refreshDeals,
    faultsOf,
    deals: () => dealIds().map(({ dealId, upload }) => dealView(dealId, upload)).filter((v): v is DealView => v !== null),
    escrow: () => escrow,
    proofDetail
  }
}
