// A chain of blocks for power tests: genesis providers (all run by one worker), deals published at epoch 1 and
// proven (or not) period by period as a pattern says, every epoch one block through applyBlockMessages, so the
// market's cron and the power actor's tick run as on a node.
import * as dagCbor from '@ipld/dag-cbor'
import { expect } from 'vitest'
import {
  createGenesis, executionContext, applyBlockMessages, packBlockMessages, blsAddressBytes, signMessage, secpPublicKey, secpAddressBytes, idAddressBytes, blsPublicKey, chainCid,
  pieceDigest, pieceCidV1, signDealProposal, encodeClientDealProposal, provePossession, challengeSeed, dealProofSet, encodeSubmitPossessionProofs,
  gasLimitFor, readDeal, MarketMethod, ExitCode, STORAGE_MARKET_ADDRESS, ATTO_PER_FIL,
  type CID, type Genesis, type Message, type DealProposal, type Epoch, type MarketParams,
  type BeaconEntry
} from '../../src/core'
import { TEST_BEACON } from './test-beacon'

const workerKey = new Uint8Array(32).fill(0x5a)
const clientKey = new Uint8Array(32).fill(0x5c)
// a miner's worker is a BLS key (builtin-actors): its messages go into blocks' BlsMessages under one aggregate
export const worker = blsAddressBytes(blsPublicKey(workerKey))
export const client = secpAddressBytes(secpPublicKey(clientKey))
const keys = new Map([[worker.join(), workerKey], [client.join(), clientKey]])
export const beaconAt = (e: Epoch): BeaconEntry => ({ round: e, data: chainCid(dagCbor.encode(['power test header', e])).bytes })

/** Payloads whose pieces pad to 1024 bytes (below the devnet's 2 KiB consensus minimum) and 4096 (above it). */
export const SMALL = new Uint8Array(1000).map((_, i) => (i * 31 + 7) & 0xff)
export const BIG = new Uint8Array(3000).map((_, i) => (i * 13 + 1) & 0xff)

export interface DealPlan {
  /** The provider's ID (a genesis provider of this chain). */
  provider: number
  payload: Uint8Array
  /** The deal's first epoch (a multiple of the proving period, after epoch 1) and its length in periods. */
  start: Epoch
  periods: number
}

export class PowerChain {
  readonly genesis: Genesis
  root: CID
  /** The state root after each epoch's block (index = epoch). */
  readonly roots: CID[] = []
  readonly deals: DealProposal[] = []
  private readonly payloads: Uint8Array[] = []
  private readonly nonces = new Map<string, number>()

