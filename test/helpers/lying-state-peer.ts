// A peer that serves the honest chain's headers (so a light client verifies and follows them) but lies about
// state: it answers actor queries with a state tree of its own in which the asked address is rich, and
// message lookups with the real inclusion proof of another message (`decoy`), claiming it is the one asked.
import {
  MemoryBlockStore, createStateTree, setActor, newAccountActor, proveActor, parseFil, chainCid, encodeGenesisState,
  type SealedHeader, type StateRequest, type StateResponse, type CID
} from '../../src/core'
import { createCofferLibp2p, serveChainExchange, serveState, runHello, type CofferLibp2p } from '../../src/net'
import type { Devnet } from '../../src/node/devnet'

export interface LyingStatePeer { libp2p: CofferLibp2p, addr: string, stop: () => Promise<void> }

/** Chain exchange from the honest devnet's headers: a liar that follows the real chain, so only its other lies show. */
export function honestHeaders (honest: Devnet): (cid: CID, length: number) => Promise<SealedHeader[] | null> {
  return async (cid, length) => {
    const top = await honest.chain.headerByCid(cid)
    if (top === undefined) return null
    const out: SealedHeader[] = []
    for (let h = top.header.height; h >= 0 && out.length < length; h--) out.push((await honest.headerAt(h))!)
    return out
  }
}

export async function startLyingStatePeer (honest: Devnet, decoy?: CID): Promise<LyingStatePeer> {
  const libp2p = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await serveChainExchange(libp2p, { headersFrom: honestHeaders(honest) })
  await serveState(libp2p, async (req: StateRequest): Promise<StateResponse> => {
    if (req.kind === 'lookup' && req.tipset === true && decoy !== undefined) {
      // today's form: the decoy's real tipset-level proof, claimed for the message asked
      const real = await honest.chain.tipSetInclusion(decoy)
      if (real === null) return { ok: false, error: 'not yet', blocks: [] }
      return { ok: true, includedTipSet: real.included.key, included: real.included.key[0], executed: real.executed.cid, index: real.index, blocks: real.blocks }
    }
    if (req.kind === 'lookup' && decoy !== undefined) {
      const real = await honest.chain.inclusion(decoy)
      if (real?.proof == null) return { ok: false, error: 'not yet', blocks: [] }
      return { ok: true, included: real.included.cid, executed: real.executed.cid, index: real.proof.index, blocks: real.proof.blocks }
    }
    if (req.kind !== 'actor') return { ok: false, error: 'not served', blocks: [] }
    const store = new MemoryBlockStore()
    let root = createStateTree(store, chainCid(encodeGenesisState(honest.genesis.state)))
    root = setActor(store, root, req.address, newAccountActor(store, req.address, parseFil('1000000')))
    return { ok: true, blocks: proveActor(store, root, req.address).blocks }
  })
  await runHello(libp2p, { genesisCid: honest.genesis.header.cid, head: () => honest.head(), onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
  return { libp2p, addr: libp2p.getMultiaddrs()[0]!.toString(), stop: async () => { await libp2p.stop() } }
}
