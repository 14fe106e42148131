// `coffer devnet`: the devnet plus the PWA in one process tree; Ctrl-C stops it cleanly.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { existsSync } from 'node:fs'
import { startDevnet } from './devnet'

const USAGE = `usage: coffer devnet [--port 5173] [--data ./.coffer/devnet] [--reset] [--block-time 1] [--p2p-port 0] [--prefill N]

  --port N        HTTP port for the app and bootstrap document (default 5173)
  --data DIR      chain and keys live here between runs (default ./.coffer/devnet)
  --reset         delete DIR's chain and start a new genesis
  --block-time S  seconds per epoch (default 1)
  --p2p-port N    libp2p WebSocket port (default: any free port)
  --prefill N     on a new chain, pre-sign N back-dated headers (sync benchmarks)`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command !== 'devnet') {
    process.stderr.write(`${USAGE}\n`)
    return command === undefined || command === '--help' ? 0 : 2
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string', default: '5173' },
      data: { type: 'string', default: './.coffer/devnet' },
      reset: { type: 'boolean', default: false },
      'block-time': { type: 'string', default: '1' },
      'p2p-port': { type: 'string', default: '0' },
      prefill: { type: 'string', default: '0' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0 }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
  const distDir = path.join(root, 'dist')
  if (!existsSync(path.join(distDir, 'index.html'))) {
    process.stderr.write('coffer: the app is not built (dist/index.html missing): run `npm run build` first\n')
    return 1
  }
  const devnet = await startDevnet({
    dataDir: path.resolve(values.data),
    distDir,
    reset: values.reset,
    httpPort: Number(values.port),
    p2pPort: Number(values['p2p-port']),
    blockDelayMs: Number(values['block-time']) * 1000,
    prefill: Number(values.prefill),
    log: (line) => process.stdout.write(`coffer: ${line}\n`)
  })
  process.stdout.write(`\n  Coffer devnet is running. Open ${devnet.url}\n  Data: ${path.resolve(values.data)}  (Ctrl-C to stop, --reset to start over)\n\n`)
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

main(process.argv.slice(2)).then(code => process.exit(code), (err: Error) => {
  process.stderr.write(`coffer: ${err.message}\n`)
  process.exit(1)
})