  /** `presealed`: a payload per provider (by index) that genesis makes a pre-sealed deal of (deal IDs from 0, in provider order). */
  constructor (readonly providers: number[], readonly market: MarketParams, presealed: Array<Uint8Array | undefined> = []) {
    const preseals = providers.map((_, i) => {
      const payload = presealed[i]
      if (payload === undefined) return undefined
      const digest = pieceDigest(payload)
      return { payload, preseal: { pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes } }
    })
    this.genesis = createGenesis(
      { beacon: TEST_BEACON, network: 'power-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(9)), blockDelaySecs: 1, market }, 1_800_000_000,
      [{ address: worker, balance: 1000n * ATTO_PER_FIL }, { address: client, balance: 1000n * ATTO_PER_FIL }],
      providers.map((id, i) => ({ id, info: { owner: worker, worker, peerId: new Uint8Array([id & 0xff, id >> 8]) }, ...(preseals[i] === undefined ? {} : { preseal: preseals[i].preseal }) }))
    )
    for (const [i, s] of preseals.entries()) {
      if (s === undefined) continue
      this.payloads.push(s.payload)
      this.deals.push(readDeal(this.store, this.genesis.header.header.parentStateRoot, this.deals.length)!.proposal)
      expect(this.deals.at(-1)!.provider).toEqual(idAddressBytes(providers[i]!))
    }
    this.root = this.genesis.header.header.parentStateRoot
    this.roots.push(this.root)
  }

  get store (): NonNullable<Genesis['store']> { return this.genesis.store! }

  private message (from: Uint8Array, method: number, params: Uint8Array): Message {
    const nonce = this.nonces.get(from.join()) ?? 0
    this.nonces.set(from.join(), nonce + 1)
    const m: Message = { version: 0, to: STORAGE_MARKET_ADDRESS, from, nonce, value: 0n, gasLimit: 0, gasFeeCap: 300n, gasPremium: 100n, method, params }
    return { ...m, gasLimit: gasLimitFor(m) }
  }

  /** Applies `epoch`'s block of `msgs` (cron and tick included); every message must succeed. */
  block (epoch: Epoch, msgs: Message[] = []): void {
    if (epoch !== this.roots.length) throw new Error(`epoch ${epoch} follows ${this.roots.length - 1}`)
    const ctx = executionContext(this.store, this.genesis.state, { ...this.genesis.header.header, height: epoch }, beaconAt)
    const packed = packBlockMessages(msgs.map(m => signMessage(keys.get(m.from.join())!, m)))
    const out = applyBlockMessages(ctx, this.root, packed.messages, packed.blsAggregate)
    out.receipts.forEach((r, i) => { if (r.exitCode !== ExitCode.Ok) throw new Error(`message ${i} at epoch ${epoch} exited ${r.exitCode}`) })
    this.root = out.root
    this.roots.push(this.root)
  }

  /** The block at epoch 1: publishes every planned deal (free: price and collaterals 0); deal IDs follow the plan's order. */
  publish (plans: DealPlan[]): void {
    const proposals = plans.map((d, i): DealProposal => {
      const digest = pieceDigest(d.payload)
      this.payloads.push(d.payload)
      return {
        pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes, verifiedDeal: false, client, provider: idAddressBytes(d.provider), label: `deal ${i}`,
        startEpoch: d.start, endEpoch: d.start + d.periods * this.market.provingPeriod, storagePricePerEpoch: 0n, providerCollateral: 0n, clientCollateral: 0n
      }
    })
    this.deals.push(...proposals)
    const params = dagCbor.encode([proposals.map(p => dagCbor.decode(encodeClientDealProposal(signDealProposal(clientKey, p))))])
    this.block(1, [this.message(worker, MarketMethod.PublishStorageDeals, params)])
  }

  /** The message proving deal `id`'s period that opened at `c` (SubmitPossessionProofs in epoch c+1..c+P). */
  async proof (ids: number[], c: Epoch): Promise<Message> {
    const entries = await Promise.all(ids.map(async id => {
      const p = this.deals[id]!
      const proof = await provePossession(dealProofSet(p), () => [this.payloads[id]!], challengeSeed(beaconAt(c), c, id), this.market.challengesPerPeriod)
      return { dealId: id, challengeEpoch: c, proof }
    }))
    return this.message(worker, MarketMethod.SubmitPossessionProofs, encodeSubmitPossessionProofs(entries))
  }

  /**
   * Runs blocks from the next epoch to `until`: in the epoch after each period opens, every deal not slashed
   * whose `proves(id, period)` is true is proven for it; `after(epoch)` runs after each block.
   */
  async run (until: Epoch, proves: (id: number, period: number) => boolean, after: (epoch: Epoch) => void = () => {}): Promise<void> {
    const P = this.market.provingPeriod
    for (let e = this.roots.length; e <= until; e++) {
      const c = e - 1
      const due = this.deals.map((p, id) => ({ p, id })).filter(({ p, id }) =>
        c % P === 0 && c >= p.startEpoch && c + P <= p.endEpoch && readDeal(this.store, this.root, id)!.state.slashEpoch < 0 && proves(id, (c - p.startEpoch) / P))
      this.block(e, due.length === 0 ? [] : [await this.proof(due.map(d => d.id), c)])
      after(e)
    }
  }
}
