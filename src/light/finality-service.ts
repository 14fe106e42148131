// Finality in the tab (issue 14): keeps the certificate chain up to date (f3-sync.ts), and when the finalized
// tipset is above the verified head — a new tab, or one closed for a long time — jumps there: the finalized
// tipset and the lookback run below it are fetched and checked by hash link (linked-run.ts), stored as the
// chain, and header sync starts over on top of them, checking by Expected Consensus only what came after. The
// same rule keeps a head on a fork that left the finalized tipset from standing: finality outranks weight. Below
// the jump nothing is fetched until something asks (backfill: the Chain view scrolled back, a deal's challenge block).
import {
  tipSetKeyCids, tipSetKeyBytes, bytesEqual, decodeCertificate, WINNING_POST_SECTOR_SET_LOOKBACK,
  type Genesis, type Epoch, type ExchangeResponse, type CID, type PowerEntry, type BdnVerifier, type FinalityCertificate, type TipSet
} from '../core'
import type { CertExchangeRequest, CertExchangeResponse } from '../net'
import type { HeaderStore } from './header-store'
import type { EcHeaderSync } from './ec-header-sync'
import type { F3CertStore } from './f3-cert-store'
import { F3Sync, type SignatureBatchCheck } from './f3-sync'
import { storedFinalityStatus } from './starting-status'
import { fetchLinkedRun, type LinkedRunInit } from './linked-run'
import { backfillBelowFloor } from './chain-page'

export interface FinalityStatus {
  /** The last certified instance (−1: none yet), the tipset it finalized and how far the verified head is beyond it. */
  instance: number
  finalizedEpoch: Epoch
  finalizedCid: string | null
  headBeyond: Epoch
  /** A node claims certificates no node would serve this tab: it says so rather than look up to date. */
  behind: boolean
  knownInstances: number
  verified: number
  verifyMs: number
  /** The BLS library that checked them: 'mcl-wasm' in the tab, 'noble' where it could not load. */
  verifier: string | null
  /** The most threads that checked them side by side (the node's and its tabs' workers). */
  verifyThreads: number
  /** Headers fetched by hash link below the finalized tipset (the lookback), at the last jump. */
  jumpedFromEpoch: Epoch | null
  /** What this session received for them: certificate exchange responses, and the headers of jumps and backfills. */
  certificateBytes: number
  headerBytes: number
  lowestHeight: Epoch
}

export interface FinalityServiceInit {
  genesis: Genesis
  headers: HeaderStore
  certs: F3CertStore
  sync: EcHeaderSync
  peers: () => string[]
  fetchCertificates: (peer: string, req: CertExchangeRequest) => Promise<CertExchangeResponse>
  fetchChain: (peer: string, key: CID[], length: number) => Promise<ExchangeResponse>
  initialPowerTable: () => Promise<PowerEntry[]>
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
  onChange: () => void
  /** The aggregate-signature checker (the tab's WASM one); noble's when left out. */
  verifier?: () => Promise<BdnVerifier>
  /** Tipsets kept below the finalized one: what checking the blocks after it reads (Lotus's lookback). */
  lookback?: Epoch
  /** Notes that a step of the first sync ended (the node's startup record). */
  mark?: (phase: string) => void
  /** Other threads that check certificates' signatures beside this one (f3-sync.ts). */
  helpers?: () => SignatureBatchCheck[]
}

export interface FinalityService {
  /** Resolves once the stored state is read (status() shows it from then on); rejects if the stores would not answer. */
  loaded: Promise<void>
  status: () => FinalityStatus
  /** Fetches certificates from every node and jumps when the finalized tipset is above the head. */
  syncNow: () => Promise<void>
  /** A certificate from gossip: taken when it is the next one, else a reason to ask the nodes. */
  offerCertificate: (bytes: Uint8Array) => void
  /**
   * Makes the stored chain reach down to `height` (genesis at least): what lies below the floor a jump left is
   * fetched now, by hash link from the lowest tipset held, and added below it (part 3: "fetched lazily when something
   * needs them"). Resolves to the tipsets fetched (0 when the store held them); throws when no node served a linked run.
   */
  backfill: (height: Epoch) => Promise<number>
}

