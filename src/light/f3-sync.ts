// The tab's certificate sync (issue 14, part 3): from the genesis it trusts, the chain of F3 certificates to the
// latest finalized tipset. The first power table is read from genesis state as a proof (replayed under the genesis
// header's state root, which the tab trusts by CID); each certificate is checked by go-f3's rules against the table
// the one before left (core/finality) and stored with the state after it, so a reload starts from the last one.
// Every node is asked, all at once: one that serves a bad certificate is refused by name, one that never answers
// delays only itself, one that claims fewer certificates than another is passed over; if some node claims more than
// any would serve, the tab says it is behind (a node withholding the latest certificates cannot make the tab believe
// it is up to date).
import {
  prepareCertificateChecks, settleCertificateChecks, verifyCertificateChecks, batchWeights, powerTableCid, f3TipSetOf, CertificateError,
  NobleBdnVerifier, type BdnVerifier, type AggregateCheck, type FinalityState, type PowerEntry, type SealedHeader, type FinalityCertificate,
  type PreparedCertificates
} from '../core'
import type { CertExchangeRequest, CertExchangeResponse } from '../net'
import type { F3CertStore } from './f3-cert-store'

export interface F3SyncInit {
  network: string
  genesis: SealedHeader
  store: F3CertStore
  /** Full nodes to ask, in the order to ask them. */
  peers: () => string[]
  fetchCertificates: (peer: string, req: CertExchangeRequest) => Promise<CertExchangeResponse>
  /** The F3 power table of genesis state, as a verified proof (state-client.ts f3PowerTable). */
  initialPowerTable: () => Promise<PowerEntry[]>
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
  onChange: () => void
  /** Checks aggregate signatures: the WASM one (core/finality/mcl-bls.ts) when given, else noble's. */
  verifier?: () => Promise<BdnVerifier>
  /** Notes that a step of the first sync ended (the node's startup record: what a cold sync spent). */
  mark?: (phase: string) => void
  /**
   * Other threads that check a batch's signatures beside this one (the open tabs' own workers: platform-protocol.ts),
   * as they are now. Each is this app's own code in a worker of this origin, trusted as this one is.
   */
  helpers?: () => SignatureBatchCheck[]
  /** Certificates whose signatures are checked together (CHECK_BATCH unless given). */
  checkBatch?: number
  /**
   * A node's newest certificate, as it arrives and before it is checked: the caller may fetch what it names (the
   * finalized tipset's headers) while the certificates are checked, and use it only once they hold.
   */
  onNewestFetched?: (cert: FinalityCertificate) => void
}

/** BdnVerifier.verifyBatch in another thread: rejects when that thread is gone (its tab closed). */
export type SignatureBatchCheck = (checks: readonly AggregateCheck[], weights: readonly bigint[]) => Promise<boolean>

/** Certificates asked for at once (go-f3's server sends at most 256). */
const BATCH = 256
/**
 * Certificates whose signatures are checked together (one final exponentiation for them all): enough that the shared
 * part is small beside each one's own hash-to-curve and Miller loop, few enough that the worker answers the page
 * between batches.
 */
const CHECK_BATCH = 32

/** 64-bit weights for a batch check, drawn after the certificates arrived. */
const randomWeights = (n: number): bigint[] => batchWeights(k => crypto.getRandomValues(new Uint8Array(k)), n)

const yieldNow = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 0)) }

export class F3Sync {
  state: FinalityState | null = null
  /** The most certificates any node said it holds (its PendingInstance). */
  knownPending = 0
  /** Certificates checked this session, and the time spent checking them (ms). */
  verified = 0
  verifyMs = 0
  /** The most threads that checked signatures side by side in one response's batches (this one and helpers). */
  threads = 0
  /** Certificate exchange responses received this session (bytes), duplicates from several nodes included. */
  receivedBytes = 0
  private verifier: BdnVerifier | null = null
  private verifierLoading: Promise<BdnVerifier> | null = null
  private running: Promise<void> | null = null
  private again = false
  /** The certificate checks in progress: one batch at a time, so each starts from the state the last one left. */
  private checking: Promise<unknown> = Promise.resolve()
  /**
   * Checked certificates not yet stored (the state is the one after the last), and the write under way: they are
   * stored while the next ones are checked, since the helpers sat idle through each write when it came between
   * responses. A write that fails keeps them here for the next, so the store never skips one.
   */
  private unstored: FinalityCertificate[] = []
  private writing: Promise<void> | null = null

  constructor (private readonly init: F3SyncInit) {}

  /** Which verifier checked the certificates (null before the first). */
  get verifierName (): string | null { return this.verifier?.name ?? null }

  /** True when a node claims certificates this tab could not get from any node. */
  get behind (): boolean { return this.state !== null && this.knownPending > this.state.nextInstance }

  /** The stored state (what the tab verified in an earlier session), without asking anyone. */
  async load (): Promise<FinalityState | null> {
    this.state ??= await this.init.store.state()
    return this.state
  }

