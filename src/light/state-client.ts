// Asks a full node for state and message records and believes none of it: every answer is a set of blocks
// walked from a root in a header this client verified itself. A proof that does not check out is the
// peer's fault (it is reported and hung up on); "not there yet" is not.
import {
  requestState, type Dialer
} from '../net'
import {
  MalformedMessageError, OversizedMessageError, TruncatedMessageError, verifyActorProof, verifyTipSetInclusion, tipSetKeyString, readEcBlockState, countBlockMessages, readBlockMessages, checkBlockGasLimit, ProofBlockStore, CID, readDeal, readEscrow, getMinerInfo, readChannel, listMiners, readPower, readF3PowerTable, type PowerEntry,
  type PowerRead, type EcBlockState, type EcBlockRoots, type Actor, type DealRecord, type ChannelRecord, type EscrowEntry, type MinerInfo, type BlockGetter, type StateRequest, type MessageReceipt, type SealedHeader, type BlockMessages
} from '../core'
import type { HeaderStore } from './header-store'
import { peerIdFromString } from '@libp2p/peer-id'

/** A peer's answer did not verify against our headers: it lied or is broken. */
export class StateProofRejectedError extends Error {
  static override name = 'StateProofRejectedError'
  override name = 'StateProofRejectedError'
  constructor (readonly peer: string, override readonly cause: Error) {
    super(`peer ${peer.slice(-8)} sent a proof that does not verify: ${cause.name}: ${cause.message}`)
  }
}

export class NoPeerError extends Error {
  static override name = 'NoPeerError'
  override name = 'NoPeerError'
  constructor () { super('no full node is connected to ask') }
}

/** The peer declined to answer: not a lie (it may not keep that state), just no answer. */
export class StateUnavailableError extends Error {
  static override name = 'StateUnavailableError'
  override name = 'StateUnavailableError'
}

export interface VerifiedActor {
  address: Uint8Array
  actor: Actor | null
  /** The verified header whose ParentStateRoot the proof was checked against. */
  header: SealedHeader
  proofBytes: number
  checkMs: number
}

export interface VerifiedReceipt { receipt: MessageReceipt, included: SealedHeader, executed: SealedHeader }

export interface StateClientInit {
  libp2p: Dialer
  store: HeaderStore
  head: () => SealedHeader
  onLie: (peer: string, err: StateProofRejectedError) => void
  /** A peer's answer broke off (TruncatedMessageError): a cut link or a peer that stopped, not a proven lie. */
  onCut?: (peer: string, err: Error) => void
  /** Whether a connected peer is a full node (it said hello on our genesis); all are, when left out. */
  isChainPeer?: (peer: string) => boolean
  /** Peers known to be storage providers (from the bootstrap document): never asked for state. */
  isStorageProvider?: (peer: string) => boolean
  /** Peers that are other tabs: asked after the nodes (they serve the proofs they checked, no more). */
  isTab?: (peer: string) => boolean
  /** Each answer that verified, with its request: a tab keeps them to serve other tabs (verified-state-cache.ts). */
  onVerified?: (req: StateRequest, blocks: Uint8Array[]) => void
  nowMs?: () => number
}

