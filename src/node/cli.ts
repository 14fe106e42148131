// `coffer devnet`: the devnet plus the PWA in one process tree; Ctrl-C stops it cleanly.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import net from 'node:net'
import { startDevnet } from './devnet'
import { DEFAULT_F3_PARAMS } from '../core'
import { ChainDb } from './chain-db'
import { PortInUseError } from './app-server'
import { pieceOfFile } from './piece-file'
import { buildWasm } from './build-wasm'
import { providerCommand, PROVIDER_USAGE, ProviderUsageError } from './provider-cli'
import { retrieveCommand, RETRIEVE_USAGE, RetrieveUsageError } from './retrieve-cli'
import { nodeCommand, NODE_USAGE, NodeUsageError } from './node-cli'

const USAGE = `usage: coffer piece <file>
       coffer devnet [--port 5173] [--rpc-port 1234] [--data ./.coffer/devnet] [--reset] [--block-time 2] [--p2p-port 0] [--prefill N]
                     [--providers 3] [--proving-period 30] [--consensus expected|single] [--f3-every 100] [--no-webrtc-direct] [--no-relay] [--build]
       ${PROVIDER_USAGE}
       ${RETRIEVE_USAGE}
       ${NODE_USAGE}

  --port N        HTTP port for the app and bootstrap document (default 5173)
  --rpc-port N    Lotus-style JSON-RPC at http://127.0.0.1:N/rpc/v1 (default 1234)
  --data DIR      chain and keys live here between runs (default ./.coffer/devnet)
  --reset         delete DIR's chain and start a new genesis
  --block-time S  seconds per epoch on a new chain (default 2 under Expected Consensus: blocks of one round from
                  three provider processes on one machine reach each other in time to make one tipset; 1 otherwise)
  --p2p-port N    libp2p WebSocket port (default: any free port)
  --prefill N     on a new chain, pre-sign N back-dated headers (sync benchmarks)
  --providers N   storage providers a new chain starts with (default 3; fixed at genesis)
  --proving-period N  epochs per proving period on a new chain (default 30)
  --consensus C   how a new chain's blocks are made (fixed at genesis): expected (the default with providers),
                  Filecoin's Expected Consensus: the providers win blocks by their proven storage (the genesis
                  providers' pre-sealed deals are the starting power) and each makes its own; single (the default
                  with --providers 0), one devnet key signs every block
  --f3-every N    epochs per F3 finality instance on a new Expected Consensus chain (default 100; 0 for no F3): a
                  new tab checks a certificate per instance, a finalized tipset trails the head by 10 to N+10 epochs
  --no-webrtc-direct  the devnet's node and providers listen with WebSockets only. By default they also listen with
                  WebRTC-Direct (UDP, a self-signed certificate kept in DIR and named by its hash in the address:
                  a browser dials it with no CA-signed TLS certificate; try the app with ?transports=webrtc-direct)
  --no-relay      the devnet's node is no circuit relay (by default every node is one: tabs reach each other
                  through nodes, then connect directly over WebRTC)
  --build         build the app first (what \`npm start\` does); refused before building if in use

  provider init      a provider's keys and the network it joins (on a devnet, its faucet funds the worker)
  provider run       a full node plus the provider services: creates its miner on chain, takes deals, proves them
  provider stop-deals  take no new deals (live deals are proven to their end)
  provider withdraw  take back free market escrow and the pledge no deal locks
  provider corrupt <deal>  flip one byte of a stored deal's payload (the next proof fails: a fault)
  provider delete <deal>   delete a stored deal's payload

  piece <file>    print the file's piece CID v2 (FRC-0069), piece CID v1 and padded size, streaming it`

/** Fails, before anything is built or written, when another devnet holds the data folder or the port. */
async function assertFree (dataDir: string, host: string, port: number): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  await (await ChainDb.open(dataDir)).close()
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(port) : err))
    probe.listen(port, host, () => probe.close(() => resolve()))
  })
}

