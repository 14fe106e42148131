// The market's providers as the tab finds them (issue 12, discovery): the miners listed in verified state
// (the power actor's claims), each miner's PeerId and Multiaddrs from its verified MinerInfo, and its ask
// asked of that peer and verified against the on-chain worker key. A bootstrap document's `providers` are
// only a hint for addresses, used when a miner's on-chain Multiaddrs are empty (genesis providers of an old
// chain). A provider whose ask query fails is offline and is not chosen; ask announcements heard on gossip
// (already verified against the same record) refresh an entry at once.
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { addressToString, type MinerInfo, type StorageAsk } from '../core'
import type { BootstrapProvider, AskAnnouncement } from '../net'

export interface DirectoryEntry {
  provider: BootstrapProvider
  /** The last verified ask (by query, or announced on gossip), kept while offline so the page can show it. */
  ask: StorageAsk | null
  online: boolean
  /** Why it is offline (the ask query's error). */
  error?: string
  /** When its ask last verified, by query or announcement (the directory's clock). */
  verifiedAtMs: number | null
  /** When gossip last brought its announcement. */
  heardAtMs: number | null
  /** Where its addresses came from: its on-chain MinerInfo, or the bootstrap document's hint. */
  addrSource: 'chain' | 'bootstrap' | 'none'
}

export interface DirectoryInit {
  /** Every miner's ID address, read at the verified head. */
  miners: () => Promise<Uint8Array[]>
  /** A miner's record at the verified head (null: not a miner). */
  minerInfo: (address: Uint8Array) => Promise<MinerInfo | null>
  /** The provider's ask, asked of its peer and verified against its on-chain worker and PeerId (StorageClient.quote). */
  quote: (p: BootstrapProvider, signal: AbortSignal) => Promise<StorageAsk>
  /** The bootstrap document's providers: addresses to use when the chain lists none. */
  hints: BootstrapProvider[]
  nowMs: () => number
  /** How long one ask query may take before the provider counts as offline. */
  askTimeoutMs?: number
  /**
   * An online provider whose verified announcement came within this long is not asked again on a refresh: its
   * announcements say it is there. Once they stop for longer, the next refresh asks it, and a failed query shows
   * it offline. 0 (the default) asks every provider on every refresh.
   */
  announcedFreshMs?: number
  onChange?: () => void
}

import { describeFailure } from './failure-text'

export { describeFailure }

/** An ask query that has not answered in this long is a provider that is not there for clients. */
export const ASK_TIMEOUT_MS = 8_000

/** The peer ID bytes of a MinerInfo as libp2p's string form; null when they are not a peer ID. */
export function peerIdText (bytes: Uint8Array): string | null {
  try { return peerIdFromMultihash(Digest.decode(bytes)).toString() } catch { return null }
}

/** A miner's on-chain multiaddr bytes as strings ending in its peer ID; unreadable ones are skipped. */
export function dialAddrs (multiaddrs: Uint8Array[], peerId: string): string[] {
  const out: string[] = []
  for (const b of multiaddrs) {
    try {
      const a = multiaddr(b).toString()
      out.push(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)
    } catch { /* a miner may write any bytes there (ChangeMultiaddrs takes bytes): skip what is not a multiaddr */ }
  }
  return out
}

/** The provider as a client dials it: the chain's peer ID and addresses, the hint's addresses when the chain has none. */
export function providerOf (address: string, info: MinerInfo, hints: BootstrapProvider[]): { provider: BootstrapProvider, addrSource: DirectoryEntry['addrSource'] } | null {
  const peerId = peerIdText(info.peerId)
  if (peerId === null) return null
  const onChain = dialAddrs(info.multiaddrs ?? [], peerId)
  // a hint is used only for the same identity the chain records: the document says where, never who
  const hint = hints.find(h => h.address === address && h.peerId === peerId)
  const addrs = onChain.length > 0 ? onChain : hint?.addrs ?? []
  return {
    provider: { address, peerId, addrs, ...(hint?.gateway === undefined ? {} : { gateway: hint.gateway }) },
    addrSource: onChain.length > 0 ? 'chain' : addrs.length > 0 ? 'bootstrap' : 'none'
  }
}

export class ProviderDirectory {
  private readonly entries = new Map<string, DirectoryEntry>()
  private refreshing: Promise<void> | null = null