export function startFinality (init: FinalityServiceInit): FinalityService {
  const f3 = new F3Sync({
    network: init.genesis.state.network,
    genesis: init.genesis.header,
    store: init.certs,
    peers: init.peers,
    fetchCertificates: init.fetchCertificates,
    initialPowerTable: init.initialPowerTable,
    onRejection: init.onRejection,
    onNetworkError: init.onNetworkError,
    onChange: init.onChange,
    ...(init.verifier === undefined ? {} : { verifier: init.verifier }),
    ...(init.mark === undefined ? {} : { mark: init.mark }),
    ...(init.helpers === undefined ? {} : { helpers: init.helpers }),
    onNewestFetched: (cert) => { fetchAhead(cert) }
  })
  let jumpedFromEpoch: Epoch | null = null
  let lowestHeight = 0
  // what an earlier session verified is shown at once, before any node answers: the stored state and the floor a jump left
  const loaded = (async () => {
    await f3.load()
    const floor = await init.headers.floor()
    if (jumpedFromEpoch === null) lowestHeight = floor
  })()
  loaded.then(() => { init.onChange() }, () => {})
  let running: Promise<void> | null = null
  // a jump moves the floor and a backfill writes below it: one at a time, so a run is never added under a floor
  // that has moved since it was fetched
  let floorWork: Promise<unknown> = Promise.resolve()
  const serially = async <T>(work: () => Promise<T>): Promise<T> => {
    const p = floorWork.then(work)
    floorWork = p.catch(() => {})
    return await p
  }
  let headerBytes = 0
  const fetchChain = async (peer: string, key: CID[], length: number): Promise<ExchangeResponse> => {
    const r = await init.fetchChain(peer, key, length)
    for (const blocks of r.chain) for (const b of blocks) headerBytes += b.bytes.length
    return r
  }
  const linkInit = { fetchChain, peers: init.peers, onRejection: init.onRejection, onNetworkError: init.onNetworkError }
  const depth = init.lookback ?? WINNING_POST_SECTOR_SET_LOOKBACK

  /** The finalized tipset `key` at `epoch` and its parent, ascending, checked by hash link. */
  const fetchTop = async (link: LinkedRunInit, key: Uint8Array, epoch: Epoch): Promise<TipSet[]> => await fetchLinkedRun(link, tipSetKeyCids(key), epoch, 1)

  /**
   * The tipset a node's newest certificate names and its parent, fetched while the certificates are checked (on a new
   * tab a round trip off the way to a verified head). Nothing in it is trusted until a checked certificate finalizes
   * that very key (followFinalized compares); a node that fails to serve it is not blamed here, since the certificate
   * naming it may be a lie: the fetch is simply made again, in the open, if needed. The lookback run below them is not
   * fetched ahead: decoding its ~900 tipsets took the worker's thread from the certificate checks (most of a second of
   * a cold sync, f3-cold bench), and nothing needs it before the finalized head is shown.
   */
  let ahead: { key: Uint8Array, top: Promise<TipSet[]> } | null = null
  function fetchAhead (cert: FinalityCertificate): void {
    const f = cert.ecChain[cert.ecChain.length - 1]
    if (f === undefined || (ahead !== null && bytesEqual(ahead.key, f.key))) return
    // only where a jump will follow (a new tab, or one long closed): a tab that follows the chain holds that tipset
    if (f.epoch <= init.sync.head.header.height) return
    const top = fetchTop({ ...linkInit, onRejection: () => {}, onNetworkError: () => {} }, f.key, f.epoch)
    top.catch(() => {})
    ahead = { key: f.key, top }
  }
  /** The finalized tipset `key` at `epoch` and its parent (the fork tree's root), ascending: fetched ahead if it was. */
  async function topOf (key: Uint8Array, epoch: Epoch): Promise<TipSet[]> {
    const early = ahead !== null && bytesEqual(ahead.key, key) ? ahead.top : null
    ahead = null
    if (early !== null) { try { return await early } catch {} }
    return await fetchTop(linkInit, key, epoch)
  }

  /** When the finalized tipset is not on the stored chain (above the head, or on another fork), makes it the chain. */
  async function followFinalized (): Promise<void> {
    const f = f3.state?.finalized
    if (f === undefined || f.epoch === 0) return
    const floor = await init.headers.floor()
    lowestHeight = floor
    const held = f.epoch >= floor ? await init.headers.tipSetAt(f.epoch) : null
    if (held !== null && bytesEqual(tipSetKeyBytes(held.key), f.key)) return // on our chain already
    const top = await topOf(f.key, f.epoch)
    init.mark?.('finalized tipset fetched')
    const head = top[top.length - 1]!
    const parent = top[top.length - 2] ?? head
    // the head is shown at once (reanchor), the lookback run below it fetched and written meanwhile: headers after it
    // are checked once the run is stored (their lookback reads it); a run no node serves puts the old head back
    const was = { jumpedFromEpoch, lowestHeight }
    jumpedFromEpoch = top[0]!.height // (said with the head; lowered to the run's first height once it is stored)
    try {
      await init.sync.reanchor(head, parent, async () => {
        // (the finalized tipset and its parent again: the run's first height is not known before it comes)
        const run = await fetchLinkedRun(linkInit, tipSetKeyCids(f.key), f.epoch, depth + 1)
        await init.headers.jump(run)
        jumpedFromEpoch = run[0]!.height
        lowestHeight = run[0]!.height
      })
    } catch (err) {
      ({ jumpedFromEpoch, lowestHeight } = was)
      throw err
    }
    init.mark?.('jumped to the finalized tipset')
  }

  async function pass (): Promise<void> {
    await f3.sync()
    await serially(followFinalized)
    init.onChange()
  }

  /** A call during a pass makes one more follow (its caller may know of a node the running pass did not ask). */
  let again = false
  const syncNow = async (): Promise<void> => {
    if (running !== null) { again = true; return await running }
    running = (async () => { do { again = false; await pass() } while (again) })().finally(() => { running = null })
    await running
  }

  const backfill = async (height: Epoch): Promise<number> =>
    await serially(async () => await backfillBelowFloor(init.headers, linkInit, height, (lowest) => { lowestHeight = lowest; init.onChange() }))

  return {
    loaded,
    backfill,
    status: () => ({
      ...storedFinalityStatus(f3.state, init.sync.head.header.height, lowestHeight),
      behind: f3.behind,
      knownInstances: f3.knownPending,
      verified: f3.verified,
      verifyMs: Math.round(f3.verifyMs),
      verifier: f3.verifierName,
      verifyThreads: f3.threads,
      jumpedFromEpoch,
      certificateBytes: f3.receivedBytes,
      headerBytes
    }),
    syncNow,
    offerCertificate: (bytes) => {
      let instance: number
      try { instance = decodeCertificate(bytes).instance } catch { return }
      // the next one or later: the nodes are asked (the exchange checks and stores it with any before it)
      if (f3.state === null || instance >= f3.state.nextInstance) void syncNow().catch(() => {})
    }
  }
}
