// A storage provider: its own libp2p identity, worker key and folder; it answers asks, takes deals over
// `/coffer/deal/1.0.0` (checking each proposal before a byte moves and the bytes against the proposed
// piece before publishing), and in every proving period proves each of its active deals from the bytes on
// disk. It talks to the chain only through messages signed by its worker, as any provider would.
import { open, rename, type FileHandle } from 'node:fs/promises'
import {
  DealRejectedError, verifyClientDealProposal, dealProposalCid, bytesEqual, readEscrow, readDeal, dealStorageFee, dealStatus,
  askPricePerEpoch, askCollateral, signStorageAsk, secpAddressBytes, secpPublicKey, signMessage, encodeClientDealProposal,
  encodeSubmitPossessionProofs, challengeSeed, dealProofSet, provePossession, gasLimitFor, addressToString, idAddressBytes,
  MarketMethod, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, paddedPieceSize,
  type DealRequest, type SignedStorageAsk, type StorageAsk, type Message, type CID, type SealedHeader, type Genesis,
  type BlockGetter, type DealProposal, type AttoFil, type Epoch, type NodeHasher
} from '../../core'
import * as dagCbor from '@ipld/dag-cbor'
import type { PayloadSink, DealHandler } from '../../net'
import { pieceOfFile } from '../piece-file'
import { fileChunks } from '../prove-possession'
import type { MsgLookup } from '../rpc/backend'
import { ProviderStore, type StoredDeal } from './provider-store'

/** What a provider needs of a full node: the head, message submission, and reads of the head's state. */
export interface ProviderChain {
  readonly genesis: Genesis
  head: () => SealedHeader
  nextHead: (signal: AbortSignal) => Promise<void>
  headerAt: (height: number) => Promise<SealedHeader | undefined>
  mpoolNonce: (address: Uint8Array) => Promise<number>
  mpoolPush: (sm: ReturnType<typeof signMessage>) => Promise<CID>
  waitMessage: (cid: CID, signal: AbortSignal) => Promise<MsgLookup>
  /** Reads the state the head names (its ParentStateRoot). */
  readState: <T>(read: (store: BlockGetter, root: CID) => T) => T
}

export interface ProviderAskInit {
  pricePerGiBEpoch: AttoFil
  minPieceSize: number
  maxPieceSize: number
  collateralPerGiB: AttoFil
  /** Bytes this provider sells. */
  capacityBytes: number
}

export interface StorageProviderInit {
  id: number
  store: ProviderStore
  workerKey: Uint8Array
  chain: ProviderChain
  ask: ProviderAskInit
  hasher?: NodeHasher
  log?: (line: string) => void
}

/** Epochs a proposal must leave between now and its start: time to receive, check and publish. */
export const MIN_START_DELAY: Epoch = 5
/** Free escrow the provider keeps for collateral; it tops up from its worker below this. */
export const ESCROW_LOW_WATER: AttoFil = 10n * 10n ** 18n
export const ESCROW_TOP_UP: AttoFil = 100n * 10n ** 18n

export class StorageProvider implements DealHandler {
  readonly address: Uint8Array
  readonly worker: Uint8Array
  /** Proposals whose bytes are arriving or being checked and published, with the piece size they reserve. */
  private readonly transfers = new Map<string, number>()
  /** Start epochs of staged (partial) transfers: past it, a transfer cannot be published and is dropped. */
  private readonly stagingStarts = new Map<string, Epoch>()
  private readonly proving = new Map<string, 'sent' | 'failed'>()
  private sending: Promise<unknown> = Promise.resolve()
  private seqNo = 0
  private readonly stopped = new AbortController()
  private loop: Promise<void> | undefined

  constructor (private readonly init: StorageProviderInit) {
    this.address = idAddressBytes(init.id)
    this.worker = secpAddressBytes(secpPublicKey(init.workerKey))
  }

  private log (line: string): void { this.init.log?.(`provider ${addressToString(this.address)}: ${line}`) }
  get store (): ProviderStore { return this.init.store }

  /** Starts the proving loop (and tops up collateral escrow). */
  start (): void {
    this.loop = this.run().catch((err: Error) => { if (!this.stopped.signal.aborted) this.log(`stopped: ${err.message}`) })
  }