export interface StateClient {
  actor: (address: Uint8Array) => Promise<VerifiedActor>
  /** The receipt once the message is executed and both headers are verified here; null until then. */
  receipt: (message: CID) => Promise<VerifiedReceipt | null>
  messageCount: (header: SealedHeader) => Promise<number>
  blockMessages: (header: SealedHeader) => Promise<BlockMessages>
  /** A deal as of the verified head (null: proven not to exist). */
  deal: (dealId: number) => Promise<Verified<DealRecord | null>>
  escrow: (address: Uint8Array) => Promise<Verified<EscrowEntry>>
  miner: (address: Uint8Array) => Promise<Verified<MinerInfo | null>>
  /** Every miner's ID address, from the power actor's claims, as of the verified head. */
  miners: () => Promise<Uint8Array[]>
  /** The F3 power table of a header this client verified (or trusts, as genesis): what a certificate chain starts from. */
  f3PowerTable: (at: SealedHeader) => Promise<Verified<PowerEntry[]>>
  /** A payment channel (by f0 or f2) with its lanes, as of the verified head (null: proven not to be one). */
  channel: (address: Uint8Array) => Promise<Verified<ChannelRecord | null>>
  /**
   * A miner's claimed power (by its f0, as claims are keyed) and the network's totals, checked against `at`'s
   * ParentStateRoot: the verified head when left out, or an older header this client verified (Expected
   * Consensus reads power at a lookback). `at` must come from this client's verified headers: the read is
   * only as true as the header it is checked against.
   */
  power: (address: Uint8Array, at?: SealedHeader) => Promise<Verified<PowerRead>>
  /**
   * What one block's Expected Consensus checks and its tipset's weight read from state (readEcBlockState), at the
   * ParentStateRoots of four headers this client verified or is verifying: the lookback tipset's first block after
   * the round, the lookback tipset's, the parent's and the block's own. Asked of `from` when given (the peer that
   * sent the block holds its fork), else of any full node.
   */
  ecBlockState: (miner: Uint8Array, at: EcBlockHeaders, from?: string) => Promise<Verified<EcBlockState>>
}

/** The headers whose ParentStateRoots a block's Expected Consensus checks read (ec-miner-view.ts EcBlockRoots). */
export interface EcBlockHeaders { lookback: SealedHeader, lookbackParent: SealedHeader, parent: SealedHeader, block: SealedHeader }

/** A record checked against `header`'s ParentStateRoot. */
export interface Verified<T> { value: T, header: SealedHeader, proofBytes: number, checkMs: number }

/** The state roots `at`'s headers name: what a block's checks read (ec-miner-view.ts EcBlockRoots). */
export const ecBlockRoots = (at: EcBlockHeaders): EcBlockRoots =>
  ({ lookback: at.lookback.header.parentStateRoot, lookbackParent: at.lookbackParent.header.parentStateRoot, parent: at.parent.header.parentStateRoot, own: at.block.header.parentStateRoot })

export const ecBlockRequest = (miner: Uint8Array, at: EcBlockHeaders): StateRequest => ({ kind: 'ecBlock', miner, roots: ecBlockRoots(at) })

/** Replays readEcBlockState over a peer's blocks alone, under the roots `at`'s headers name; throws when they prove nothing. */
export function checkEcBlockState (blocks: Uint8Array[], at: EcBlockHeaders, miner: Uint8Array): EcBlockState {
  return readEcBlockState(new ProofBlockStore(blocks), ecBlockRoots(at), miner)
}

/**
 * How long a peer that did not answer in time (silent, or dripping its answer) is asked only after every other had no
 * answer: without it every read went back to the same silent peer while an honest one sat connected (issue 16's liars).
 */
export const SLOW_PEER_BENCH_MS = 60_000

/**
 * How many peers one read is handed to before it fails: enough to get past a tab or a node that lacks it, few
 * enough that a read among silent peers fails in a few timeouts, not one per connection.
 */
export const MAX_PEERS_PER_READ = 3

