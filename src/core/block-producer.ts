// Builds and signs the next header on top of a parent. Pure: the caller supplies the time and the key.
import { sealHeader, headerSigningBytes, type BlockHeader, type SealedHeader } from './block-header'
import { blsSign } from './signature'
import { EMPTY_AMT_CID, EMPTY_TXMETA_CID, type Genesis } from './genesis'
import type { UnixSeconds } from './units'

/**
 * Fields this skeleton does not use yet are written empty, never invented: no Ticket/ElectionProof
 * (there is one producer, so no election), no beacon entries or WinPoSt, empty message AMTs, base fee 0.
 * ParentWeight is the height: with a single producer and no null rounds, that is the chain's weight.
 */
export function produceHeader (parent: SealedHeader, genesis: Genesis, secretKey: Uint8Array, timestamp: UnixSeconds): SealedHeader {
  const unsigned: BlockHeader = {
    miner: genesis.state.producer,
    ticket: null,
    electionProof: null,
    beaconEntries: [],
    winPoStProof: [],
    parents: [parent.cid],
    parentWeight: BigInt(parent.header.height + 1),
    height: parent.header.height + 1,
    parentStateRoot: genesis.stateCid,
    parentMessageReceipts: EMPTY_AMT_CID,
    messages: EMPTY_TXMETA_CID,
    blsAggregate: null,
    timestamp: Math.max(timestamp, parent.header.timestamp + 1),
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: 0n
  }
  return sealHeader({ ...unsigned, blockSig: blsSign(secretKey, headerSigningBytes(unsigned)) })
}