  /** Loads the stored state, or starts one from genesis (its power table proven by a node). */
  async start (): Promise<FinalityState> {
    if (this.state !== null) return this.state
    await this.load()
    if (this.state === null) {
      const table = await this.init.initialPowerTable()
      const genesisF3 = f3TipSetOf({ key: [this.init.genesis.cid], height: 0 }, powerTableCid(table))
      this.state = { network: this.init.network, nextInstance: 0, powerTable: table, finalized: genesisF3 }
      await this.init.store.accept([], this.state)
      this.init.mark?.('genesis power table proven')
    }
    return this.state
  }

  /**
   * One pass over the nodes: every certificate any of them serves beyond ours. A call while a pass runs shares it,
   * and makes one more pass follow (the caller may know of a node the running pass did not ask).
   */
  async sync (): Promise<void> {
    if (this.running !== null) { this.again = true; return await this.running }
    this.running = (async () => {
      do { this.again = false; await this.pass() } while (this.again)
    })().finally(() => { this.running = null })
    await this.running
  }

  /**
   * Every node at once: a node that never answers holds up only its own asking (until the exchange's deadline),
   * not the certificates the others serve. What arrives is checked one batch at a time, in order (`checking`). On a
   * new tab the first certificates, the genesis power table's proof and the verifier's WASM are all on their way at
   * once: each is a round trip or a load the others need not wait for.
   */
  private async pass (): Promise<void> {
    await this.load()
    void this.loadVerifier()
    // the helpers load their WASM verifier too (an empty batch holds): on a new tab the first certificates would
    // otherwise wait for each helper's load in its first batch, as they would for this thread's
    for (const helper of this.init.helpers?.() ?? []) helper([], []).catch(() => {})
    const started = this.start()
    started.catch(() => {}) // (met by every peer's first check, and below)
    await Promise.all(this.init.peers().map(async peer => { await this.askPeer(peer, started) }))
    await started
    this.init.mark?.('certificates checked')
    await this.stored()
  }

  /** Resolves once every checked certificate is stored; rejects as the store refused them (they stay to be written). */
  private async stored (): Promise<void> {
    // (cleared in a .finally, which always runs later than this assignment: a store that throws at once leaves none
    // behind; and again while some came after the write's loop looked)
    do {
      this.writing ??= this.writeUnstored().finally(() => { this.writing = null })
      await this.writing
    } while (this.unstored.length > 0)
  }

  private async writeUnstored (): Promise<void> {
    while (this.unstored.length > 0) {
      const certs = this.unstored
      await this.init.store.accept(certs, this.state!) // (the state after the last of them: take sets both at once)
      this.unstored = this.unstored.slice(certs.length)
    }
  }

  private async loadVerifier (): Promise<BdnVerifier> {
    this.verifierLoading ??= this.init.verifier === undefined
      ? Promise.resolve(new NobleBdnVerifier())
      : this.init.verifier().catch(() => new NobleBdnVerifier())
    return await this.verifierLoading
  }

  /**
   * One node's certificates, a batch at a time from where the state stands. The next batch is asked for while this
   * one is checked (fetching and checking would otherwise take turns), and used only if it starts where the state
   * then stands (another node may have moved it on); its failure is met when it is used, or never.
   */
  private async askPeer (peer: string, started: Promise<FinalityState>): Promise<void> {
    const ask = async (first: number): Promise<CertExchangeResponse> => await this.init.fetchCertificates(peer, { firstInstance: first, limit: BATCH, includePowerTable: false })
    let ahead: { first: number, response: Promise<CertExchangeResponse> } | null = null
    let newestAsked = false
    for (;;) {
      const before = this.state?.nextInstance ?? 0
      let got: CertExchangeResponse
      try {
        got = await (ahead !== null && ahead.first === before ? ahead.response : ask(before))
      } catch (err) {
        if (err instanceof CertificateError) this.init.onRejection(peer, err)
        else this.init.onNetworkError(peer, err as Error)
        return
      }
      ahead = null
      this.receivedBytes += got.bytes ?? 0
      this.init.mark?.('first certificates fetched')
      await started // the genesis power table, proven, before anything is checked against it
      this.knownPending = Math.max(this.knownPending, got.pendingInstance)
      const newest = got.certificates.at(-1)
      const last = newest?.instance
      if (last !== undefined && last >= before && got.pendingInstance > last + 1) {
        // more batches to come: the node's newest certificate is asked for alone first (some hundred bytes), so what it
        // finalizes is fetched while all of them are checked, not only the last batch (then the next batch, as before:
        // the node serves two requests of a peer at a time)
        let first: Promise<unknown> = Promise.resolve()
        if (!newestAsked && this.init.onNewestFetched !== undefined) {
          newestAsked = true
          first = this.init.fetchCertificates(peer, { firstInstance: got.pendingInstance - 1, limit: 1, includePowerTable: false }).then(r => {
            this.receivedBytes += r.bytes ?? 0
            const c = r.certificates.at(-1)
            if (c !== undefined) this.tellNewest(c)
          }).catch(() => {}) // (a node that fails it fails the batches too, or serves them: nothing is lost here)
        }
        const response = first.then(async () => await ask(last + 1))
        response.catch(() => {})
        ahead = { first: last + 1, response }
      } else if (newest !== undefined && last! >= before) this.tellNewest(newest)
      const ok = await this.serially(async () => await this.take(peer, got.certificates))
      this.init.onChange()
      if (!ok || got.pendingInstance <= this.state!.nextInstance) return
      // nothing new from it, and no other node moved us on meanwhile: it has no more for us
      if (this.state!.nextInstance === before) return
    }
  }