  async stop (): Promise<void> {
    this.stopped.abort()
    await this.loop
  }

  async ask (): Promise<SignedStorageAsk> {
    const a = this.init.ask
    const head = this.init.chain.head().header.height
    const reserved = [...this.transfers.values()].reduce((sum, size) => sum + size, 0)
    const free = Math.max(0, Math.min(a.capacityBytes - await this.init.store.piecesBytes(), await this.init.store.diskFreeBytes()) - reserved)
    const ask: StorageAsk = {
      pricePerGiBEpoch: a.pricePerGiBEpoch, verifiedPricePerGiBEpoch: a.pricePerGiBEpoch, minPieceSize: a.minPieceSize, maxPieceSize: a.maxPieceSize,
      miner: this.address, timestamp: head, expiry: head + 600, seqNo: this.seqNo++, freeBytes: free, collateralPerGiB: a.collateralPerGiB
    }
    return signStorageAsk(this.init.workerKey, this.worker, ask)
  }

  // ---- taking deals ----

  async accept (req: DealRequest): ReturnType<DealHandler['accept']> {
    const p = req.proposal.proposal
    const proposalCid = dealProposalCid(p).toString()
    const stored = this.init.store.byProposal(proposalCid)
    if (stored !== undefined) return { published: { dealId: stored.dealId, message: stored.publishMessage } }
    // claimed before the first await, and held until the deal is published or refused: a second stream for
    // the same proposal (a client's retry, or a peer on purpose) is refused, never run alongside
    if (this.transfers.has(proposalCid)) throw new DealRejectedError('BUSY', 'this proposal\'s data is already arriving on another stream')
    this.transfers.set(proposalCid, p.pieceSize)
    try {
      return await this.admit(req, proposalCid)
    } catch (err) {
      this.transfers.delete(proposalCid)
      throw err
    }
  }

  private async admit (req: DealRequest, proposalCid: string): Promise<{ offset: number, sink: PayloadSink }> {
    const p = req.proposal.proposal
    try { verifyClientDealProposal(req.proposal) } catch (err) { throw new DealRejectedError('PROPOSAL', (err as Error).message) }
    if (!bytesEqual(p.provider, this.address)) throw new DealRejectedError('PROPOSAL', `the proposal is for ${addressToString(p.provider)}, not ${addressToString(this.address)}`)
    const a = this.init.ask
    if (paddedPieceSize(req.payloadBytes) !== p.pieceSize) throw new DealRejectedError('SIZE', `${req.payloadBytes} payload bytes make a ${paddedPieceSize(req.payloadBytes)}-byte piece, the proposal says ${p.pieceSize}`)
    if (p.pieceSize < a.minPieceSize || p.pieceSize > a.maxPieceSize) throw new DealRejectedError('SIZE', `pieces of ${a.minPieceSize}..${a.maxPieceSize} bytes only`)
    if (p.storagePricePerEpoch < askPricePerEpoch(a, p.pieceSize)) throw new DealRejectedError('PRICE', `the price is below the ask (${askPricePerEpoch(a, p.pieceSize)} attoFIL per epoch)`)
    if (p.providerCollateral > askCollateral(a, p.pieceSize)) throw new DealRejectedError('PRICE', 'the proposal asks for more collateral than the ask offers')
    const P = this.init.chain.genesis.state.market.provingPeriod
    const head = this.init.chain.head().header.height
    if (p.startEpoch < head + MIN_START_DELAY || p.startEpoch % P !== 0 || (p.endEpoch - p.startEpoch) % P !== 0) {
      throw new DealRejectedError('START', `deals start at least ${MIN_START_DELAY} epochs ahead (now ${head}), on a ${P}-epoch period boundary, and last whole periods`)
    }
    const escrow = this.init.chain.readState((s, r) => readEscrow(s, r, p.client))
    if (escrow.escrow - escrow.locked < dealStorageFee(p) + p.clientCollateral) throw new DealRejectedError('FUNDS', 'the client\'s free escrow does not cover this deal')
    const own = this.init.chain.readState((s, r) => readEscrow(s, r, this.address))
    if (own.escrow - own.locked < p.providerCollateral) throw new DealRejectedError('FUNDS', 'this provider\'s free escrow does not cover the collateral right now; try again shortly')
    const staging = this.init.store.stagingPath(proposalCid)
    let offset = await this.init.store.sizeOf(staging)
    if (offset > req.payloadBytes) { await this.init.store.remove(staging); offset = 0 }
    // room: what is stored, plus every other transfer's whole piece (reserved when it was accepted)
    const reserved = [...this.transfers].reduce((sum, [cid, size]) => sum + (cid === proposalCid ? 0 : size), 0)
    const free = Math.min(a.capacityBytes - await this.init.store.piecesBytes(), await this.init.store.diskFreeBytes()) - reserved
    if (free < p.pieceSize) throw new DealRejectedError('SPACE', `${Math.max(0, free)} bytes free, the piece needs ${p.pieceSize}`)
    this.stagingStarts.set(proposalCid, p.startEpoch)
    const file: FileHandle = await open(staging, 'a')
    const closeFile = async (): Promise<void> => { await file.close().catch(() => {}) }
    const sink: PayloadSink = {
      write: async (bytes) => { await file.write(bytes) },
      interrupted: async () => { this.transfers.delete(proposalCid); await closeFile() },
      finish: async () => {
        await closeFile()
        try { return await this.complete(req, proposalCid, staging) } finally { this.transfers.delete(proposalCid) }
      }
    }
    this.log(`accepted ${proposalCid} (${req.payloadBytes} bytes, resuming at ${offset})`)
    return { offset, sink }
  }

