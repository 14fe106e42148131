// Lying providers on retrieval (issue 16 part 2): a download of a real UnixFS file is offered a liar first and an
// honest provider second (as retrieveFile tries a deal's providers in order). A try fails if a byte that is not the
// file's reaches the user's file (accepted), anything is thrown uncaught (crash), the download does not end with the
// whole file from the honest provider (data lost), or a provider that sent provably bad data is not marked a liar
// for the download (kept).
import { setMaxListeners } from 'node:events'
import { createCofferLibp2p, serveRetrievals, type CofferLibp2p, type CarPart, type RetrievalServerSession } from '../../src/net'
import { UnixfsWalk, carHeader, carSection, idAddressBytes, chainCid, type RetrievalRequest } from '../../src/core'
import { retrieveFile, newDownloadState, type RetrievalProvider } from '../../src/light/retrieval-session'
import { unixfsFile } from '../helpers/unixfs-file'
import { watchCrashes } from './harness'
import type { Row } from './table'

export const RETRIEVAL_LIES = {
  'a block with wrong bytes': { provable: true },
  'another file under the asked root': { provable: true },
  'a CAR header naming another root': { provable: true },
  'an extra block the file does not link': { provable: true },
  'a frame that is no CAR section': { provable: true },
  'the file cut short': { provable: false },
  'never sends a block': { provable: false }
} as const
export type RetrievalLie = keyof typeof RETRIEVAL_LIES

const LEAF = 256 * 1024
type File = Awaited<ReturnType<typeof unixfsFile>>

async function provider (file: File, lie: RetrievalLie | null, other: File, stop: AbortSignal): Promise<CofferLibp2p> {
  const node = await createCofferLibp2p({ role: 'client', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await serveRetrievals(node, {
    accept: async (req: RetrievalRequest) => {
      const session: RetrievalServerSession = {
        terms: { pricePerGiB: 0n, paymentInterval: LEAF, paymentIntervalIncrease: 0 },
        car: (async function * (): AsyncIterable<CarPart> {
          const root = req.root
          const served = lie === 'another file under the asked root' ? other : file
          yield { bytes: carHeader(lie === 'a CAR header naming another root' ? other.root : root), charged: 0 }
          if (lie === 'a frame that is no CAR section') { yield { bytes: Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff), charged: 0 }; return }
          if (lie === 'never sends a block') { await new Promise(resolve => stop.addEventListener('abort', resolve, { once: true })); return }
          // a resumed download asks from where it stands: served as the provider's walk serves a range
          const walk = new UnixfsWalk(served.root, req.range === undefined ? {} : { range: req.range })
          const rootBytes = served.blocks.get(served.root.toString())!
          walk.accept(served.root, rootBytes)
          yield { bytes: carSection(root, rootBytes), charged: 0 }
          let n = 0
          for (let cid = walk.next(); cid !== null; cid = walk.next()) {
            const bytes = served.blocks.get(cid.toString())!
            walk.accept(cid, bytes)
            n++
            if (lie === 'the file cut short' && n > 2) return
            if (lie === 'an extra block the file does not link' && n === 2) {
              const extra = new TextEncoder().encode('not a block of this file')
              yield { bytes: carSection(chainCid(extra), extra), charged: 0 }
            }
            const sent = lie === 'a block with wrong bytes' && n === 2 ? Uint8Array.from(bytes, (b, i) => i === 100 ? b ^ 1 : b) : bytes
            yield { bytes: carSection(cid, sent), charged: 0 }
          }
        })(),
        voucher: async () => 0n,
        end: async () => {}
      }
      return session
    }
  })
  return node
}

export async function retrievalLiars (opts: { repeats: number, lies?: RetrievalLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  let tries = 0
  let accepted = 0
  let lost = 0
  let kept = 0
  const bytes = new Uint8Array(3 * 1024 * 1024 + 12345).map((_, i) => (i * 2654435761) >>> 24)
  const file = await unixfsFile(bytes)
  const other = await unixfsFile(bytes.map(b => b ^ 0x5a))
  const stop = new AbortController()
  setMaxListeners(Infinity, stop.signal)
  const honest = await provider(file, null, other, stop.signal)
  const client = await createCofferLibp2p({ role: 'client', allowLoopbackDials: true })
  const target = (node: CofferLibp2p, address: string): RetrievalProvider => ({
    address, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()),
    terms: { pricePerGiB: 0n, paymentInterval: LEAF, paymentIntervalIncrease: 0 }, worker: idAddressBytes(1000)
  })
  try {
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? Object.keys(RETRIEVAL_LIES) as RetrievalLie[]) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await provider(file, lie, other, stop.signal)
        try {
          const out = new Uint8Array(bytes.length)
          let wrong = false
          const state = newDownloadState(file.root)
          const result = await retrieveFile({
            libp2p: client, root: file.root, providers: [target(liar, 't01001'), target(honest, 't01002')], payer: null, state,
            saveState: async () => {},
            // a silent provider is given up after 5 s here, not the default 30 (what is checked is that it is given up)
            idleTimeoutMs: 5000,
            sink: {
              write: async (offset, b) => {
                if (offset + b.length > bytes.length || b.some((x, i) => x !== bytes[offset + i])) wrong = true
                out.set(b.subarray(0, Math.max(0, Math.min(b.length, bytes.length - offset))), offset)
              }
            }
          }).then(v => v, (err: Error) => err)
          if (wrong) { accepted++; failures.push(`${lie}: a byte that is not the file's was written`) }
          if (result instanceof Error) { lost++; failures.push(`${lie}: the download failed: ${result.name}: ${result.message}`) }
          else if (result.bytes !== bytes.length || result.provider !== 't01002' || !out.every((x, i) => x === bytes[i])) {
            lost++
            failures.push(`${lie}: ${result.bytes} of ${bytes.length} bytes, from ${result.provider}`)
          }
          const liarState = state.providers.t01001?.failure
          if (RETRIEVAL_LIES[lie].provable && liarState?.lied !== true) { kept++; failures.push(`${lie}: the liar is not marked as lying (${JSON.stringify(liarState)})`) }
          console.log(`  ${lie}: ${failures.length === before ? 'refused' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${liarState?.name ?? 'no failure recorded'})`)
        } finally {
          await liar.stop()
        }
      }
    }
  } finally {
    stop.abort()
    await client.stop()
    await honest.stop()
    crashes.stop()
  }
  return { scenario: 'liars: retrieval (CAR blocks, headers, frames)', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: lost, liarsKept: kept, ms: performance.now() - started, failures }
}