export function createStateClient (init: StateClientInit): StateClient {
  const now = init.nowMs ?? (() => performance.now())
  const benched = new Map<string, number>()
  /**
   * The peers to ask, best first: storage providers are connected too (for deals), but only full nodes answer
   * state queries, so a peer that said hello on our genesis comes first, one just dialed (no hello yet) after; a
   * tab answers only the reads it checked itself, so it comes after full nodes; one that lately failed to answer
   * in time goes after all the others.
   */
  const peers = (): string[] => {
    const t = now()
    for (const [p, until] of benched) if (until <= t) benched.delete(p)
    const rank = (id: string): number => {
      const chain = init.isChainPeer?.(id) ?? true
      const tab = init.isTab?.(id) ?? false
      return (benched.has(id) ? 3 : 0) + (chain && !tab ? 0 : chain ? 1 : 2)
    }
    const ids = [...new Set(init.libp2p.getConnections().map(c => c.remotePeer.toString()))].filter(id => init.isStorageProvider?.(id) !== true)
    return ids.map(id => ({ id, r: rank(id) })).sort((a, b) => a.r - b.r).map(p => p.id)
  }

  /** Runs `check` over a peer's blocks; any failure to verify condemns the peer. */
  const checked = <T>(from: string, check: () => T, req?: StateRequest, blocks?: Uint8Array[]): T => {
    try {
      const value = check()
      if (req !== undefined && blocks !== undefined) init.onVerified?.(req, blocks)
      return value
    } catch (err) {
      const lie = new StateProofRejectedError(from, err as Error)
      init.onLie(from, lie)
      throw lie
    }
  }
  const ask = async (from: string, req: Parameters<typeof requestState>[2]): ReturnType<typeof requestState> => {
    try {
      return await requestState(init.libp2p, peerIdFromString(from), req)
    } catch (err) {
      // an answer that does not decode, or is over the limit, is the peer's own doing: condemned as a proof that
      // does not verify. One that only ended too soon is not (TruncatedMessageError: a cut link ends it so too)
      if (err instanceof MalformedMessageError || err instanceof OversizedMessageError) {
        const lie = new StateProofRejectedError(from, err)
        init.onLie(from, lie)
        throw lie
      }
      // no answer in time, the stream failed, or the answer broke off: asked last for a while
      benched.set(from, now() + SLOW_PEER_BENCH_MS)
      if (err instanceof TruncatedMessageError) init.onCut?.(from, err)
      throw err
    }
  }
  /**
   * One read's blocks, from `first` when given and else the best peer; a peer with no answer (a tab that never
   * checked that read, a node that pruned it) or none in time hands the read to the next, up to MAX_PEERS_PER_READ.
   * A proof that does not verify is not handed on: that peer is condemned and the caller asks again.
   */
  const answered = async (req: Parameters<typeof requestState>[2], first?: string): Promise<{ from: string, blocks: Uint8Array[] }> => {
    const order = peers()
    const tried = (first === undefined ? order : [first, ...order.filter(p => p !== first)]).slice(0, MAX_PEERS_PER_READ)
    if (tried.length === 0) throw new NoPeerError()
    const failures: Error[] = []
    for (const from of tried) {
      try {
        const resp = await ask(from, req)
        if (resp.ok) return { from, blocks: resp.blocks }
        failures.push(new StateUnavailableError(`peer ${from.slice(-8)} has no answer: ${resp.error ?? 'refused'}`))
      } catch (err) {
        if (err instanceof StateProofRejectedError) throw err
        failures.push(err as Error)
      }
    }
    // one peer asked: its own error, as before; several: none could answer, each one's reason said (whichever came last)
    if (failures.length === 1) throw failures[0]!
    throw new StateUnavailableError(`no peer could answer: ${failures.map((e, i) => `${tried[i]!.slice(-8)}: ${e.name}: ${e.message}`).join('; ')}`)
  }

  /**
   * Asks for the blocks of one state read at a verified header (the head unless `at` is given), and replays
   * the read over them alone.
   */
  const verifiedRead = async <T>(req: (at: CID) => StateRequest, read: (g: BlockGetter, root: CID) => T, at?: SealedHeader): Promise<Verified<T>> => {
    const header = at ?? init.head()
    const asked = req(header.cid)
    const { from, blocks } = await answered(asked)
    const started = now()
    const value = checked(from, () => read(new ProofBlockStore(blocks), header.header.parentStateRoot), asked, blocks)
    return { value, header, proofBytes: blocks.reduce((n, b) => n + b.length, 0), checkMs: now() - started }
  }

  return {
    deal: async (dealId) => await verifiedRead(at => ({ kind: 'deal', dealId, at }), (g, r) => readDeal(g, r, dealId)),
    escrow: async (address) => await verifiedRead(at => ({ kind: 'escrow', address, at }), (g, r) => readEscrow(g, r, address)),
    miner: async (address) => await verifiedRead(at => ({ kind: 'miner', address, at }), (g, r) => getMinerInfo(g, r, address)),
    miners: async () => (await verifiedRead(at => ({ kind: 'miners', at }), (g, r) => listMiners(g, r))).value,
    f3PowerTable: async (header) => await verifiedRead(at => ({ kind: 'f3PowerTable', at }), (g, r) => readF3PowerTable(g, r, header.header.height), header),
    channel: async (address) => await verifiedRead(at => ({ kind: 'channel', address, at }), (g, r) => readChannel(g, r, address)),
    power: async (address, header) => await verifiedRead(at => ({ kind: 'power', address, at }), (g, r) => readPower(g, r, address), header),
    ecBlockState: async (miner, at, given) => {
      const asked = ecBlockRequest(miner, at)
      const { from, blocks } = await answered(asked, given)
      const started = now()
      const value = checked(from, () => checkEcBlockState(blocks, at, miner), asked, blocks)
      return { value, header: at.block, proofBytes: blocks.reduce((n, b) => n + b.length, 0), checkMs: now() - started }
    },
    actor: async (address) => {
      const header = init.head()
      const { from, blocks } = await answered({ kind: 'actor', address, at: header.cid })
      const started = now()
      const actor = checked(from, () => verifyActorProof(header.header.parentStateRoot, address, blocks))
      return { address, actor, header, proofBytes: blocks.reduce((n, b) => n + b.length, 0), checkMs: now() - started }
    },
    receipt: async (message) => {
      // "not found" is an answer here (not included yet), not a reason to ask another
      const from = peers()[0]
      if (from === undefined) throw new NoPeerError()
      const resp = await ask(from, { kind: 'lookup', message, tipset: true })
      if (!resp.ok) return null
      const key = resp.includedTipSet ?? (resp.included === undefined ? [] : [resp.included])
      const included = key.length === 0 ? null : await init.store.tipSet(key)
      const executed = resp.executed === undefined ? null : await init.store.get(String(resp.executed))
      // headers we have not verified yet prove nothing: ask again once sync has them
      if (included === null || executed == null) return null
      // only on the chain this tab follows: the store keeps verified blocks of every fork, and a receipt on a lighter
      // one (or one a reorganisation left behind) is not what happened; not there (yet): no answer
      const onChain = await init.store.tipSetAt(included.height)
      const executedOn = await init.store.tipSetAt(executed.header.height)
      if (onChain === null || tipSetKeyString(onChain.key) !== tipSetKeyString(key) || executedOn === null || !executedOn.key.some(c => c.equals(executed.cid))) return null
      return checked(from, () => {
        // the receipts root is the child's: its Parents must be exactly the including tipset (in any order)
        if (tipSetKeyString(executed.header.parents) !== tipSetKeyString(key)) throw new Error('executing header is not a child of the including tipset')
        const blocks = included.blocks
        const { receipt } = verifyTipSetInclusion({ txMetas: blocks.map(b => b.header.messages), receipts: executed.header.parentMessageReceipts }, message, resp.blocks)
        return { receipt, included: blocks[0]!, executed }
      })
    },
    messageCount: async (header) => {
      const { from, blocks } = await answered({ kind: 'messages', block: header.cid, full: false })
      return checked(from, () => {
        const c = countBlockMessages(new ProofBlockStore(blocks), header.header.messages)
        return c.bls + c.secp
      })
    },
    blockMessages: async (header) => {
      const { from, blocks } = await answered({ kind: 'messages', block: header.cid, full: true })
      const msgs = checked(from, () => readBlockMessages(new ProofBlockStore(blocks), header.header.messages))
      // the messages are what the verified header commits to: a block over the gas limit (one stored before
      // that rule) is refused, BlockGasLimitError, but the peer that served it faithfully told no lie
      checkBlockGasLimit(msgs)
      return msgs
    }
  }
}
