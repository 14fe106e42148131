// Builds and signs the next header on top of a parent. Pure: the caller supplies the time and the key.
import { sealHeader, headerSigningBytes, type BlockHeader, type SealedHeader } from './block-header'
import { blsSign } from './signature'
import { EMPTY_AMT_CID, EMPTY_TXMETA_CID, type Genesis } from './genesis'
import { BASE_FEE } from './apply-messages'
import type { Signature } from './signature'
import type { CID } from './cid'
import type { UnixSeconds } from './units'
import type { BeaconEntry } from './block-header'
import { beaconRoundsForBlock, type BeaconRound } from './beacon'
import { beaconTimingOf } from './genesis'
import { parentBeaconEntry } from './header-rules'

/** What executing the parent's messages gave, and what this block carries for the next one. */
export interface BlockBody { parentStateRoot: CID, parentMessageReceipts: CID, messages: CID, blsAggregate: Signature | null }

/** The beacon rounds a child of `parent` must carry (Lotus's BeaconEntriesForBlock): the producer fetches these entries. */
export function beaconRoundsForChild (parent: SealedHeader, genesis: Genesis): BeaconRound[] {
  return beaconRoundsForBlock(beaconTimingOf(genesis), parent.header.height + 1, parent.header.height, parentBeaconEntry(parent))
}

/**
 * Fields Coffer does not use yet are written empty, never invented: no Ticket/ElectionProof (there is one
 * producer, so no election), no WinPoSt; the base fee stays at Lotus's minimum. `beaconEntries` are the
 * entries of beaconRoundsForChild, from the beacon.
 * ParentWeight is the height: with a single producer and no null rounds, that is the chain's weight.
 * Without a body the block carries no messages, and (valid only when the parent carried none either)
 * the parent's state root is kept.
 */
export function produceHeader (parent: SealedHeader, genesis: Genesis, secretKey: Uint8Array, timestamp: UnixSeconds, beaconEntries: BeaconEntry[], body?: BlockBody): SealedHeader {
  const b = body ?? { parentStateRoot: parent.header.parentStateRoot, parentMessageReceipts: EMPTY_AMT_CID, messages: EMPTY_TXMETA_CID, blsAggregate: null }
  const unsigned: BlockHeader = {
    miner: genesis.state.producer,
    ticket: null,
    electionProof: null,
    beaconEntries,
    winPoStProof: [],
    parents: [parent.cid],
    parentWeight: BigInt(parent.header.height + 1),
    height: parent.header.height + 1,
    parentStateRoot: b.parentStateRoot,
    parentMessageReceipts: b.parentMessageReceipts,
    messages: b.messages,
    blsAggregate: b.blsAggregate,
    timestamp: Math.max(timestamp, parent.header.timestamp + 1),
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: BASE_FEE
  }
  return sealHeader({ ...unsigned, blockSig: blsSign(secretKey, headerSigningBytes(unsigned)) })
}
