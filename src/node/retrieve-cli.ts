// `coffer retrieve <payload CID> --out FILE`: the shell's retrieval, as `lotus client retrieve` once was. The same
// engine as the tab (src/light/retrieval-session.ts, paych-client.ts); the chain is read and written through the
// full node's Lotus-style JSON-RPC, trusted as a Lotus client trusts its own node (its state root is taken on its
// word; every record under it is re-walked here over blocks checked against their CIDs).
import { open, readFile, rename, mkdir } from 'node:fs/promises'
import { existsSync, createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { base64pad } from 'multiformats/bases/base64'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  CID, parseAddress, addressToString, bytesEqual, formatFil, readChannel, verifyStorageAsk, signVoucher,
  signMessage, gasLimitFor, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type Message, type ByteRange, type AttoFil, type ChannelRecord
} from '../core'
import { createCofferLibp2p, parseBootstrap, requestAsk, type BootstrapDocument, type BootstrapProvider, type CofferLibp2p } from '../net'
import {
  PaychClient, channelReadPerState, retrieveFile, newDownloadState, parseLotusExport, keyAddressBytes, AllProvidersFailedError,
  type PaychChain, type PaychStore, type StoredChannel, type DownloadState, type RetrievalProvider
} from '../light'
import { signedMessageToLotus } from './rpc/lotus-json'
import { readOverRpc, VerifiedBlockCache } from './rpc-state-read'

export const RETRIEVE_USAGE = `coffer retrieve <payload CID> --out FILE [--provider t0…] [--range FROM-TO] [--key FILE] [--network URL] [--data DIR]

  --out FILE      where the file goes (a range: just its bytes)
  --provider t0…  retrieve from this provider only (default: every provider whose deals hold the payload, cheapest first)
  --range A-B     file bytes A (inclusive) to B (exclusive)
  --key FILE      a Lotus key export (lotus wallet export) that pays priced providers; free ones need none
  --network URL   the network's bootstrap document (default http://127.0.0.1:5173/bootstrap.json)
  --data DIR      keep channel and download records here (default: beside the output, FILE.retrieval.json)
  Rerun the same command after an interruption: it resumes from the verified bytes and never pays twice.`

export class RetrieveUsageError extends Error {
  static override name = 'RetrieveUsageError'
  override name = 'RetrieveUsageError'
}

/** The node answered a JSON-RPC call with an error. */
export class RpcCallError extends Error {
  static override name = 'RpcCallError'
  override name = 'RpcCallError'
  constructor (readonly method: string, readonly rpcCode: number, message: string) { super(`${method}: ${message}`) }
}

/** No provider to ask: no deal on chain holds the payload, or neither the bootstrap document nor the chain gives an address for those that do. */
export class NoProvidersError extends Error {
  static override name = 'NoProvidersError'
  override name = 'NoProvidersError'
}

export type Rpc = <T = unknown>(method: string, params: unknown[]) => Promise<T>

export function rpcClient (url: string): Rpc {
  let id = 0
  return async <T>(method: string, params: unknown[]): Promise<T> => {
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) })
    const body = await res.json() as { result?: T, error?: { code: number, message: string } }
    if (body.error !== undefined) throw new RpcCallError(method, body.error.code, body.error.message)
    return body.result as T
  }
}

interface LotusHead { Height: number, Blocks: Array<{ ParentStateRoot: { '/': string } }> }

