// Who can serve a file, found by verified reads alone: each of the file's deals read from the chain (its label
// must be the payload root, the deal live), each provider's ask verified against its worker key and its miner
// record, cheapest first; its peer ID and addresses come from its MinerInfo (the bootstrap document's list only
// when the chain gives no address). What a quote shows, and what a download tries in order.
import { addressToString, dealStatus } from '../core'
import type { BootstrapDocument } from '../net'
import type { LightClient } from './light-client'
import type { WalletService } from './wallet-service'
import { lightDealChain } from './deal-chain'
import { StorageClient } from './storage-client'
import type { RetrievalProvider } from './retrieval-session'
import { NoChainPeerError, isChainUnanswered, type DownloadQuote, type QuoteProgress } from './retrieval-views'
import { providerOf } from './provider-directory'

/** A provider that verifiably holds the file (its deal's label is the root, the deal live) and whose ask verified. */
export interface Candidate { dealId: number, provider: RetrievalProvider }
export interface Found { candidates: Candidate[], refused: DownloadQuote['refused'] }

/** Deals a link may name at most: each is a verified read. */
export const MAX_DEALS = 16

const labelText = (label: string | Uint8Array): string => typeof label === 'string' ? label : new TextDecoder().decode(label)

export interface FinderContext { client: LightClient, wallet: WalletService, bootstrap: BootstrapDocument }

export async function findRetrievalProviders (ctx: FinderContext, root: string, dealIds: number[], signal?: AbortSignal, onProgress?: (p: QuoteProgress) => void): Promise<Found> {
  const { client: lc, wallet, bootstrap } = ctx
  const began = performance.now()
  /** Runs one check, reporting its start and end (with its time: where a slow quote spends it). */
  const check = async <T>(c: Pick<QuoteProgress, 'kind' | 'dealId' | 'provider'>, fn: () => Promise<T>, ok: (v: T) => boolean = () => true): Promise<T> => {
    const key = `${c.kind} ${c.kind === 'deal' ? String(c.dealId) : c.provider ?? ''}`
    const at = performance.now()
    onProgress?.({ key, ...c, state: 'running', atMs: Math.round(at - began) })
    let state: QuoteProgress['state'] = 'refused'
    try {
      const v = await fn()
      if (ok(v)) state = 'done'
      return v
    } finally {
      const end = performance.now()
      onProgress?.({ key, ...c, state, atMs: Math.round(end - began), tookMs: Math.round(end - at) })
    }
  }
  const refused: Found['refused'] = []
  let unanswered = 0
  const byProvider = new Map<string, { dealId: number, address: Uint8Array }>()
  // the deals are read side by side: each is a round trip to a full node, and a link names up to MAX_DEALS of them
  await Promise.all([...new Set(dealIds)].slice(0, MAX_DEALS).map(async (dealId) => {
    signal?.throwIfAborted()
    try {
      const d = await check({ kind: 'deal', dealId }, async () => {
        const d = (await lc.state.deal(dealId)).value
        if (d === null) return { refused: 'no such deal on chain' }
        const provider = addressToString(d.proposal.provider, 't')
        if (labelText(d.proposal.label) !== root) return { provider, refused: 'the deal is for another payload (its label is not this root)' }
        // the provider holds the payload from publication on (its CAR is what it published): 'published' serves too
        const status = dealStatus(d.proposal, d.state, lc.sync.head.header.height)
        if (status !== 'active' && status !== 'published') return { provider, refused: `the deal is ${status}` }
        return { provider, address: d.proposal.provider }
      }, r => r.refused === undefined)
      if (d.refused !== undefined) { refused.push({ dealId, ...(d.provider === undefined ? {} : { provider: d.provider }), reason: d.refused }); return }
      // the same provider by several deals: the lowest deal ID names it, whichever read came back first
      const seen = byProvider.get(d.provider)
      if (seen === undefined || seen.dealId > dealId) byProvider.set(d.provider, { dealId, address: d.address! })
    } catch (err) {
      // no node to ask is no verdict on the deal: the caller waits for one rather than giving up
      if (isChainUnanswered(err as Error)) unanswered++
      refused.push({ dealId, reason: `${(err as Error).name}: ${(err as Error).message}` })
    }
  }))
  signal?.throwIfAborted()
  if (unanswered > 0 && byProvider.size === 0) throw new NoChainPeerError()
  const listed = bootstrap.providers ?? []
  const candidates: Candidate[] = []
  await Promise.all([...byProvider].map(async ([provider, { dealId, address }]) => {
    try {
      const info = await check({ kind: 'miner', provider }, async () => (await lc.state.miner(address)).value, v => v !== null)
      if (info === null) throw new Error('not a storage provider on chain')
      // who and where from its on-chain record; the bootstrap list only for addresses the chain does not give
      const bp = providerOf(provider, info, listed)?.provider
      if (bp === undefined || bp.addrs.length === 0) { refused.push({ dealId, provider, reason: 'neither its on-chain record nor this network\'s bootstrap list says how to reach it' }); return }
      // the ask is verified against the worker key on chain, the peer ID against the miner's record
      const q = await check({ kind: 'ask', provider }, async () => {
        const { quotes, failures } = await new StorageClient(lc.dialer, lightDealChain(lc, wallet, new Uint8Array()), null).quotes([bp], signal)
        if (quotes[0] === undefined) throw failures[0]?.error ?? new Error('no ask')
        return quotes[0]
      })
      candidates.push({
        dealId,
        provider: {
          address: provider, peerId: bp.peerId, addrs: bp.addrs, worker: info.worker,
          terms: { pricePerGiB: q.ask.retrievalPricePerGiB, paymentInterval: q.ask.paymentInterval, paymentIntervalIncrease: q.ask.paymentIntervalIncrease }
        }
      })
    } catch (err) {
      refused.push({ dealId, provider, reason: `its ask did not verify: ${(err as Error).name}: ${(err as Error).message}` })
    }
  }))
  // the reads ran side by side: refusals in deal order, whichever came back first
  refused.sort((a, b) => a.dealId - b.dealId)
  // cheapest first (free ones before any channel is needed); ties by address, so the order is stable
  candidates.sort((a, b) => a.provider.terms.pricePerGiB === b.provider.terms.pricePerGiB
    ? a.provider.address.localeCompare(b.provider.address)
    : a.provider.terms.pricePerGiB < b.provider.terms.pricePerGiB ? -1 : 1)
  return { candidates, refused }
}
