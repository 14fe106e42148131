// Genesis of a Coffer chain. Until accounts and actors exist (issue 3), the whole chain state is this
// one DAG-CBOR block naming the network and the block producer's key; genesis's ParentStateRoot links it,
// so trusting the genesis CID is enough to learn, by hash, the key every later header must be signed with.
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chainCid } from './cid'
import { idAddressBytes } from './address'
import { sealHeader, type BlockHeader, type SealedHeader } from './block-header'
import { MalformedMessageError } from './errors'
import type { UnixSeconds } from './units'

export interface GenesisState {
  network: string
  /** Address bytes the producer's headers carry in Miner (an ID address, as Lotus miners have). */
  producer: Uint8Array
  /** The producer's BLS12-381 G1 public key, 48 bytes. */
  producerKey: Uint8Array
  blockDelaySecs: number
}

export interface Genesis { state: GenesisState, stateBytes: Uint8Array, stateCid: CID, header: SealedHeader }

/** Root of an empty AMT v3 (bitWidth 3): the Messages/Receipts roots of a block that carries none. */
export const EMPTY_AMT_CID = chainCid(dagCbor.encode([3, 0, 0, [new Uint8Array([0]), [], []]]))
/** TxMeta [BlsMessages, SecpkMessages] with both AMTs empty: the Messages field of an empty block. */
export const EMPTY_TXMETA_CID = chainCid(dagCbor.encode([EMPTY_AMT_CID, EMPTY_AMT_CID]))

export function encodeGenesisState (s: GenesisState): Uint8Array {
  return dagCbor.encode({ network: s.network, producer: s.producer, producerKey: s.producerKey, blockDelaySecs: s.blockDelaySecs })
}

export function decodeGenesisState (bytes: Uint8Array): GenesisState {
  let raw: Record<string, unknown>
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedMessageError(`genesis state is not DAG-CBOR: ${(err as Error).message}`) }
  const { network, producer, producerKey, blockDelaySecs } = raw ?? {}
  if (typeof network !== 'string' || !(producer instanceof Uint8Array) || !(producerKey instanceof Uint8Array) ||
      producerKey.length !== 48 || typeof blockDelaySecs !== 'number' || blockDelaySecs <= 0) {
    throw new MalformedMessageError('genesis state does not have the expected fields')
  }
  return { network, producer, producerKey, blockDelaySecs }
}

/** Lotus genesis blocks are mined by the system actor t00 and have no parents and no signature. */
export function createGenesis (state: GenesisState, timestamp: UnixSeconds): Genesis {
  const stateBytes = encodeGenesisState(state)
  const stateCid = chainCid(stateBytes)
  const header: BlockHeader = {
    miner: idAddressBytes(0),
    ticket: null,
    electionProof: null,
    beaconEntries: [],
    winPoStProof: [],
    parents: [],
    parentWeight: 0n,
    height: 0,
    parentStateRoot: stateCid,
    parentMessageReceipts: EMPTY_AMT_CID,
    messages: EMPTY_TXMETA_CID,
    blsAggregate: null,
    timestamp,
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: 0n
  }
  return { state, stateBytes, stateCid, header: sealHeader(header) }
}

/** Rebuilds a Genesis from bytes received from anywhere, checking both against the trusted genesis CID. */
export function openGenesis (trustedCid: CID, headerBytes: Uint8Array, stateBytes: Uint8Array, decode: (b: Uint8Array) => BlockHeader): Genesis {
  const cid = chainCid(headerBytes)
  if (!cid.equals(trustedCid)) throw new MalformedMessageError(`genesis header hashes to ${cid}, expected ${trustedCid}`)
  const header = decode(headerBytes)
  const stateCid = chainCid(stateBytes)
  if (!stateCid.equals(header.parentStateRoot)) throw new MalformedMessageError('genesis state does not match the genesis ParentStateRoot')
  return { state: decodeGenesisState(stateBytes), stateBytes, stateCid, header: { header, bytes: headerBytes, cid } }
}
