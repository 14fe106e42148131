// Verified range reads of a stored file, for previews: bytes [from, to) fetched through a ranged retrieval (only the
// blocks covering them move, each checked against its CID, paid by voucher only for those), kept in a bounded cache.
//
// A preview is a session: opened once per file (its providers found and priced from verified deals and asks), then
// read many times (a media element asks for range after range). A session pays only with the user's say-so: opened
// without `maxPaid` it reads from free copies only, and says what a priced copy would cost when there is none.
import { CID, FileSizeMismatchError, type AttoFil, type AsyncMultihashFn, type MultihashFn } from '../core'
import type { Dialer } from '../net'
import { priceOfBytes } from '../net'
import { retrieveFile, newDownloadState, type RetrievalProvider, type DownloadState } from './retrieval-session'
import { NoRetrievalProviderError } from './retrieval-views'
import type { RetrievalPayer } from './paych-client'
import type { Found } from './retrieval-providers'
import { createChunkCache } from './chunk-cache'

/**
 * Reads are fetched in whole 256 KiB chunks (the importer's leaf size, src/light/unixfs-car.ts): a provider sends a
 * whole leaf for any byte of it and the client pays for the whole leaf, so keeping all of it costs nothing more, and
 * the next request of a media element (usually just after the last) is then served without paying for that leaf twice.
 */
export const CHUNK_BYTES = 256 * 1024
/**
 * 32 MiB of verified bytes per worker: a media element re-asks for the ranges around its play position and its seek
 * targets, a few MiB each; 32 MiB holds those for a long preview while staying small beside what a tab may use
 * (a phone's tab is killed near a few hundred MiB). Least recently used chunks go first.
 */
export const DEFAULT_CACHE_BYTES = 32 * 2 ** 20
/** The most one read may ask for: a request beyond it is refused (the service worker asks for 1 MiB at a time). */
export const MAX_READ_BYTES = 16 * 2 ** 20
/** Links per inner node of the files' DAGs: ipfs-unixfs-importer's balanced layout default, which src/light/unixfs-car.ts keeps. */
export const DAG_FANOUT = 174
/**
 * The most bytes one inner node of such a DAG takes: 174 PBLinks of at most 51 bytes (Hash 1+1+36 for a CIDv1
 * sha2-256, an empty Name 2, Tsize 1+8, the Links field's tag and length 2) and a UnixFS Data field of at most 1,580
 * (Type 2, filesize 9, 174 blocksizes of 1+8, the field's own tag and length 3).
 */
export const MAX_INNER_NODE_BYTES = 10_454

/** `from`/`to` are not non-negative safe integers. */
export class MalformedRangeError extends RangeError {
  static override name = 'MalformedRangeError'
  override name = 'MalformedRangeError'
  constructor (readonly from: unknown, readonly to: unknown) { super(`range ${String(from)}-${String(to)} is not a pair of byte offsets`) }
}
/** `to` is not after `from` (an empty range is refused too: nothing to read, nothing to pay). */
export class InvertedRangeError extends RangeError {
  static override name = 'InvertedRangeError'
  override name = 'InvertedRangeError'
  constructor (readonly from: number, readonly to: number) { super(`range ${from}-${to} ends before it starts`) }
}
/** The range runs past the file's end. */
export class RangeBeyondEndError extends RangeError {
  static override name = 'RangeBeyondEndError'
  override name = 'RangeBeyondEndError'
  constructor (readonly from: number, readonly to: number, readonly size: number) { super(`range ${from}-${to} runs past the end of the ${size}-byte file`) }
}
/** One read asks for more than MAX_READ_BYTES. */
export class RangeTooLargeError extends RangeError {
  static override name = 'RangeTooLargeError'
  override name = 'RangeTooLargeError'
  constructor (readonly bytes: number, readonly max: number) { super(`a read of ${bytes} bytes is more than the ${max} one read may ask for`) }
}
/** No preview session by that id (closed, or opened in another worker). */
export class UnknownPreviewError extends Error {
  static override name = 'UnknownPreviewError'
  override name = 'UnknownPreviewError'
  constructor (readonly session: string) { super(`no preview session ${session}: open the preview again`) }
}
/** The read would take the session past what the user allowed it to pay. */
export class PreviewBudgetError extends Error {
  static override name = 'PreviewBudgetError'
  override name = 'PreviewBudgetError'
  constructor (readonly paid: AttoFil, readonly maxPaid: AttoFil, readonly next: AttoFil) {
    super(`this preview has paid ${paid} of the ${maxPaid} attoFIL allowed; the next read could cost up to ${next} more`)
  }
}