  constructor (private readonly init: DirectoryInit) {}

  /** Every provider the chain lists, online or not, by address. */
  list (): DirectoryEntry[] { return [...this.entries.values()].sort((a, b) => a.provider.address.localeCompare(b.provider.address)) }
  /** The providers to ask for a deal: those whose last ask verified. */
  online (): BootstrapProvider[] { return this.list().filter(e => e.online).map(e => e.provider) }
  /** Every known provider, to re-ask when proposing (one that came back answers, one still gone fails again). */
  all (): BootstrapProvider[] { return this.list().map(e => e.provider) }

  /**
   * Reads the miners from verified state and asks each one for its ask. One refresh runs at a time; a call
   * while one runs waits for it.
   */
  async refresh (): Promise<DirectoryEntry[]> {
    this.refreshing ??= this.refreshNow().finally(() => { this.refreshing = null })
    await this.refreshing
    return this.list()
  }

  private async refreshNow (): Promise<void> {
    const miners = await this.init.miners()
    const seen = new Set<string>()
    await Promise.all(miners.map(async (m) => {
      const address = addressToString(m, 't')
      seen.add(address)
      let info: MinerInfo | null
      try { info = await this.init.minerInfo(m) } catch (err) { this.offline(address, err as Error); return }
      if (info === null) return
      const p = providerOf(address, info, this.init.hints)
      if (p === null) { this.offline(address, new Error('its on-chain peer ID is not a libp2p peer ID')); return }
      const prev = this.entries.get(address)
      const fresh = prev !== undefined && prev.online && prev.heardAtMs !== null && this.init.nowMs() - prev.heardAtMs < (this.init.announcedFreshMs ?? 0) &&
        prev.provider.peerId === p.provider.peerId && prev.provider.addrs.join() === p.provider.addrs.join()
      if (fresh) return
      await this.ask(p.provider, p.addrSource)
    }))
    // a miner the chain no longer lists is gone from the market
    for (const a of [...this.entries.keys()]) if (!seen.has(a)) this.entries.delete(a)
    this.init.onChange?.()
  }

  private async ask (provider: BootstrapProvider, addrSource: DirectoryEntry['addrSource']): Promise<void> {
    const prev = this.entries.get(provider.address)
    try {
      const ask = await this.init.quote(provider, AbortSignal.timeout(this.init.askTimeoutMs ?? ASK_TIMEOUT_MS))
      this.entries.set(provider.address, { provider, ask, online: true, verifiedAtMs: this.init.nowMs(), heardAtMs: prev?.heardAtMs ?? null, addrSource })
    } catch (err) {
      this.entries.set(provider.address, {
        provider, ask: prev?.ask ?? null, online: false, error: describeFailure(err),
        verifiedAtMs: prev?.verifiedAtMs ?? null, heardAtMs: prev?.heardAtMs ?? null, addrSource
      })
    }
  }

  private offline (address: string, err: Error): void {
    const prev = this.entries.get(address)
    if (prev === undefined) return // never reached: nothing to show yet
    this.entries.set(address, { ...prev, online: false, error: describeFailure(err) })
  }

  /**
   * A verified announcement (ask-gossip.ts checked its signature against the worker and its author against
   * the PeerId, both from the miner's record): the entry is updated from it, no query needed. A provider
   * announcing is reachable by gossip, but a client dials it: one not yet known, or offline, is asked at once.
   */
  async announced (a: AskAnnouncement): Promise<void> {
    const p = providerOf(a.miner, a.info, this.init.hints)
    if (p === null) return
    const prev = this.entries.get(a.miner)
    const now = this.init.nowMs()
    if (prev === undefined || !prev.online || prev.provider.peerId !== p.provider.peerId || prev.provider.addrs.join() !== p.provider.addrs.join()) {
      this.entries.set(a.miner, { provider: p.provider, ask: a.signed.ask, online: false, verifiedAtMs: now, heardAtMs: now, addrSource: p.addrSource, ...(prev?.error === undefined ? {} : { error: prev.error }) })
      await this.ask(p.provider, p.addrSource)
    } else {
      this.entries.set(a.miner, { ...prev, ask: a.signed.ask, verifiedAtMs: now, heardAtMs: now })
    }
    this.init.onChange?.()
  }
}
