// HTTP gateway benchmark (`BENCH_ONLY=gateway`, or alone: `node --experimental-websocket --import tsx
// test/bench/http-gateway.ts`): a file of BENCH_GATEWAY_MIB MiB (default 128; random bytes) stored with the
// devnet's free provider (t01002), then read back whole by a Node client twice each way, alternating: as a CAR
// from its IPFS Trustless Gateway (`GET /ipfs/{root}?format=car&car-dups=y`, fetch) and over the libp2p retrieval
// protocol (`/coffer/retrieval/1.1.0`). Both push every byte through the same CarVerifier (each block hashed with
// node:crypto, the DAG walked) and discard the file bytes. Printed: MiB/s of CAR each way (best of two) and their
// ratio, gateway over libp2p, from this run.
import '../../src/net/polyfills'
import path from 'node:path'
import { tmpdir } from 'node:os'
import { createHash } from 'node:crypto'
import { rm, mkdtemp } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { CarVerifier, type MultihashFn, type CID } from '../../src/core'
import { createCofferLibp2p, openRetrieval } from '../../src/net'
import { startDevnet } from '../../src/node/devnet'
import { writeRandomFile } from './upload'
import { storeWithProvider } from './retrieval'

const MiB = 2 ** 20
const FREE = 1
const P = 30
const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const nodeSha256: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

/** Reads the CAR through the verifier; seconds taken. Throws unless every file byte verified. */
async function verified (root: CID, size: number, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  const v = new CarVerifier(root, { hash: nodeSha256 })
  const t = performance.now()
  for await (const chunk of chunks) v.push(chunk)
  v.end()
  const secs = (performance.now() - t) / 1000
  if (v.stats.fileBytesVerified !== size) throw new Error(`verified ${v.stats.fileBytesVerified} of ${size} bytes`)
  return secs
}

export async function benchHttpGateway (mib = Number(process.env.BENCH_GATEWAY_MIB ?? 128)): Promise<{ gatewayMiBPerSec: number, libp2pMiBPerSec: number, ratio: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-gateway-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, rpcPort: null, providers: 2, provingPeriod: P, faucetCooldownMs: 0 })
  const node = await createCofferLibp2p({ allowLoopbackDials: true })
  try {
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
    const provider = d.providers[FREE]!
    if (provider.provider.retrievalTerms().pricePerGiB !== 0n) throw new Error('provider t01002 is expected to retrieve for free')
    await node.dial(multiaddr(provider.libp2p.getMultiaddrs()[0]!.toString()))
    const { packed: { root, carBytes } } = await storeWithProvider(d, node, file, dir, { provider: provider.address })
    const size = mib * MiB

    const overHttp = async (): Promise<number> => {
      const res = await fetch(`${provider.gateway.url}/ipfs/${root.toString()}?format=car&car-dups=y`)
      if (res.status !== 200 || res.body === null) throw new Error(`gateway answered ${res.status}`)
      return await verified(root, size, res.body as unknown as AsyncIterable<Uint8Array>)
    }
    const overLibp2p = async (): Promise<number> => {
      const s = await openRetrieval(node, provider.libp2p.peerId, { root })
      const secs = await verified(root, size, (async function * () {
        for (;;) {
          const n = await s.next()
          if ('done' in n) return
          if ('car' in n) yield n.car
        }
      })())
      await s.close()
      return secs
    }
    // alternating, so a machine that slows down during the run slows both alike
    const http: number[] = []
    const p2p: number[] = []
    for (let i = 0; i < 2; i++) {
      http.push(await overHttp())
      p2p.push(await overLibp2p())
    }
    const carMiB = carBytes / MiB
    const g = carMiB / Math.min(...http)
    const l = carMiB / Math.min(...p2p)
    console.log(`\nHTTP gateway vs libp2p retrieval: ${mib} MiB (random bytes, ${fmt(carMiB)} MiB of CAR) from the free provider on loopback, Node client, every block verified (CarVerifier, node:crypto)`)
    console.log(`  gateway  GET /ipfs/{root}?format=car (fetch): ${fmt(g)} MiB/s of CAR (runs: ${http.map(s => fmt(s, 2)).join(' s, ')} s)`)
    console.log(`  libp2p   /coffer/retrieval/1.1.0:             ${fmt(l)} MiB/s of CAR (runs: ${p2p.map(s => fmt(s, 2)).join(' s, ')} s)`)
    console.log(`  ratio gateway / libp2p: ${fmt(g / l, 2)}x`)
    return { gatewayMiBPerSec: g, libp2pMiBPerSec: l, ratio: g / l }
  } finally {
    await node.stop()
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchHttpGateway()
  process.exit(0)
}
