// `--network X` for `coffer node` and `coffer provider`: the app's URL (its /bootstrap.json), a bootstrap
// document's URL, a saved bootstrap JSON file, or a peer's multiaddr. From a multiaddr there is no
// document to trust: the peer's genesis is learnt over the genesis protocol and trusted on first use (its
// CID is printed, for the operator to compare), as an SSH host key is.
import { readFile, stat } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseBootstrap, genesisOf, makeBootstrap, createCofferLibp2p, type BootstrapDocument } from '../net'
import { requestGenesis } from './full-node/genesis-protocol'

export class NetworkArgumentError extends Error {
  static override name = 'NetworkArgumentError'
  override name = 'NetworkArgumentError'
}

export interface ResolveNetworkOptions {
  log?: (line: string) => void
  /** Bounds each fetch and dial. */
  timeoutMs?: number
}

async function fetchJson (url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } })
  if (!res.ok) throw new NetworkArgumentError(`${url} answered ${res.status}`)
  try {
    return await res.json()
  } catch {
    throw new NetworkArgumentError(`${url} is not JSON`)
  }
}

/** The checked bootstrap document (its genesis bytes hash to its CID and name its network). */
function checked (json: unknown): BootstrapDocument {
  const doc = parseBootstrap(json)
  genesisOf(doc)
  return doc
}

async function fromUrl (arg: string, timeoutMs: number): Promise<BootstrapDocument> {
  const url = new URL(arg)
  if (url.pathname.endsWith('.json')) return checked(await fetchJson(url.href, timeoutMs))
  // an app's URL: its bootstrap document sits beside the page
  const base = url.href.endsWith('/') ? url.href : `${url.href}/`
  return checked(await fetchJson(new URL('bootstrap.json', base).href, timeoutMs))
}

async function fromMultiaddr (arg: string, timeoutMs: number, log: (line: string) => void): Promise<BootstrapDocument> {
  let addr
  try { addr = multiaddr(arg) } catch (err) { throw new NetworkArgumentError(`${arg} is not a multiaddr: ${(err as Error).message}`) }
  const id = addr.getComponents().find(c => c.name === 'p2p')?.value
  if (id === undefined) throw new NetworkArgumentError(`${arg} names no peer (/p2p/<peer ID>)`)
  if (typeof globalThis.WebSocket === 'undefined') (globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket
  const node = await createCofferLibp2p({ role: 'client', allowLoopbackDials: true })
  try {
    const signal = AbortSignal.timeout(timeoutMs)
    await node.dial(addr, { signal })
    const { genesis } = await requestGenesis(node, peerIdFromString(id), undefined, signal)
    log(`genesis ${genesis.header.cid} (${genesis.state.network}) learnt from ${id} and trusted on first use: compare it with the network's published genesis`)
    return makeBootstrap(genesis, [arg])
  } finally {
    await node.stop()
  }
}

export async function resolveNetwork (arg: string, opts: ResolveNetworkOptions = {}): Promise<BootstrapDocument> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const log = opts.log ?? (() => {})
  if (/^https?:\/\//.test(arg)) return await fromUrl(arg, timeoutMs)
  const file = await stat(arg).catch(() => null)
  if (file?.isFile() === true) {
    let json: unknown
    try { json = JSON.parse(await readFile(arg, 'utf8')) } catch (err) { throw new NetworkArgumentError(`${arg} is not a JSON bootstrap document: ${(err as Error).message}`) }
    return checked(json)
  }
  if (arg.startsWith('/')) return await fromMultiaddr(arg, timeoutMs, log)
  throw new NetworkArgumentError(`--network ${arg}: give the app's URL, a bootstrap document's URL or file, or a peer's multiaddr`)
}