/** The file to read: as the Files view knows it. */
export interface RangeFile { root: string, size: number, dealIds: number[], carBytes?: number }

/** What opening a preview found: a session to read with, or why none opened without paying. */
export type PreviewOpening =
  | { session: string, providers: string[], priced: boolean, maxPaid: string }
  /**
   * Only priced copies, and no allowance given: the cheapest copy (tried first) and what a preview costs at most:
   * the whole file read once, range by range, at the dearest copy (previewQuote). Allowing `maxPrice` lets the
   * preview read every byte once, whichever copy serves.
   */
  | { session: null, needsPayment: { provider: string, pricePerGiB: string, maxPrice: string } }

export interface RangeRead {
  bytes: Uint8Array
  /** The file's size. */
  size: number
  /** Who served the chunks this read fetched (null: all from the cache). */
  provider: string | null
  /** attoFIL this read paid, and this session in all. */
  paid: string
  sessionPaid: string
  /** DAG block bytes this read received and verified (file leaves and the nodes above them). */
  blockBytes: number
  /** How many of the read's chunks came from the cache. */
  cachedChunks: number
  chunks: number
}

export interface RangeReaderInit {
  libp2p: Dialer
  /** The file's providers from its deals, cheapest first (findRetrievalProviders). */
  find: (root: string, dealIds: number[], signal?: AbortSignal) => Promise<Found>
  /** The payment-channel client the downloads use (throws NoWalletKeyError / WalletLockedError when it cannot pay). */
  payer: () => Promise<RetrievalPayer>
  cacheBytes?: number
  hash?: MultihashFn
  /** As RetrieveFileOptions' hashAsync. */
  hashAsync?: AsyncMultihashFn
  /** A session id; tests pass a counter. */
  newId?: () => string
}

export interface RangeReader {
  open: (file: RangeFile, opts?: { maxPaid?: AttoFil }, signal?: AbortSignal) => Promise<PreviewOpening>
  read: (session: string, from: number, to: number, signal?: AbortSignal) => Promise<RangeRead>
  close: (session: string) => void
  /** Bytes the cache holds now (for tests and the preview's figures). */
  cachedBytes: () => number
}

interface Session {
  file: RangeFile
  providers: RetrievalProvider[]
  maxPaid: AttoFil
  paid: AttoFil
  /** Each provider's lane from this session's earlier reads (reused, so a preview opens one lane per provider). */
  lanes: Map<string, { channel: string, lane: number, paid: string }>
  /** Providers that sent a bad block: never asked again in this session. */
  liars: Set<string>
  /**
   * The session's priced fetches, one after another: they share one lane per provider, whose vouchers are cumulative
   * (two retrievals on it at once sign over each other's amounts and the provider refuses the lower), and each checks
   * the allowance against what the one before it paid (side by side, racing reads would each pass and together overspend).
   */
  paying: Promise<unknown>
}

/** Inner levels of the DAG above `chunks` leaves (0: a single leaf is the whole DAG). */
function innerLevels (chunks: number): number {
  let levels = 0
  for (let n = chunks; n > 1; n = Math.ceil(n / DAG_FANOUT)) levels++
  return levels
}

/**
 * The most DAG-node bytes one fetch of `runChunks` adjacent leaves is sent above them (and pays for: a ranged
 * retrieval walks from the root again each time). A run of at most 64 leaves (MAX_READ_BYTES) lies under at most two
 * nodes of each level, and never under more bytes than all inner nodes together (the CAR less the file's bytes).
 */
export function nodesAbove (file: Pick<RangeFile, 'size' | 'carBytes'>, runChunks: number): number {
  const byLayout = innerLevels(Math.ceil(file.size / CHUNK_BYTES)) * Math.min(runChunks, 2) * MAX_INNER_NODE_BYTES
  return file.carBytes === undefined ? byLayout : Math.min(byLayout, Math.max(0, file.carBytes - file.size))
}

