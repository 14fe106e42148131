// A lying peer for tests: it knows the real genesis, but signs its own chain on top of it with a key
// that is not the genesis producer's, announces that chain as heavier, and serves it on request.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { produceHeader, type Genesis, type SealedHeader } from '../../src/core'
import { createCofferLibp2p, serveChainExchange, runHello, type CofferLibp2p } from '../../src/net'
import { testBeaconEntries } from './test-beacon'

export interface MaliciousPeer { libp2p: CofferLibp2p, addr: string, forged: SealedHeader[], stop: () => Promise<void> }

export async function startMaliciousPeer (genesis: Genesis, opts: { length: number }): Promise<MaliciousPeer> {
  const wrongKey = bls12_381.longSignatures.keygen().secretKey
  const forged: SealedHeader[] = []
  let parent = genesis.header
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < opts.length; i++) {
    parent = produceHeader(parent, genesis, wrongKey, now - opts.length + i, testBeaconEntries(parent, genesis))
    forged.push(parent)
  }
  const top = forged[forged.length - 1]!
  const libp2p = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await serveChainExchange(libp2p, {
    headersFrom: async (cid, length) => {
      const at = forged.findIndex(h => h.cid.equals(cid))
      if (at < 0) return null
      return forged.slice(Math.max(0, at - length + 1), at + 1).reverse()
    }
  })
  await runHello(libp2p, {
    // claims a far heavier head than the honest devnet, so a client must try it first
    genesisCid: genesis.header.cid,
    head: () => top,
    onError: () => {},
    clockNs: () => BigInt(Date.now()) * 1_000_000n
  })
  return { libp2p, addr: libp2p.getMultiaddrs()[0]!.toString(), forged, stop: async () => { await libp2p.stop() } }
}