/** The chain as the CLI sees it: the node's RPC, messages signed here with the key file's key. */
export function rpcPaychChain (rpc: Rpc, key: { secret: Uint8Array, address: Uint8Array }): PaychChain & { head: () => Promise<number> } {
  let height = 0
  const blocks = new VerifiedBlockCache()
  const readObj = async (cid: string): Promise<string> => await rpc<string>('Filecoin.ChainReadObj', [{ '/': cid }])
  // one push at a time, from asking the nonce to the pool taking the message: sends for channels to different
  // providers run side by side (paych-client.ts), and two must not take one nonce. The wait for execution is not held.
  let pushes: Promise<unknown> = Promise.resolve()
  const pushing = async (push: () => Promise<string>): Promise<string> => {
    const run = pushes.then(push, push)
    pushes = run.catch(() => {})
    return await run
  }
  const waitFor = async (cid: string): Promise<{ exitCode: number, return: Uint8Array }> => {
    const r = await rpc<{ Receipt: { ExitCode: number, Return: string | null } }>('Filecoin.StateWaitMsg', [{ '/': cid }, 0])
    return { exitCode: r.Receipt.ExitCode, return: r.Receipt.Return === null ? new Uint8Array(0) : base64pad.baseDecode(r.Receipt.Return) }
  }
  return {
    head: async () => { height = (await rpc<LotusHead>('Filecoin.ChainHead', [])).Height; return height },
    headEpoch: () => height,
    // read at the head's parent state root: once per state root for each channel
    channel: channelReadPerState(async () => {
      const head = await rpc<LotusHead>('Filecoin.ChainHead', [])
      height = head.Height
      return head.Blocks[0]!.ParentStateRoot['/']
    }, async (a, root): Promise<ChannelRecord | null> => await readOverRpc(readObj, blocks, CID.parse(root), (g, r) => readChannel(g, r, a))),
    waitFor,
    send: async (m, onSent) => {
      const cid = await pushing(async () => {
        const nonce = await rpc<number>('Filecoin.MpoolGetNonce', [addressToString(key.address)])
        // the same gas every Coffer sender offers (the wallet's): a fixed premium, the cap at twice the base fee
        const unsigned: Message = { version: 0, to: m.to, from: key.address, nonce, value: m.value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: m.method, params: m.params }
        const sm = signMessage(key.secret, { ...unsigned, gasLimit: gasLimitFor(unsigned) })
        return (await rpc<{ '/': string }>('Filecoin.MpoolPush', [signedMessageToLotus(sm)]))['/']
      })
      onSent?.(cid)
      return { cid, ...(await waitFor(cid)) }
    }
  }
}

/** Records on disk as one JSON document, replaced atomically (written, synced, renamed) and one write at a time. */
class JsonRecords<T> {
  private queue: Promise<unknown> = Promise.resolve()
  constructor (readonly file: string) {}
  async read (): Promise<T | undefined> {
    if (!existsSync(this.file)) return undefined
    return JSON.parse(await readFile(this.file, 'utf8')) as T
  }

  async write (value: T): Promise<void> {
    const text = JSON.stringify(value, null, 1)
    const run = this.queue.then(async () => {
      const tmp = `${this.file}.tmp`
      const fh = await open(tmp, 'w')
      try { await fh.writeFile(text); await fh.sync() } finally { await fh.close() }
      await rename(tmp, this.file)
    })
    this.queue = run.catch(() => {})
    await run
  }
}

interface RecordFile { version: 1, downloads: Record<string, DownloadState>, channels: StoredChannel[] }

export function parseRange (text: string): ByteRange {
  const m = /^(\d+)-(\d+)$/.exec(text)
  if (m === null) throw new RetrieveUsageError(`--range takes FROM-TO (bytes, TO exclusive), not ${text}`)
  const range = { from: Number(m[1]), to: Number(m[2]) }
  if (!Number.isSafeInteger(range.to) || range.to <= range.from) throw new RetrieveUsageError(`--range ${text} is empty or too large`)
  return range
}

interface DealView { Proposal: { Provider: string, Label: string, PieceSize: number, EndEpoch: number }, State: { SlashEpoch: number } }

