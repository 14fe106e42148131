// A lying peer for tests: it knows the real genesis, but signs its own chain on top of it with a key
// that is not the genesis producer's, announces that chain as heavier, and serves it on request.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { produceHeader, type Genesis, type SealedHeader } from '../../src/core'
import { createCofferLibp2p, serveChainExchange, runHello, relayedWebRtcAddrs, type CofferLibp2p } from '../../src/net'
import { createTabPeer, announceThroughRelay } from './test-tab'
import { testBeaconEntries } from './test-beacon'

export interface MaliciousPeer { libp2p: CofferLibp2p, addr: string, forged: SealedHeader[], stop: () => Promise<void> }

/**
 * `asTab`: the liar passes for a tab: reached through `relay` over WebRTC (node-datachannel), announcing itself on
 * the tabs' topic of `network` every second, as a tab would (tab-rendezvous.ts).
 */
export async function startMaliciousPeer (genesis: Genesis, opts: { length: number, asTab?: { relay: string, network: string } }): Promise<MaliciousPeer> {
  const wrongKey = bls12_381.longSignatures.keygen().secretKey
  const forged: SealedHeader[] = []
  let parent = genesis.header
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < opts.length; i++) {
    parent = produceHeader(parent, genesis, wrongKey, now - opts.length + i, testBeaconEntries(parent, genesis))
    forged.push(parent)
  }
  const top = forged[forged.length - 1]!
  const tab = opts.asTab
  const libp2p = tab === undefined
    ? await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    : await createTabPeer(tab.network)
  await serveChainExchange(libp2p, {
    // down to the real genesis, which it shares: a client that walks back to where the chains meet finds it, so the
    // lie it catches is the forged signature, not a missing header
    headersFrom: async (cid, length) => {
      const all = [genesis.header, ...forged]
      const at = all.findIndex(h => h.cid.equals(cid))
      if (at < 0) return null
      return all.slice(Math.max(0, at - length + 1), at + 1).reverse()
    }
  })
  await runHello(libp2p, {
    // claims a far heavier head than the honest devnet, so a client must try it first
    genesisCid: genesis.header.cid,
    head: () => top,
    onError: () => {},
    clockNs: () => BigInt(Date.now()) * 1_000_000n
  })
  if (tab !== undefined) await announceThroughRelay(libp2p, tab.relay, tab.network)
  const addr = (tab === undefined ? libp2p.getMultiaddrs()[0]! : relayedWebRtcAddrs(libp2p)[0]!).toString()
  return { libp2p, addr, forged, stop: async () => { await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) } }
}
