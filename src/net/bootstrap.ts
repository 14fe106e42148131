// The bootstrap document a Coffer app reads at start: which network, its trusted genesis (by CID, with the
// bytes that must hash to it) and where to find peers. Served by the devnet next to the app.
import { base64 } from 'multiformats/bases/base64'
// modules by path, not core's barrel: the worker's entry opens the kept document before anything heavy loads
import { CID } from '../core/cid'
import { openGenesis, type Genesis } from '../core/genesis-state'
import { decodeHeader } from '../core/block-header'

export interface BootstrapDocument {
  network: string
  genesis: { cid: string, header: string, root: string, state: string }
  peers: string[]
  /** The node's Lotus-style JSON-RPC endpoint (the app uses it for the devnet faucet only). */
  rpc?: string
  /** Where to reach storage providers; who they are (worker key, peer ID) is checked on chain. */
  providers?: BootstrapProvider[]
}

export interface BootstrapProvider {
  address: string
  peerId: string
  addrs: string[]
  /** Its HTTP gateway (`/ipfs/{cid}`, `/piece/{pieceCid}`), as its signed ask also says; absent when it has none. */
  gateway?: string
}

export class InvalidBootstrapError extends Error {
  static override name = 'InvalidBootstrapError'
  override name = 'InvalidBootstrapError'
}

export function makeBootstrap (genesis: Genesis, peers: string[], rpc?: string, providers: BootstrapProvider[] = []): BootstrapDocument {
  return {
    ...(rpc === undefined ? {} : { rpc }),
    ...(providers.length === 0 ? {} : { providers }),
    network: genesis.state.network,
    genesis: { cid: genesis.header.cid.toString(), header: base64.baseEncode(genesis.header.bytes), root: base64.baseEncode(genesis.rootBytes), state: base64.baseEncode(genesis.stateBytes) },
    peers
  }
}

export function parseBootstrap (json: unknown): BootstrapDocument {
  const d = json as Partial<BootstrapDocument> | null
  if (d === null || typeof d !== 'object' || typeof d.network !== 'string' || !Array.isArray(d.peers) ||
      !d.peers.every(p => typeof p === 'string') || typeof d.genesis?.cid !== 'string' || (d.rpc !== undefined && typeof d.rpc !== 'string') ||
      typeof d.genesis.header !== 'string' || typeof d.genesis.root !== 'string' || typeof d.genesis.state !== 'string' ||
      (d.providers !== undefined && !(Array.isArray(d.providers) && d.providers.every(p => typeof p?.address === 'string' && typeof p.peerId === 'string' && Array.isArray(p.addrs) && p.addrs.every(a => typeof a === 'string') &&
        (p.gateway === undefined || (typeof p.gateway === 'string' && /^https?:\/\/[^/?#\s]+$/.test(p.gateway))))))) {
    throw new InvalidBootstrapError('bootstrap document does not have network, genesis {cid, header, root, state} and peers')
  }
  return d as BootstrapDocument
}

/** Checks the genesis bytes against the genesis CID and the network name against the genesis state. */
export function genesisOf (doc: BootstrapDocument): Genesis {
  let genesis: Genesis
  try {
    genesis = openGenesis(CID.parse(doc.genesis.cid), base64.baseDecode(doc.genesis.header), base64.baseDecode(doc.genesis.root), base64.baseDecode(doc.genesis.state), decodeHeader)
  } catch (err) {
    throw new InvalidBootstrapError(`bootstrap genesis is invalid: ${(err as Error).message}`)
  }
  if (genesis.state.network !== doc.network) throw new InvalidBootstrapError(`bootstrap names network ${doc.network} but genesis is for ${genesis.state.network}`)
  return genesis
}
