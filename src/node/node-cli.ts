// `coffer node`: runs a full node (full-node/index.ts) that joins a network by its app URL, bootstrap
// document or a peer's multiaddr, syncs and re-executes every block, and serves light clients; it prints
// its peer ID, its addresses and its head as it syncs. Ctrl-C (or SIGTERM) stops it cleanly; a kill leaves
// a folder the next start continues from (LevelDB batches: a block is stored whole or not at all).
import { parseArgs } from 'node:util'
import path from 'node:path'
import { resolveNetwork } from './resolve-network'
import { startFullNode } from './full-node'

export const NODE_USAGE = 'coffer node --network <app URL | bootstrap URL or file | multiaddr> [--data ./.coffer/node] [--rpc-port N] [--p2p-port N] [--host 127.0.0.1] [--webrtc-port 0 | --no-webrtc-direct] [--no-relay]'

export class NodeUsageError extends Error {
  static override name = 'NodeUsageError'
  override name = 'NodeUsageError'
}

function port (v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new NodeUsageError(`${flag} must be a port number (0 for any free port), not ${v}`)
  return n
}

export async function nodeCommand (argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        network: { type: 'string' },
        data: { type: 'string', default: './.coffer/node' },
        'rpc-port': { type: 'string' },
        'p2p-port': { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        // WebRTC-Direct by default: a browser tab reaches the node by it without a TLS certificate (webrtc-direct.ts)
        'webrtc-port': { type: 'string', default: '0' },
        'no-webrtc-direct': { type: 'boolean', default: false },
        // a circuit relay for tabs by default (they reach each other through nodes): this turns it off
        'no-relay': { type: 'boolean', default: false }
      }
    }).values
  } catch (err) {
    throw new NodeUsageError((err as Error).message)
  }
  if (values.network === undefined) throw new NodeUsageError('--network is required')
  const rpcPort = port(values['rpc-port'], '--rpc-port')
  const p2pPort = port(values['p2p-port'], '--p2p-port') ?? 0
  const log = (line: string): void => { process.stdout.write(`coffer node: ${line}\n`) }
  const bootstrap = await resolveNetwork(values.network, { log })
  const node = await startFullNode({
    dataDir: path.resolve(values.data),
    bootstrap,
    host: values.host,
    listen: [`/ip4/${values.host}/tcp/${p2pPort}/ws`],
    ...(values['no-webrtc-direct'] === true ? {} : { webrtcDirect: { port: port(values['webrtc-port'], '--webrtc-port') ?? 0 } }),
    ...(values['no-relay'] === true ? { relay: false } : {}),
    rpcPort: rpcPort ?? null,
    log
  })
  let stopping = false
  void node.synced().then(() => { if (!stopping) log(`synced at height ${node.chain.head().header.height}`) })
  await new Promise<void>(resolve => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  stopping = true
  log('stopping')
  await node.stop()
  return 0
}
