// The tab's provider directory: providers from the chain's miner list and records (not the bootstrap
// document), addresses from MinerInfo with the document only as a hint, offline when the ask query fails,
// and an ask announcement shown at once.
import { describe, it, expect } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { idAddressBytes, addressToString, type MinerInfo, type StorageAsk } from '../../src/core'
import type { AskAnnouncement, BootstrapProvider } from '../../src/net'
import { ProviderDirectory, dialAddrs, providerOf, describeFailure } from '../../src/light/provider-directory'

const peerA = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const peerB = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const info = (peer: typeof peerA, addrs: string[]): MinerInfo => ({ peerId: peer.toMultihash().bytes, multiaddrs: addrs.map(a => multiaddr(a).bytes) }) as unknown as MinerInfo
const ask = (seqNo: number): StorageAsk => ({ seqNo, pricePerGiBEpoch: 5n, expiry: 100 }) as unknown as StorageAsk

describe('provider addresses', () => {
  it('come from the miner record, ending in its peer ID; junk bytes are skipped', () => {
    expect(dialAddrs([multiaddr('/ip4/10.0.0.2/tcp/4001/ws').bytes, new Uint8Array([0xff, 0xff])], peerA.toString())).toEqual([`/ip4/10.0.0.2/tcp/4001/ws/p2p/${peerA.toString()}`])
  })
  it('take the bootstrap hint only when the chain has none, and only for the identity the chain records', () => {
    const hints: BootstrapProvider[] = [{ address: 't01001', peerId: peerA.toString(), addrs: ['/ip4/127.0.0.1/tcp/9/ws'] }]
    expect(providerOf('t01001', info(peerA, []), hints)).toEqual({ provider: { address: 't01001', peerId: peerA.toString(), addrs: ['/ip4/127.0.0.1/tcp/9/ws'] }, addrSource: 'bootstrap' })
    expect(providerOf('t01001', info(peerA, ['/ip4/10.0.0.2/tcp/1/ws']), hints)?.addrSource).toBe('chain')
    // a document that names another peer for the miner is not believed: the chain says who
    expect(providerOf('t01001', info(peerB, []), hints)).toEqual({ provider: { address: 't01001', peerId: peerB.toString(), addrs: [] }, addrSource: 'none' })
  })
})

describe('describeFailure', () => {
  it('names what failed even when a dial rejects with something that is not an Error', () => {
    expect(describeFailure(new RangeError('bad'))).toBe('RangeError: bad')
    expect(describeFailure({})).toBe('Error: [object Object]')
    expect(describeFailure(undefined)).toBe('Error: undefined')
    expect(describeFailure(new Event('error'))).toBe('ConnectionFailedError: the connection failed (a WebSocket \'error\' event)')
    expect(describeFailure(new AggregateError([new Error('ECONNREFUSED'), { name: 'DialError' }], ''))).toBe('AggregateError: Error: ECONNREFUSED; DialError: [object Object]')
  })
})

describe('ProviderDirectory', () => {
  it('lists the chain\'s miners, marks one whose ask query fails offline, and forgets one the chain drops', async () => {
    let miners = [idAddressBytes(1001), idAddressBytes(1004)]
    let down = new Set<string>(['t01004'])
    const infos: Record<string, MinerInfo> = { t01001: info(peerA, ['/ip4/10.0.0.1/tcp/1/ws']), t01004: info(peerB, ['/ip4/10.0.0.4/tcp/1/ws']) }
    const d = new ProviderDirectory({
      miners: async () => miners,
      minerInfo: async (a) => infos[addressToString(a, 't')] ?? null,
      quote: async (p) => { if (down.has(p.address)) throw new Error('dial timed out'); return ask(1) },
      hints: [],
      nowMs: () => 0
    })
    const first = await d.refresh()
    expect(first.map(e => [e.provider.address, e.online])).toEqual([['t01001', true], ['t01004', false]])
    expect(first[1]!.error).toBe('Error: dial timed out')
    expect(d.online().map(p => p.address)).toEqual(['t01001'])
    down = new Set()
    expect((await d.refresh()).map(e => e.online)).toEqual([true, true])
    miners = [idAddressBytes(1004)]
    expect((await d.refresh()).map(e => e.provider.address)).toEqual(['t01004'])
  })

  it('does not ask a provider whose announcements are fresh; once they stop, a refresh asks it and a failure shows it offline', async () => {
    let now = 0
    let asked = 0
    let down = false
    const d = new ProviderDirectory({
      miners: async () => [idAddressBytes(1005)],
      minerInfo: async () => info(peerA, ['/ip4/10.0.0.5/tcp/1/ws']),
      quote: async () => { asked++; if (down) throw new Error('gone'); return ask(1) },
      hints: [], nowMs: () => now, announcedFreshMs: 15_000
    })
    await d.announced({ miner: 't01005', peer: peerA.toString(), info: info(peerA, ['/ip4/10.0.0.5/tcp/1/ws']), signed: { ask: ask(1) } } as unknown as AskAnnouncement)
    expect(asked).toBe(1)
    down = true
    now = 10_000
    expect((await d.refresh())[0]!.online).toBe(true) // heard 10 s ago: not asked
    expect(asked).toBe(1)
    now = 16_000
    expect((await d.refresh())[0]!.online).toBe(false)
    expect(asked).toBe(2)
  })

  it('shows an announced provider at once and asks it; a later announcement only refreshes its ask', async () => {
    let asked = 0
    const d = new ProviderDirectory({ miners: async () => [], minerInfo: async () => null, quote: async () => { asked++; return ask(7) }, hints: [], nowMs: () => 42 })
    const a = { miner: 't01005', peer: peerA.toString(), info: info(peerA, ['/ip4/10.0.0.5/tcp/1/ws']), signed: { ask: ask(7) } } as unknown as AskAnnouncement
    await d.announced(a)
    expect(d.list().map(e => [e.provider.address, e.online, e.heardAtMs])).toEqual([['t01005', true, 42]])
    await d.announced({ ...a, signed: { ...a.signed, ask: ask(8) } } as unknown as AskAnnouncement)
    expect(asked).toBe(1)
    expect(d.list()[0]!.ask?.seqNo).toBe(8)
  })
})