  /** Every byte is in: the bytes must hash to the proposed piece before the provider commits on chain. */
  private async complete (req: DealRequest, proposalCid: string, staging: string): Promise<{ dealId: number, message: string }> {
    const p = req.proposal.proposal
    const piece = await pieceOfFile(staging)
    if (!piece.v1.equals(p.pieceCid) || piece.digest.paddedBytes !== p.pieceSize) {
      await this.init.store.remove(staging)
      throw new DealRejectedError('PIECE_MISMATCH', `the bytes hash to ${String(piece.v1)}, the proposal names ${String(p.pieceCid)}`)
    }
    if (p.startEpoch <= this.init.chain.head().header.height + 1) {
      await this.init.store.remove(staging)
      throw new DealRejectedError('START', 'the deal starts before it could be published')
    }
    const final = this.init.store.piecePath(proposalCid)
    await rename(staging, final)
    this.stagingStarts.delete(proposalCid)
    const params = dagCbor.encode([[dagCbor.decode(encodeClientDealProposal(req.proposal))]])
    let published: { cid: CID, lookup: MsgLookup }
    try {
      published = await this.send(idAddressBytes(5), MarketMethod.PublishStorageDeals, params)
    } catch (err) {
      await this.init.store.remove(final)
      throw new DealRejectedError('PUBLISH', `the deal could not be sent to the chain: ${(err as Error).message}`)
    }
    const { cid, lookup } = published
    if (lookup.receipt.exitCode !== ExitCode.Ok) {
      // only this attempt's file: the proposal is held (BUSY) until here, so no published deal shares it
      await this.init.store.remove(final)
      throw new DealRejectedError('PUBLISH', `the chain refused the deal (exit code ${lookup.receipt.exitCode})`)
    }
    const [[dealId]] = dagCbor.decode(lookup.receipt.return) as [[number]]
    await this.init.store.add({
      dealId: dealId!, proposalCid, pieceCid: p.pieceCid.toString(), paddedBytes: p.pieceSize, payloadBytes: req.payloadBytes,
      startEpoch: p.startEpoch, endEpoch: p.endEpoch, file: this.init.store.relative(final), publishMessage: cid.toString()
    })
    this.log(`published deal ${dealId!} for ${p.pieceCid.toString()}`)
    return { dealId: dealId!, message: cid.toString() }
  }

  /** Signs and pushes a message from the worker, one at a time (nonces in order), and waits for its receipt. */
  private async send (to: Uint8Array, method: number, params: Uint8Array, value = 0n): Promise<{ cid: CID, lookup: MsgLookup }> {
    const pushed = this.sending.then(async () => {
      const m: Message = {
        version: 0, to, from: this.worker, nonce: await this.init.chain.mpoolNonce(this.worker), value, gasLimit: 0,
        gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params
      }
      return await this.init.chain.mpoolPush(signMessage(this.init.workerKey, { ...m, gasLimit: gasLimitFor(m) }))
    })
    this.sending = pushed.catch(() => {})
    const cid = await pushed
    return { cid, lookup: await this.init.chain.waitMessage(cid, this.stopped.signal) }
  }

