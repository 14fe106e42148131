// The client's side of a storage deal: ask providers for their terms (each ask checked against the
// provider's on-chain worker key and peer ID), pick providers, write and sign proposals, lock enough
// escrow, then stream the payload to each provider and learn the deal ID it published. Chain reads come
// verified from the caller (the light client's state proofs); nothing here takes a provider's word.
import { peerIdFromString } from '@libp2p/peer-id'
import {
  parseAddress, bytesEqual, verifyStorageAsk, dealProposalCid, chooseProviders, askCollateral, dealStorageFee, InsufficientFundsError,
  MarketMethod, STORAGE_MARKET_ADDRESS, ExitCode, formatFil, addressToString, planStartEpoch, FIRST_GUESS_BYTES_PER_SEC,
  type ClientDealProposal, type DealProposal, type EscrowEntry, type MinerInfo, type MarketParams, type StorageAsk,
  type ProviderChoice, type AttoFil, type Epoch, type CID, type DealRecord
} from '../core'
import { requestAsk, sendDeal, sendStage, connectTo, type Dialer, type BootstrapProvider, type PayloadReader, type SendStageOptions } from '../net'
import * as dagCbor from '@ipld/dag-cbor'
import { sendCopy, type Replan } from './copy-sender'

/** What the client needs of the chain, every read verified by the caller. */
export interface DealChain {
  params: MarketParams
  blockDelaySecs: number
  headHeight: () => Epoch
  escrow: (address: Uint8Array) => Promise<EscrowEntry>
  miner: (provider: Uint8Array) => Promise<MinerInfo | null>
  balance: (address: Uint8Array) => Promise<AttoFil>
  /** A deal as of the verified head; null when the chain has no such deal (yet). */
  deal: (dealId: number) => Promise<DealRecord | null>
  /** Signs as the client, sends (`onSent` hears the CID at once), and resolves with the executed message's verified receipt. */
  send: (m: { to: Uint8Array, method: number, params: Uint8Array, value: AttoFil }, onSent?: (cid: string) => void) => Promise<{ cid: string, exitCode: number, return: Uint8Array }>
  /** The verified receipt of a message sent earlier (a reopened tab waits for its own pending AddBalance). */
  waitFor: (cid: string) => Promise<{ exitCode: number, return: Uint8Array }>
}

export interface ProposalSigner {
  address: Uint8Array
  sign: (p: DealProposal) => Promise<ClientDealProposal>
}

export interface ProviderQuote { provider: BootstrapProvider, address: Uint8Array, ask: StorageAsk }
export interface QuoteFailure { provider: BootstrapProvider, error: Error }

/** A provider named a deal that is not the client's proposal (or no deal at all). */
export class DealMismatchError extends Error {
  static override name = 'DealMismatchError'
  override name = 'DealMismatchError'
}

/** How long a published deal may take to show in the verified head's state. */
const DEAL_VISIBLE_TIMEOUT_MS = 30_000

export class EscrowFailedError extends Error {
  static override name = 'EscrowFailedError'
  override name = 'EscrowFailedError'
}

/** Gas the client keeps back for its own messages when checking it can pay. */
const GAS_RESERVE: AttoFil = 10n ** 16n

export interface StoreOptions {
  signal?: AbortSignal
  onProgress?: (held: number, total: number, bytesPerSec: number | null) => void
  /** A later start was signed: keep the new proposal (a resumed upload sends it). */
  onReplan?: (replan: Replan) => Promise<void> | void
  /** The rate measured on an earlier transfer, before this one has measured its own. */
  knownBytesPerSec?: number
  nowMs?: () => number
  /** Bytes staged with this provider before the proposal (StorageClient.stage): the deal adopts them. */
  staged?: { transfer: Uint8Array, head: Uint8Array }
}

export interface PlanInit {
  pieceCid: CID
  paddedBytes: number
  payloadBytes: number
  /** The payload's root CID: Filecoin clients put it in the proposal's Label. */
  label: string
  copies: number
  /** The deal's length, in proving periods. */
  periods: number
  /** Provider addresses (t01001 …) chosen by hand; otherwise the cheapest that fit. */
  chosen?: string[]
  /** Faulted periods per provider the client has seen, for ranking. */
  faults?: Map<string, number>
  /** Failed and unanswered spot audits per provider (t0…), this tab's (audit-service.ts). */
  failedAudits?: Map<string, number>
  /** The highest price per GiB per epoch the user saw and accepted; asks above it are not used. */
  maxPricePerGiBEpoch?: AttoFil
  /**
   * The upload rate this client measured before (bytes a second); without one, a first guess that the
   * transfer re-checks against measured progress (src/light/copy-sender.ts re-plans a copy that falls behind).
   */
  bytesPerSec?: number
}