async function piece (file: string | undefined): Promise<number> {
  if (file === undefined) { process.stderr.write(`${USAGE}\n`); return 2 }
  const started = performance.now()
  const { digest, v1, v2, hasher } = await pieceOfFile(file)
  const secs = (performance.now() - started) / 1000
  process.stdout.write(`piece CID v2: ${String(v2)}\npiece CID v1: ${String(v1)}\npadded size:  ${digest.paddedBytes}\npayload:      ${digest.payloadBytes} bytes\n`)
  process.stderr.write(`(${(digest.payloadBytes / 2 ** 20 / secs).toFixed(1)} MiB/s, ${hasher})\n`)
  return 0
}

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === 'piece') return await piece(rest[0])
  if (command === 'build-wasm') { await buildWasm(); return 0 }
  if (command === 'provider') {
    return await providerCommand(rest).catch((err: Error) => {
      if (!(err instanceof ProviderUsageError)) throw err
      process.stderr.write(`coffer: ${err.message}\n${USAGE}\n`)
      return 2
    })
  }
  if (command === 'node') {
    return await nodeCommand(rest).catch((err: Error) => {
      if (!(err instanceof NodeUsageError)) throw err
      process.stderr.write(`coffer: ${err.message}\n${USAGE}\n`)
      return 2
    })
  }
  if (command === 'retrieve') {
    return await retrieveCommand(rest).catch((err: Error) => {
      if (!(err instanceof RetrieveUsageError)) throw err
      process.stderr.write(`coffer: ${err.message}\n${USAGE}\n`)
      return 2
    })
  }
  if (command !== 'devnet') {
    process.stderr.write(`${USAGE}\n`)
    return command === undefined || command === '--help' ? 0 : 2
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string', default: '5173' },
      'rpc-port': { type: 'string', default: '1234' },
      data: { type: 'string', default: './.coffer/devnet' },
      reset: { type: 'boolean', default: false },
      // no default here: it follows the consensus (below)
      'block-time': { type: 'string' },
      'p2p-port': { type: 'string', default: '0' },
      prefill: { type: 'string', default: '0' },
      providers: { type: 'string', default: '3' },
      'proving-period': { type: 'string', default: '30' },
      // no default here: startDevnet's (expected with providers, single without)
      consensus: { type: 'string' },
      'f3-every': { type: 'string', default: String(DEFAULT_F3_PARAMS.instanceEpochs) },
      build: { type: 'boolean', default: false },
      'no-webrtc-direct': { type: 'boolean', default: false },
      'no-relay': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0 }
  if (values.consensus !== undefined && values.consensus !== 'single' && values.consensus !== 'expected') throw new Error(`--consensus takes single or expected, not ${values.consensus}`)
  const providers = positiveInt(values.providers, '--providers', 0)
  // startDevnet's rule: Expected Consensus with providers, unless told otherwise
  const expected = (values.consensus ?? (providers > 0 ? 'expected' : 'single')) === 'expected'
  const f3Every = positiveInt(values['f3-every'], '--f3-every', 0)
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
  const distDir = path.join(root, 'dist')
  if (values.build) {
    // a second `npm start` must not rebuild dist/ under a running devnet: check first, then build
    await assertFree(path.resolve(values.data), '127.0.0.1', Number(values.port))
    await assertFree(path.resolve(values.data), '127.0.0.1', Number(values['rpc-port']))
    process.stdout.write('coffer: building the app…\n')
    await buildWasm()
    const { build } = await import('vite')
    await build({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' })
  }
  if (!existsSync(path.join(distDir, 'index.html'))) {
    process.stderr.write('coffer: the app is not built (dist/index.html missing): run `npm run build` first\n')
    return 1
  }
  const devnet = await startDevnet({
    dataDir: path.resolve(values.data),
    distDir,
    reset: values.reset,
    httpPort: Number(values.port),
    rpcPort: Number(values['rpc-port']),
    p2pPort: Number(values['p2p-port']),
    blockDelayMs: Number(values['block-time'] ?? (expected ? 2 : 1)) * 1000,
    prefill: Number(values.prefill),
    providers,
    provingPeriod: positiveInt(values['proving-period'], '--proving-period', 2),
    consensus: values.consensus,
    f3: f3Every === 0 ? null : { ...DEFAULT_F3_PARAMS, instanceEpochs: f3Every },
    // each provider a `coffer provider run` child, as a provider on another machine runs
    providerProcesses: true,
    webrtcDirect: !values['no-webrtc-direct'],
    relay: !values['no-relay'],
    log: (line) => process.stdout.write(`coffer: ${line}\n`)
  })
  // each provider's HTTP gateway: IPFS Trustless Gateway and FRC-0066 piece gateway
  const gateways = devnet.gateways().map(g => `  HTTP gateway ${g.address}: ${g.url}  (${g.free ? 'free' : 'paid by X-Coffer-Voucher'})\n`).join('')
  process.stdout.write(`\n  Coffer devnet is running. Open ${devnet.url}\n  JSON-RPC (Lotus API): ${devnet.rpcUrl}\n${gateways}  Data: ${path.resolve(values.data)}  (Ctrl-C to stop, --reset to start over)\n\n`)
  await new Promise<void>(resolve => {
    const stop = (): void => { resolve() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  process.stdout.write('coffer: stopping…\n')
  await devnet.stop()
  process.stdout.write('coffer: stopped\n')
  return 0
}

function positiveInt (text: string, flag: string, min: number): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag} takes a whole number of at least ${min}, not ${text}`)
  return n
}

main(process.argv.slice(2)).then(code => process.exit(code), (err: Error) => {
  process.stderr.write(`coffer: ${err.message}\n`)
  process.exit(1)
})
