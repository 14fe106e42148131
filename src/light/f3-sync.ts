// The tab's certificate sync (issue 14, part 3): from the genesis it trusts, the chain of F3 certificates to the
// latest finalized tipset. The first power table is read from genesis state as a proof (replayed under the genesis
// header's state root, which the tab trusts by CID); each certificate is checked by go-f3's rules against the table
// the one before left (core/finality) and stored with the state after it, so a reload starts from the last one.
// Every node is asked, all at once: one that serves a bad certificate is refused by name, one that never answers
// delays only itself, one that claims fewer certificates than another is passed over; if some node claims more than
// any would serve, the tab says it is behind (a node withholding the latest certificates cannot make the tab believe
// it is up to date).
import {
  validateFinalityCertificateBatch, batchWeights, powerTableCid, f3TipSetOf, CertificateError, NobleBdnVerifier, type BdnVerifier,
  type FinalityState, type PowerEntry, type SealedHeader, type FinalityCertificate
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
  /** Checks aggregate signatures: the tab's WASM one (mcl-bdn-verifier.ts) when given, else noble's. */
  verifier?: () => Promise<BdnVerifier>
}

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
  private verifier: BdnVerifier | null = null
  private running: Promise<void> | null = null
  private again = false
  /** The certificate checks in progress: one batch at a time, so each starts from the state the last one left. */
  private checking: Promise<unknown> = Promise.resolve()

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
   * not the certificates the others serve. What arrives is checked one batch at a time, in order (`checking`).
   */
  private async pass (): Promise<void> {
    await this.start()
    await Promise.all(this.init.peers().map(async peer => { await this.askPeer(peer) }))
  }

  private async askPeer (peer: string): Promise<void> {
    for (;;) {
      const before = this.state!.nextInstance
      let got: CertExchangeResponse
      try {
        got = await this.init.fetchCertificates(peer, { firstInstance: before, limit: BATCH, includePowerTable: false })
      } catch (err) {
        if (err instanceof CertificateError) this.init.onRejection(peer, err)
        else this.init.onNetworkError(peer, err as Error)
        return
      }
      this.knownPending = Math.max(this.knownPending, got.pendingInstance)
      const ok = await this.serially(async () => await this.take(peer, got.certificates))
      this.init.onChange()
      if (!ok || got.pendingInstance <= this.state!.nextInstance) return
      // nothing new from it, and no other node moved us on meanwhile: it has no more for us
      if (this.state!.nextInstance === before) return
    }
  }

  private async serially <T>(work: () => Promise<T>): Promise<T> {
    const p = this.checking.then(work)
    this.checking = p.catch(() => {})
    return await p
  }

  /** Checks `certs` in order; keeps (and stores) every one up to the first that breaks a rule. False when one did. */
  private async take (peer: string, certs: readonly FinalityCertificate[]): Promise<boolean> {
    const accepted: FinalityCertificate[] = []
    let s = this.state!
    let bad: Error | null = null
    // (loading the WASM verifier is not checking: the time shown is the checks')
    this.verifier ??= this.init.verifier === undefined ? new NobleBdnVerifier() : await this.init.verifier().catch(() => new NobleBdnVerifier())
    const started = performance.now()
    const fresh = certs.filter(c => c.instance >= s.nextInstance)
    for (let at = 0; at < fresh.length && bad === null; at += CHECK_BATCH) {
      const chunk = fresh.slice(at, at + CHECK_BATCH)
      const got = validateFinalityCertificateBatch(s, chunk, this.verifier, randomWeights)
      accepted.push(...chunk.slice(0, got.accepted))
      s = got.state
      bad = got.error
      // a batch is some tens of milliseconds: let the worker answer the page between them
      await yieldNow()
    }
    this.verifyMs += performance.now() - started
    if (accepted.length > 0) {
      await this.init.store.accept(accepted, s)
      this.state = s
      this.verified += accepted.length
    }
    if (bad !== null) { this.init.onRejection(peer, bad); return false }
    return true
  }
}