export async function retrieveCommand (argv: string[], out: { log: (line: string) => void, progress: (line: string) => void } = {
  log: (l) => { process.stdout.write(`${l}\n`) },
  progress: (l) => { process.stderr.write(`${l}\n`) }
}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' }, provider: { type: 'string' }, range: { type: 'string' }, key: { type: 'string' },
      network: { type: 'string', default: 'http://127.0.0.1:5173/bootstrap.json' }, data: { type: 'string' }
    }
  })
  const [rootText] = positionals
  if (rootText === undefined || values.out === undefined) throw new RetrieveUsageError('a payload CID and --out FILE are needed')
  let root: CID
  try { root = CID.parse(rootText) } catch { throw new RetrieveUsageError(`${rootText} is not a CID`) }
  const range = values.range === undefined ? undefined : parseRange(values.range)
  const outFile = path.resolve(values.out)

  const docRes = await fetch(values.network)
  if (!docRes.ok) throw new Error(`${values.network} answered HTTP ${docRes.status}`)
  const doc: BootstrapDocument = parseBootstrap(await docRes.json())
  if (doc.rpc === undefined) throw new Error(`${values.network} names no JSON-RPC endpoint to read the chain through`)
  const rpc = rpcClient(doc.rpc)

  // who holds the payload: providers whose live deals carry it as their Label (Filecoin clients put the root there)
  const head = await rpc<LotusHead>('Filecoin.ChainHead', [])
  const wanted = new Map<string, number>()
  if (values.provider !== undefined) {
    wanted.set(addressToString(parseAddress(values.provider).bytes), 0)
  } else {
    const deals = await rpc<Record<string, DealView>>('Filecoin.StateMarketDeals', [null])
    for (const d of Object.values(deals)) {
      if (d.Proposal.Label !== root.toString() || d.State.SlashEpoch !== -1 || d.Proposal.EndEpoch <= head.Height) continue
      wanted.set(d.Proposal.Provider, Math.max(wanted.get(d.Proposal.Provider) ?? 0, d.Proposal.PieceSize))
    }
    if (wanted.size === 0) throw new NoProvidersError(`no live deal on chain holds ${root.toString()}`)
  }
  const listed = new Map((doc.providers ?? []).map(p => [p.address, p]))
  // a provider that joined after the document was written is found where Filecoin records it: its miner's PeerId and
  // Multiaddrs on chain (what Lotus's StateMinerInfo shows; the peer is checked against the chain again below)
  const onChain = async (address: string): Promise<BootstrapProvider[]> => {
    const info = await rpc<{ PeerId: string | null, Multiaddrs: string[] | null }>('Filecoin.StateMinerInfo', [address, null]).catch(() => null)
    if (info?.PeerId == null || info.Multiaddrs == null || info.Multiaddrs.length === 0) return []
    const addrs = info.Multiaddrs.flatMap(m => { try { return [multiaddr(base64pad.baseDecode(m)).toString()] } catch { return [] } })
    return addrs.length === 0 ? [] : [{ address, peerId: info.PeerId, addrs }]
  }
  const reachable = (await Promise.all([...wanted.keys()].map(async a => listed.has(a) ? [listed.get(a)!] : await onChain(a)))).flat()
  if (reachable.length === 0) throw new NoProvidersError(`neither the network's document nor the chain gives an address for ${[...wanted.keys()].join(', ')}`)

  const libp2p = await createCofferLibp2p({ role: 'client', allowLoopbackDials: true })
  try {
    const providers: RetrievalProvider[] = []
    for (const b of reachable) {
      try {
        providers.push(await verifiedProvider(libp2p, rpc, b, head.Height, wanted.get(b.address) ?? 0))
      } catch (err) {
        out.progress(`${b.address}: skipped: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }
    if (providers.length === 0) throw new NoProvidersError(`no provider of ${root.toString()} answered with a valid ask`)
    // free first, then cheapest: as a user would choose by the asks
    providers.sort((a, b) => a.terms.pricePerGiB < b.terms.pricePerGiB ? -1 : a.terms.pricePerGiB > b.terms.pricePerGiB ? 1 : a.address.localeCompare(b.address))

    let key: { secret: Uint8Array, address: Uint8Array } | undefined
    if (values.key !== undefined) {
      const k = parseLotusExport(await readFile(values.key, 'utf8'))
      key = { secret: k.secret, address: keyAddressBytes(k.type, k.secret) }
    }

    const recordsFile = values.data === undefined ? `${outFile}.retrieval.json` : path.join(path.resolve(values.data), 'retrievals.json')
    if (values.data !== undefined) await mkdir(path.resolve(values.data), { recursive: true })
    const records = new JsonRecords<RecordFile>(recordsFile)
    const saved: RecordFile = await records.read() ?? { version: 1, downloads: {}, channels: [] }
    const downloadKey = `${outFile}|${root.toString()}|${range === undefined ? '' : `${range.from}-${range.to}`}`
    const channels = new Map(saved.channels.map(c => [c.key, c]))
    const persist = async (): Promise<void> => { await records.write({ ...saved, channels: [...channels.values()] }) }
    const store: PaychStore = {
      list: async () => [...channels.values()].map(c => structuredClone(c)),
      put: async (c) => { channels.set(c.key, structuredClone(c)); await persist() }
    }
    // the download's live state is its own: the records hold only copies saved after their bytes reached the disk
    // (the payer writes the records too, while the download goes on)
    let state = saved.downloads[downloadKey] === undefined ? undefined : structuredClone(saved.downloads[downloadKey])
    const fresh = state === undefined || !existsSync(outFile)
    if (fresh) {
      state = newDownloadState(root, range)
      saved.downloads[downloadKey] = structuredClone(state)
      await persist()
    } else {
      out.progress(`resuming from byte ${state!.verifiedOffset}${state!.complete ? ' (already complete)' : ''}`)
    }

    let payer: PaychClient | null = null
    if (key !== undefined) {
      const chain = rpcPaychChain(rpc, key)
      await chain.head()
      const signer = { address: key.address, sign: async (v: Parameters<typeof signVoucher>[2]) => signVoucher(key!.secret, key!.address, v) }
      // no cross-process lock: the records file is this run's alone (one per output file; two runs sharing --data at
      // once are not supported), so the client's in-process queues (per provider, and the chain's pushes) are all the
      // ordering its lanes and nonces need
      payer = new PaychClient({ chain, store, signer })
    }

    const from = range?.from ?? 0
    const fh = await open(outFile, fresh ? 'w' : 'r+')
    let last = 0
    try {
      const result = await retrieveFile({
        libp2p,
        root,
        ...(range === undefined ? {} : { range }),
        providers,
        payer,
        sink: { write: async (offset, bytes) => { await fh.write(bytes, 0, bytes.length, offset - from) } },
        state: state!,
        // the written bytes reach the disk before the offset that counts them does: after a power cut a rerun
        // must not skip bytes that were never stored
        saveState: async (s) => { const copy = structuredClone(s); await fh.datasync(); saved.downloads[downloadKey] = copy; await persist() },
        onProgress: (p) => {
          const now = performance.now()
          if (now - last < 500 && p.verifiedBytes !== p.totalBytes) return
          last = now
          const total = p.totalBytes === null ? '?' : (p.totalBytes / 2 ** 20).toFixed(2)
          out.progress(`${p.provider}: ${(p.verifiedBytes / 2 ** 20).toFixed(2)} / ${total} MiB verified, paid ${formatFil(p.paid)}${p.rate === null ? '' : `, ${(p.rate / 2 ** 20).toFixed(1)} MiB/s`}`)
        }
      })
      await fh.truncate(result.bytes)
      await fh.sync()
      for (const [address, p] of Object.entries(state!.providers)) {
        if (p.failure !== null) out.log(`${address} dropped at byte ${p.failure.atOffset}: ${p.failure.name}${p.failure.code === null ? '' : ` ${p.failure.code}`}: ${p.failure.message}`)
      }
      out.log(`retrieved ${result.bytes} bytes of ${root.toString()} to ${outFile} from ${result.provider}`)
      out.log(`sha256 ${await sha256File(outFile)}`)
      if (result.payments.length === 0) out.log('paid nothing (free retrieval)')
      for (const pay of result.payments) {
        const worker = providers.find(p => p.address === pay.provider)?.worker
        out.log(`paid ${formatFil(pay.amount)} to ${pay.provider}${worker === undefined ? '' : ` (worker ${addressToString(worker)})`} on channel ${pay.channel} lane ${pay.lane}`)
      }
      return 0
    } catch (err) {
      if (err instanceof AllProvidersFailedError) {
        for (const f of err.failures) out.log(`${f.provider}: ${f.name}${f.code === null ? '' : ` ${f.code}`}: ${f.message}`)
      }
      throw err
    } finally {
      await fh.close()
    }
  } finally {
    await libp2p.stop()
  }
}

/** The provider's ask, checked against its worker on chain, and where to dial it (its peer ID must be the chain's). */
async function verifiedProvider (libp2p: CofferLibp2p, rpc: Rpc, b: BootstrapProvider, height: number, quoteBytes: number): Promise<RetrievalProvider> {
  const info = await rpc<{ Worker: string, PeerId: string }>('Filecoin.StateMinerInfo', [b.address, null])
  if (info.PeerId !== b.peerId) throw new Error(`the network lists peer ${b.peerId} for ${b.address}, the chain ${info.PeerId}`)
  const worker = parseAddress(info.Worker).bytes
  const peer = peerIdFromString(b.peerId)
  let dialed: Error | undefined
  for (const a of b.addrs) {
    try { await libp2p.dial(multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${b.peerId}`), { signal: AbortSignal.timeout(10_000) }); dialed = undefined; break } catch (err) { dialed = err as Error }
  }
  if (dialed !== undefined) throw dialed
  const signed = await requestAsk(libp2p, peer, AbortSignal.timeout(30_000))
  verifyStorageAsk(signed, worker, height)
  if (!bytesEqual(signed.ask.miner, parseAddress(b.address).bytes)) throw new Error(`${b.address} sent another provider's ask`)
  return {
    address: b.address, peerId: b.peerId, addrs: b.addrs, worker,
    terms: { pricePerGiB: signed.ask.retrievalPricePerGiB as AttoFil, paymentInterval: signed.ask.paymentInterval, paymentIntervalIncrease: signed.ask.paymentIntervalIncrease },
    // the deal records the padded piece size, an upper bound on the payload the quote is for
    ...(quoteBytes > 0 ? { quoteBytes } : {})
  }
}

async function sha256File (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}
