// What the JSON-RPC server needs from the node: read access to the chain and state, the message pool and
// the faucet. The devnet implements it over its database; the server only translates Lotus JSON.
import type { BeaconEntry, CID, SealedHeader, TipSet, Message, SignedMessage, Actor, MessageReceipt, ActorProof, BlockGetter, FinalityCertificate, PowerEntry } from '../../core'

/** Where a message was executed: Lotus's MsgLookup (TipSet = the tipset whose receipts hold it). */
export interface MsgLookup {
  message: CID
  receipt: MessageReceipt
  /** A block whose ParentMessageReceipts contains the receipt (every block of its tipset names the same). */
  executedIn: SealedHeader
  /** The key of executedIn's tipset (Lotus's MsgLookup.TipSet); executedIn alone when left out. */
  executedTipSet?: CID[]
}

export interface StateProofResult {
  /** The header whose ParentStateRoot the proof is against. */
  header: SealedHeader
  actor: Actor | null
  proof: ActorProof
}

export interface RpcBackend {
  networkName: () => string
  blockDelaySecs: () => number
  head: () => SealedHeader
  /** The head tipset, all its blocks (Lotus's ChainHead). */
  headTipSet: () => TipSet
  /** Resolves when the next head arrives; rejects when `signal` aborts. */
  nextHead: (signal: AbortSignal) => Promise<void>
  headerAt: (height: number) => Promise<SealedHeader | undefined>
  /** The last block at or below `height` on the heaviest chain: a null round's answer (Lotus's prev tipset). */
  headerAtOrBelow: (height: number) => Promise<SealedHeader | undefined>
  /** The heaviest chain's tipset at `height`, all its blocks (undefined: a null round, or above the head). */
  tipSetAt: (height: number) => Promise<TipSet | undefined>
  /** The beacon entry of `epoch`'s round (MaxBeaconRoundForEpoch) as the chain carries it, null rounds' included. */
  beaconEntryAt: (epoch: number) => Promise<BeaconEntry | undefined>
  headerByCid: (cid: CID) => Promise<SealedHeader | undefined>
  /** A message by the CID the chain knows it by (the signed CID for secp messages, as in Lotus). */
  getMessage: (cid: CID) => Promise<Message | undefined>
  /** The actor in the state `at` names in its ParentStateRoot (default: the head). */
  getActor: (address: Uint8Array, at?: SealedHeader) => Promise<Actor | null>
  /** Checks and queues a message; throws a MessageRejectedError (name + code) when it is refused. */
  mpoolPush: (sm: SignedMessage, from?: { origin?: string }) => Promise<CID>
  /** The next nonce for `address`, counting messages already in the pool. */
  mpoolNonce: (address: Uint8Array) => Promise<number>
  searchMessage: (cid: CID) => Promise<MsgLookup | null>
  /** Resolves once the message is executed; rejects when `signal` aborts. */
  waitMessage: (cid: CID, signal: AbortSignal) => Promise<MsgLookup>
  stateProof: (address: Uint8Array, at?: SealedHeader) => Promise<StateProofResult>
  /** Runs a read over the state `at` names (default: the head), e.g. the market's tables. */
  readState: <T>(read: (store: BlockGetter, root: CID) => T, at?: SealedHeader) => T
  /** Sends devnet FIL to `address`; throws FaucetLimitError when asked again too soon. */
  faucet: (address: Uint8Array) => Promise<CID>
  /** F3 finality certificates (issue 14), when this node keeps them. */
  finality?: F3View | null
}

/** What Lotus's F3 methods read: the latest certificate, one by instance, the power table that validates an instance. */
export interface F3View {
  latest: () => FinalityCertificate | undefined
  certificate: (instance: number) => Promise<FinalityCertificate | undefined>
  powerTableFor: (instance: number) => Promise<readonly PowerEntry[] | null>
}