export interface DealPlan {
  proposals: Array<{ provider: ProviderQuote, proposal: DealProposal }>
  /** Fees and client collateral of all proposals together: what must be free in escrow. */
  escrowNeeded: AttoFil
}

export class StorageClient {
  /** `signer` may be null for a client that only reads asks. */
  constructor (private readonly libp2p: Dialer, private readonly chain: DealChain, private readonly signerOrNull: ProposalSigner | null) {}

  private get signer (): ProposalSigner {
    if (this.signerOrNull === null) throw new Error('this storage client has no key to sign with')
    return this.signerOrNull
  }

  /** Every listed provider's ask, verified; failures are returned beside them, not thrown. */
  async quotes (providers: BootstrapProvider[], signal?: AbortSignal): Promise<{ quotes: ProviderQuote[], failures: QuoteFailure[] }> {
    const quotes: ProviderQuote[] = []
    const failures: QuoteFailure[] = []
    await Promise.all(providers.map(async (p) => {
      try { quotes.push(await this.quote(p, signal)) } catch (err) { failures.push({ provider: p, error: err as Error }) }
    }))
    quotes.sort((a, b) => a.provider.address.localeCompare(b.provider.address))
    return { quotes, failures }
  }

  private async quote (p: BootstrapProvider, signal?: AbortSignal): Promise<ProviderQuote> {
    const address = parseAddress(p.address).bytes
    const info = await this.chain.miner(address)
    if (info === null) throw new Error(`${p.address} is not a storage provider on chain`)
    const peer = peerIdFromString(p.peerId)
    // the peer ID the bootstrap gives must be the one the chain records; Noise then proves the peer holds it
    if (!bytesEqual(peer.toMultihash().bytes, info.peerId)) throw new Error(`${p.address}'s peer ID is not the one on chain`)
    await this.dial(p, signal)
    const signed = await requestAsk(this.libp2p, peer, signal)
    verifyStorageAsk(signed, info.worker, this.chain.headHeight())
    if (!bytesEqual(signed.ask.miner, address)) throw new Error(`${p.address} sent another provider's ask`)
    return { provider: p, address, ask: signed.ask }
  }

  private async dial (p: BootstrapProvider, signal?: AbortSignal): Promise<void> { await connectTo(this.libp2p, p, signal) }

  /** Proposals for `copies` providers, starting on the first period boundary the transfer can make. */
  plan (quotes: ProviderQuote[], init: PlanInit): DealPlan {
    const P = this.chain.params.provingPeriod
    const candidates = quotes
      .filter(q => init.chosen === undefined || init.chosen.includes(q.provider.address))
      .filter(q => init.maxPricePerGiBEpoch === undefined || q.ask.pricePerGiBEpoch <= init.maxPricePerGiBEpoch)
      .map(q => ({ provider: q.address, ask: q.ask, faults: init.faults?.get(q.provider.address) ?? 0, failedAudits: init.failedAudits?.get(q.provider.address) ?? 0 }))
    const chosen: ProviderChoice[] = chooseProviders(candidates, init.paddedBytes, init.copies)
    const startEpoch = planStartEpoch({
      // the copies share one uplink
      head: this.chain.headHeight(), remainingBytes: init.payloadBytes * init.copies, bytesPerSec: init.bytesPerSec ?? FIRST_GUESS_BYTES_PER_SEC,
      blockDelaySecs: this.chain.blockDelaySecs, provingPeriod: P
    })
    const proposals = chosen.map(c => {
      const q = quotes.find(q => bytesEqual(q.address, c.provider))!
      const proposal: DealProposal = {
        pieceCid: init.pieceCid, pieceSize: init.paddedBytes, verifiedDeal: false, client: this.signer.address, provider: c.provider,
        label: init.label, startEpoch, endEpoch: startEpoch + init.periods * P, storagePricePerEpoch: c.pricePerEpoch,
        providerCollateral: askCollateral(q.ask, init.paddedBytes), clientCollateral: 0n
      }
      return { provider: q, proposal }
    })
    return { proposals, escrowNeeded: proposals.reduce((sum, p) => sum + dealStorageFee(p.proposal) + p.proposal.clientCollateral, 0n) }
  }