  // ---- proving ----

  private async run (): Promise<void> {
    await this.init.store.sweepStaging(() => true) // partial transfers from before a restart cannot be resumed in time reliably
    let topUp: Promise<void> | undefined
    while (!this.stopped.signal.aborted) {
      // collateral escrow is topped up whenever it runs low (penalties drain it), one top-up at a time
      topUp ??= this.topUpEscrow().catch((err: Error) => { this.log(`escrow top-up: ${err.message}`) }).finally(() => { topUp = undefined })
      await this.proveDue().catch((err: Error) => { this.log(`proving: ${err.message}`) })
      await this.sweep().catch((err: Error) => { this.log(`staging: ${err.message}`) })
      await this.init.chain.nextHead(this.stopped.signal)
    }
  }

  private async topUpEscrow (): Promise<void> {
    const e = this.init.chain.readState((s, r) => readEscrow(s, r, this.address))
    if (e.escrow - e.locked >= ESCROW_LOW_WATER) return
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.AddBalance, dagCbor.encode(this.address), ESCROW_TOP_UP)
    this.log(`escrow top-up: exit code ${lookup.receipt.exitCode}`)
  }

  /** Drops staged bytes no deal can come of any more (their start has passed), and old proving marks. */
  private async sweep (): Promise<void> {
    const head = this.init.chain.head().header.height
    const late = [...this.stagingStarts].filter(([cid, start]) => !this.transfers.has(cid) && start <= head + 1).map(([cid]) => cid)
    for (const cid of late) { this.stagingStarts.delete(cid); await this.init.store.remove(this.init.store.stagingPath(cid)) }
    const P = this.init.chain.genesis.state.market.provingPeriod
    for (const key of this.proving.keys()) if (Number(key.split('@')[1]) < head - 2 * P) this.proving.delete(key)
  }

  /** For each active deal whose current period has no proof yet, proves from disk and submits. */
  async proveDue (): Promise<void> {
    const head = this.init.chain.head()
    const P = this.init.chain.genesis.state.market.provingPeriod
    const c = Math.floor(head.header.height / P) * P
    const challengeHeader = await this.init.chain.headerAt(c)
    if (challengeHeader === undefined) return
    for (const d of this.init.store.all()) {
      if (c < d.startEpoch || c + P > d.endEpoch) continue
      const key = `${d.dealId}@${c}`
      if (this.proving.has(key)) continue
      const deal = this.init.chain.readState((s, r) => readDeal(s, r, d.dealId))
      if (deal === null || dealStatus(deal.proposal, deal.state, head.header.height) !== 'active') continue
      if (deal.periods.length > (c - d.startEpoch) / P) continue // already proven (or settled)
      this.proving.set(key, 'sent')
      void this.proveOne(d, deal.proposal, challengeHeader.cid, c).catch((err: Error) => {
        // bytes that no longer hash to the piece will not next head either; a refused or lost message may
        if (err.name === 'PossessionProofError' || (err as NodeJS.ErrnoException).code === 'ENOENT') this.proving.set(key, 'failed')
        else this.proving.delete(key)
        this.log(`cannot prove deal ${d.dealId} for the period at ${c}: ${err.message}`)
      })
    }
  }

  private async proveOne (d: StoredDeal, proposal: DealProposal, challengeHeader: CID, c: Epoch): Promise<void> {
    const seed = challengeSeed(challengeHeader, c, d.dealId)
    const file = this.init.store.absolute(d.file)
    const proof = await provePossession(dealProofSet(proposal), () => fileChunks(file), seed, this.init.chain.genesis.state.market.challengesPerPeriod, this.init.hasher)
    const { lookup } = await this.send(idAddressBytes(5), MarketMethod.SubmitPossessionProofs, encodeSubmitPossessionProofs([{ dealId: d.dealId, challengeEpoch: c, proof }]))
    if (lookup.receipt.exitCode !== ExitCode.Ok) throw new Error(`the chain refused the proof (exit code ${lookup.receipt.exitCode})`)
    this.log(`proved deal ${d.dealId} for the period at ${c}`)
  }
}