  private toldNewest = -1
  /** A node's newest certificate, to the caller once per instance (asked for alone, then met again in its batch). */
  private tellNewest (c: FinalityCertificate): void {
    if (c.instance <= this.toldNewest) return
    this.toldNewest = c.instance
    this.init.onNewestFetched?.(c)
  }

  private async serially <T>(work: () => Promise<T>): Promise<T> {
    const p = this.checking.then(work)
    this.checking = p.catch(() => {})
    return await p
  }

  /**
   * Checks `certs` in order; keeps (and stores) every one up to the first that breaks a rule. False when one did.
   * Every rule but the signatures is checked first, in order, a batch at a time (no pairing in it: cheap); then the
   * batches' signatures, here and in the helpers side by side; then each batch's verdict is settled in order.
   */
  private async take (peer: string, certs: readonly FinalityCertificate[]): Promise<boolean> {
    // (loading the WASM verifier is not checking: the time shown is the checks')
    this.verifier ??= await this.loadVerifier()
    const local = this.verifier
    const started = performance.now()
    let s = this.state!
    const batches: Array<{ certs: readonly FinalityCertificate[], from: FinalityState, prepared: PreparedCertificates }> = []
    const fresh = certs.filter(c => c.instance >= s.nextInstance)
    const size = this.init.checkBatch ?? CHECK_BATCH
    for (let at = 0; at < fresh.length; at += size) {
      const chunk = fresh.slice(at, at + size)
      const prepared = prepareCertificateChecks(s, chunk)
      batches.push({ certs: chunk, from: s, prepared })
      if (prepared.error !== null) break
      s = prepared.states.at(-1) ?? s
    }
    const { verdicts, threads } = await checkSideBySide(batches.map(b => b.prepared.checks), local, this.init.helpers?.() ?? [])
    this.threads = Math.max(this.threads, threads)
    const accepted: FinalityCertificate[] = []
    s = this.state!
    let bad: Error | null = null
    for (const [i, b] of batches.entries()) {
      const got = settleCertificateChecks(b.from, b.certs, b.prepared, verdicts[i]!, local)
      accepted.push(...b.certs.slice(0, got.accepted))
      s = got.state
      bad = got.error
      if (bad !== null) break
    }
    this.verifyMs += performance.now() - started
    if (accepted.length > 0) {
      this.unstored = this.unstored.concat(accepted)
      this.state = s
      this.verified += accepted.length
      this.stored().catch(() => {}) // (its failure is met at the pass's end)
    }
    if (bad !== null) { this.init.onRejection(peer, bad); return false }
    return true
  }
}

/**
 * Each batch's signatures checked by whichever thread is free: this one (a batch is some tens of milliseconds; the
 * worker answers the page between them) and each helper. A helper that fails (its tab closed) takes no more batches
 * and its batch is checked here. A helper's false only sends the batch to be redone here one at a time
 * (settleCertificateChecks), which names the bad certificate; its true is taken as this thread's own would be.
 */
async function checkSideBySide (batches: ReadonlyArray<readonly AggregateCheck[]>, local: BdnVerifier, helpers: readonly SignatureBatchCheck[]): Promise<{ verdicts: boolean[], threads: number }> {
  const verdicts = batches.map(() => false)
  let next = 0
  /** Threads that checked a batch: this one, and each helper that answered one. */
  let threads = 0
  let checkedHere = false
  const here = (i: number): boolean => verifyCertificateChecks(batches[i]!, local, randomWeights(batches[i]!.length))
  const there = async (helper: SignatureBatchCheck): Promise<void> => {
    let answered = false
    while (next < batches.length) {
      const i = next++
      if (batches[i]!.length === 0) { verdicts[i] = true; continue }
      try { verdicts[i] = await helper(batches[i]!, randomWeights(batches[i]!.length)) } catch {
        verdicts[i] = here(i)
        return
      }
      if (!answered) { answered = true; threads++ }
    }
  }
  // the helpers take their first batches before this thread starts on one (a check here holds the thread)
  const away = helpers.map(there)
  while (next < batches.length) {
    const i = next++
    verdicts[i] = here(i)
    if (!checkedHere) { checkedHere = true; threads++ }
    await yieldNow()
  }
  await Promise.all(away)
  return { verdicts, threads }
}