/**
 * What reading the whole file once costs at most at `pricePerGiB`, however the reads fall: each leaf once, and each
 * fetch's nodes above it (at most one fetch per leaf, each under at most one node of each level per leaf it brings,
 * so the sum is bounded by leaves × levels × node, and by leaves × all inner nodes), plus one attoFIL per fetch for
 * the voucher's rounding up. A session's reads each reserve their share of this (readReservation), so an allowance
 * of this much is never refused before every byte has been read once.
 */
export function previewQuote (file: Pick<RangeFile, 'size' | 'carBytes'>, pricePerGiB: AttoFil): AttoFil {
  const chunks = Math.ceil(file.size / CHUNK_BYTES)
  const pass = file.size + chunks * nodesAbove(file, 1)
  return priceOfBytes(Math.max(file.carBytes ?? 0, pass), pricePerGiB) + BigInt(chunks)
}

/** The most one fetch of chunks [first, last] can cost at `pricePerGiB`: its bytes and the nodes above them. */
function readReservation (file: RangeFile, first: number, last: number, pricePerGiB: AttoFil): AttoFil {
  const bytes = Math.min(file.size, (last + 1) * CHUNK_BYTES) - first * CHUNK_BYTES
  return priceOfBytes(bytes + nodesAbove(file, last - first + 1), pricePerGiB)
}

/** One fetch's outcome: who served it, the DAG bytes verified, what it paid, and its chunks in order. */
interface Fetched { provider: string, blockBytes: number, paid: AttoFil, chunks: Uint8Array[] }

/** Checks a requested range against the file: the named error for each way it can be wrong, before anything moves. */
export function checkRange (from: unknown, to: unknown, size: number): { from: number, to: number } {
  if (typeof from !== 'number' || typeof to !== 'number' || !Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < 0) throw new MalformedRangeError(from, to)
  if (to <= from) throw new InvertedRangeError(from, to)
  if (to > size) throw new RangeBeyondEndError(from, to, size)
  if (to - from > MAX_READ_BYTES) throw new RangeTooLargeError(to - from, MAX_READ_BYTES)
  return { from, to }
}