  /**
   * Makes sure the plan's total is free in escrow, adding the shortfall from the wallet. A wallet that
   * cannot cover it is refused here, before any byte is sent.
   */
  async ensureEscrow (needed: AttoFil, onSent?: (cid: string) => void): Promise<{ added: AttoFil, message?: string }> {
    const e = await this.chain.escrow(this.signer.address)
    const shortfall = needed - (e.escrow - e.locked)
    if (shortfall <= 0n) return { added: 0n }
    const balance = await this.chain.balance(this.signer.address)
    if (balance < shortfall + GAS_RESERVE) {
      const err = new InsufficientFundsError(shortfall + GAS_RESERVE, balance)
      err.message = `storing this needs ${formatFil(shortfall)} more in escrow (plus gas); ${addressToString(this.signer.address)} holds ${formatFil(balance)}`
      throw err
    }
    const r = await this.chain.send({ to: STORAGE_MARKET_ADDRESS, method: MarketMethod.AddBalance, params: dagCbor.encode(this.signer.address), value: shortfall }, onSent)
    if (r.exitCode !== ExitCode.Ok) throw new EscrowFailedError(`AddBalance failed with exit code ${r.exitCode}`)
    return { added: shortfall, message: r.cid }
  }

  async sign (p: DealProposal): Promise<ClientDealProposal> { return await this.signer.sign(p) }

  /**
   * Stores the payload with the proposal's provider, whatever the link's speed: streams it (`transfer`) and,
   * when measured progress says the start can no longer be made or the provider refuses it as too close,
   * signs the same deal with a later start and goes on from the bytes the provider already holds (see
   * copy-sender.ts). Resolves with the published deal and the proposal it was published under.
   */
  async store (provider: BootstrapProvider, proposal: ClientDealProposal, payloadBytes: number, payload: PayloadReader, opts: StoreOptions = {}): Promise<{ dealId: number, message: string, confirmed: boolean, proposal: ClientDealProposal }> {
    let current = proposal
    const r = await sendCopy({
      proposal,
      payloadBytes,
      transfer: async (p, o) => await this.transfer(provider, p, payloadBytes, payload, { ...o, ...(opts.staged === undefined ? {} : { staged: opts.staged }) }),
      sign: async (p) => await this.signer.sign(p),
      head: () => this.chain.headHeight(),
      nowMs: opts.nowMs ?? (() => Date.now()),
      sleep: async (ms) => { await new Promise(resolve => setTimeout(resolve, ms)) },
      blockDelaySecs: this.chain.blockDelaySecs,
      provingPeriod: this.chain.params.provingPeriod,
      ...(opts.knownBytesPerSec === undefined ? {} : { knownBytesPerSec: opts.knownBytesPerSec }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      onProgress: (held, rate) => { opts.onProgress?.(held, payloadBytes, rate) },
      onReplan: async (re) => { current = re.proposal; await opts.onReplan?.(re) }
    })
    return { ...r, proposal: current }
  }

  /**
   * Sends `payload` to the provider before there is a proposal (see STAGE_PROTOCOL): best effort, the bytes it
   * holds when this ends are adopted by the DealRequest that names `transfer`.
   */
  async stage (provider: BootstrapProvider, transfer: Uint8Array, payload: AsyncIterable<Uint8Array>, opts: SendStageOptions = {}): Promise<number> {
    await this.dial(provider, opts.signal)
    return await sendStage(this.libp2p, peerIdFromString(provider.peerId), transfer, payload, opts)
  }

  /**
   * Streams the payload to the proposal's provider; resolves with the deal ID once it is published. The
   * provider's word is checked against the chain (a verified read): a deal that is another proposal is a
   * DealMismatchError; one the chain does not show yet (or a read that fails) comes back unconfirmed, for
   * the caller to check again later rather than forget a deal it may be paying for.
   */
  async transfer (provider: BootstrapProvider, proposal: ClientDealProposal, payloadBytes: number, payload: PayloadReader, opts: { signal?: AbortSignal, onProgress?: (held: number, total: number) => void, stopBeforeNextFrame?: () => Error | undefined, staged?: { transfer: Uint8Array, head: Uint8Array } } = {}): Promise<{ dealId: number, message: string, confirmed: boolean }> {
    await this.dial(provider, opts.signal)
    const req = { proposal, payloadBytes, ...(opts.staged === undefined ? {} : opts.staged) }
    const r = await sendDeal(this.libp2p, peerIdFromString(provider.peerId), req, payload, opts)
    const want = dealProposalCid(proposal.proposal)
    const deadline = Date.now() + DEAL_VISIBLE_TIMEOUT_MS
    for (;;) {
      const deal = await this.chain.deal(r.dealId).catch(() => null)
      if (deal !== null) {
        if (!dealProposalCid(deal.proposal).equals(want)) throw new DealMismatchError(`${provider.address} named deal ${r.dealId}, which is not this proposal on chain`)
        return { ...r, confirmed: true }
      }
      if (Date.now() > deadline) return { ...r, confirmed: false }
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
  }
}