export function createRangeReader (init: RangeReaderInit): RangeReader {
  const capacity = init.cacheBytes ?? DEFAULT_CACHE_BYTES
  let counter = 0
  const newId = init.newId ?? (() => `${Date.now().toString(36)}-${(++counter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`)
  const sessions = new Map<string, Session>()
  /** Verified chunks by `${root}:${index}`, shared by the worker's sessions. */
  const cache = createChunkCache(capacity)
  /** Chunks being fetched, so two overlapping reads wait for one retrieval instead of paying twice. */
  const inflight = new Map<string, Promise<void>>()

  const open = async (file: RangeFile, opts: { maxPaid?: AttoFil } = {}, signal?: AbortSignal): Promise<PreviewOpening> => {
    CID.parse(file.root)
    if (!Number.isSafeInteger(file.size) || file.size < 0) throw new MalformedRangeError(0, file.size)
    const found = await init.find(file.root, file.dealIds, signal)
    const all = found.candidates.map(c => c.provider)
    const maxPaid = opts.maxPaid ?? 0n
    // without an allowance only free copies serve: no channel is opened, nothing is paid, without the user's say-so
    const usable = maxPaid > 0n ? all : all.filter(p => p.terms.pricePerGiB === 0n)
    if (usable.length === 0) {
      const cheapest = all[0]
      if (cheapest === undefined) throw new NoRetrievalProviderError(found.refused)
      // quoted at the dearest copy: a session reads from whichever copy answers (the cheapest first, the next when one
      // fails), and each read reserves its price at the dearest, so a quote at the cheapest ran out before the file's end
      const dearest = all.reduce((m, p) => p.terms.pricePerGiB > m.terms.pricePerGiB ? p : m)
      return { session: null, needsPayment: { provider: cheapest.address, pricePerGiB: cheapest.terms.pricePerGiB.toString(), maxPrice: previewQuote(file, dearest.terms.pricePerGiB).toString() } }
    }
    const id = newId()
    sessions.set(id, { file, providers: usable, maxPaid, paid: 0n, lanes: new Map(), liars: new Set(), paying: Promise.resolve() })
    return { session: id, providers: usable.map(p => p.address), priced: usable.some(p => p.terms.pricePerGiB > 0n), maxPaid: maxPaid.toString() }
  }

  /** attoFIL every lane of the session holds: lanes are cumulative, so what a read paid is the change in this. */
  const lanesTotal = (s: Session): AttoFil => [...s.lanes.values()].reduce((n, l) => n + BigInt(l.paid), 0n)

  /** Fetches chunks [first, last] (inclusive) in one ranged retrieval, into the cache; a priced session's one at a time. */
  const fetchRun = async (s: Session, first: number, last: number, signal?: AbortSignal): Promise<Fetched> => {
    if (!s.providers.some(p => p.terms.pricePerGiB > 0n)) return await fetchRunNow(s, first, last, signal)
    const run = s.paying.then(async () => await fetchRunNow(s, first, last, signal))
    s.paying = run.catch(() => {})
    return await run
  }

  const fetchRunNow = async (s: Session, first: number, last: number, signal?: AbortSignal): Promise<Fetched> => {
    signal?.throwIfAborted()
    const { root, size } = s.file
    const before = lanesTotal(s)
    const from = first * CHUNK_BYTES
    const to = Math.min(size, (last + 1) * CHUNK_BYTES)
    const providers = s.providers.filter(p => !s.liars.has(p.address))
    const priced = providers.some(p => p.terms.pricePerGiB > 0n)
    if (priced) {
      // the most this fetch can cost: its leaves and the DAG nodes above them, at the dearest copy (a failing copy hands
      // over to the next); what earlier fetches paid is at most what they reserved, so an allowance of previewQuote
      // reads the whole file once (a chunk the cache dropped and a provider's failover cost again: beyond "once")
      const dearest = providers.reduce((m, p) => p.terms.pricePerGiB > m.terms.pricePerGiB ? p : m)
      const next = readReservation(s.file, first, last, dearest.terms.pricePerGiB)
      if (s.paid + next > s.maxPaid) throw new PreviewBudgetError(s.paid, s.maxPaid, next)
    }
    // a channel is funded as a download's is, for what the user allowed (the session's remaining allowance, in bytes at
    // each provider's price): funded once, later reads need no AddFunds on chain (a block time each, measured ~1.9 s
    // for a 1 MiB read on the devnet when each read funded only itself)
    const left = s.maxPaid - s.paid
    // bytes ↔ attoFIL rounds: the fetch that first funds a provider's lane rounds the allowance's bytes up (the channel
    // then holds at least the allowance), later ones round what is left down (their price then fits what the channel
    // holds): rounded the same way each time, the last attoFIL of a fetch's need could exceed the funds and cost an
    // AddFunds message (a block time) for 1 attoFIL
    const funded = providers.map(p => {
      if (p.terms.pricePerGiB === 0n || left <= 0n) return p
      const scaled = left * 2n ** 30n
      const bytes = s.lanes.has(p.address) ? scaled / p.terms.pricePerGiB : (scaled + p.terms.pricePerGiB - 1n) / p.terms.pricePerGiB
      return { ...p, quoteBytes: Math.max(to - from, Math.min(Number.MAX_SAFE_INTEGER, Number(bytes))) }
    })
    const state: DownloadState = newDownloadState(root, { from, to })
    // this session's lanes: each read goes on the lane the last one used (prepare() reuses it, topping the channel up)
    for (const [addr, l] of s.lanes) state.providers[addr] = { channel: l.channel, lane: l.lane, paid: l.paid, verifiedBlockBytes: 0, failure: null }
    const out = new Uint8Array(to - from)
    let served: { provider: string, blockBytes: number, chunks: Uint8Array[] }
    try {
      const r = await retrieveFile({
        libp2p: init.libp2p,
        root: CID.parse(root),
        range: { from, to },
        providers: funded,
        payer: priced ? await init.payer() : null,
        sink: { write: async (offset, b) => { out.set(b, offset - from) } },
        state,
        // a preview's reads are not resumed after a closed tab: the lanes' amounts are kept by the channel store
        saveState: async () => {},
        ...(signal === undefined ? {} : { signal }),
        ...(init.hash === undefined ? {} : { hash: init.hash }),
        ...(init.hashAsync === undefined ? {} : { hashAsync: init.hashAsync })
      })
      // the size the page claimed is not the DAG's: the bytes verified, but offsets past the true end mean nothing
      if (state.fileSize !== null && state.fileSize !== size) throw new FileSizeMismatchError(CID.parse(root), BigInt(size), BigInt(state.fileSize))
      const chunks: Uint8Array[] = []
      for (let i = first; i <= last; i++) {
        const chunk = out.slice(i * CHUNK_BYTES - from, Math.min(size, (i + 1) * CHUNK_BYTES) - from)
        cache.put(`${root}:${i}`, chunk)
        chunks.push(chunk)
      }
      served = { provider: r.provider, blockBytes: Object.values(state.providers).reduce((n, p) => n + p.verifiedBlockBytes, 0), chunks }
    } finally {
      // what every lane now holds (paid on a failure too: those bytes were verified) and who lied
      for (const [addr, p] of Object.entries(state.providers)) {
        if (p.channel !== null && p.lane !== null) s.lanes.set(addr, { channel: p.channel, lane: p.lane, paid: p.paid })
        if (p.failure?.lied === true) s.liars.add(addr)
      }
      s.paid = lanesTotal(s)
    }
    return { ...served, paid: s.paid - before }
  }

  const read = async (id: string, fromIn: number, toIn: number, signal?: AbortSignal): Promise<RangeRead> => {
    const s = sessions.get(id)
    if (s === undefined) throw new UnknownPreviewError(id)
    const { from, to } = checkRange(fromIn, toIn, s.file.size)
    const { root } = s.file
    const first = Math.floor(from / CHUNK_BYTES)
    const last = Math.floor((to - 1) / CHUNK_BYTES)
    let provider: string | null = null
    let paid = 0n
    let blockBytes = 0
    let cachedChunks = 0
    // this read's chunks, held by the read itself until it assembles them: the shared cache may drop one meanwhile
    // (racing reads fill it), so the read never looks one up there again after it has it
    const held: Uint8Array[] = []
    // the missing chunks, fetched run by run (a run of adjacent chunks is one retrieval: the nodes above it move once)
    let i = first
    while (i <= last) {
      const key = `${root}:${i}`
      const waiting = inflight.get(key)
      if (waiting !== undefined) await waiting
      // (a chunk another read was fetching and failed, or that was dropped since, is fetched again below)
      const hit = cache.get(key)
      if (hit !== undefined) { held[i - first] = hit; cachedChunks++; i++; continue }
      let j = i
      while (j + 1 <= last && !cache.has(`${root}:${j + 1}`) && !inflight.has(`${root}:${j + 1}`)) j++
      const run = fetchRun(s, i, j, signal)
      const done = run.then(() => {}, () => {})
      for (let k = i; k <= j; k++) inflight.set(`${root}:${k}`, done)
      try {
        const r = await run
        r.chunks.forEach((c, k) => { held[i + k - first] = c })
        provider = r.provider
        paid += r.paid
        blockBytes += r.blockBytes
      } finally {
        for (let k = i; k <= j; k++) inflight.delete(`${root}:${k}`)
      }
      i = j + 1
    }
    const out = new Uint8Array(to - from)
    for (let k = first; k <= last; k++) {
      const chunk = held[k - first]!
      const start = k * CHUNK_BYTES
      const a = Math.max(from, start)
      const b = Math.min(to, start + chunk.length)
      out.set(chunk.subarray(a - start, b - start), a - from)
    }
    return { bytes: out, size: s.file.size, provider, paid: paid.toString(), sessionPaid: s.paid.toString(), blockBytes, cachedChunks, chunks: last - first + 1 }
  }

  return {
    open,
    read,
    close: (id) => { sessions.delete(id) },
    cachedBytes: () => cache.bytes()
  }
}
