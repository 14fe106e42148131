// Judging a gossiped block before it is delivered or relayed, shared by full nodes and the light client.
// gossipsub runs a topic's validator before it delivers or forwards a message and scores the verdict on
// the peer that handed it over: Reject (the P4 penalty) for what is invalid on any chain state, Ignore
// (dropped, no penalty) for what cannot be checked yet or is only stale. As Lotus's chain/sub/incoming.go:
// malformed and badly signed blocks (the producer's signature or a beacon entry's) are rejected, blocks from the future ignored.
import {
  decodeBlockMsg, validateHeaderProducer, validateHeaderSignature, validateHeaderBeaconSignatures, ALLOWED_CLOCK_DRIFT_SECS,
  ecChecks, CHAIN_FINALITY, EC_ALLOWED_CLOCK_DRIFT_SECS, verifyBeaconEntriesOnce,
  type GenesisState, type VerifiedBeaconEntries, type SealedHeader, type UnixSeconds
} from '../core'

export interface BlockJudgeInit {
  genesis: GenesisState
  /** Our head: anything at or below its height is old news, never relayed or offered. */
  head: () => SealedHeader
  nowSecs: () => UnixSeconds
  /** Expected Consensus: the beacon entries the caller verified before (its chain's or its sync's): not verified again. */
  verifiedBeacon?: VerifiedBeaconEntries
}

/** A gossip verdict (src/net/gossip.ts) with the decoded header, the error or the reason for the caller's logs. */
export type BlockVerdict =
  | { verdict: 'accept', value: SealedHeader }
  | { verdict: 'reject', error: Error }
  | { verdict: 'ignore', reason: string }

export function judgeBlock (data: Uint8Array, init: BlockJudgeInit): BlockVerdict {
  let h: SealedHeader
  try {
    h = decodeBlockMsg(data)
  } catch (err) {
    return { verdict: 'reject', error: err as Error }
  }
  if (init.genesis.consensus === 'expected') return judgeEcBlock(h, init)
  // cheap checks first: junk with a valid shape must not cost a pairing
  const head = init.head()
  if (h.header.height <= head.header.height) return { verdict: 'ignore', reason: `height ${h.header.height} is not above our head ${head.header.height}` }
  try {
    validateHeaderProducer(h, init.genesis)
  } catch (err) {
    return { verdict: 'reject', error: err as Error }
  }
  // a header from the future may be fine once its time comes (Lotus ignores temporal errors, not rejects)
  if (h.header.timestamp > init.nowSecs() + ALLOWED_CLOCK_DRIFT_SECS) return { verdict: 'ignore', reason: `timestamp ${h.header.timestamp} is in the future` }
  try {
    validateHeaderSignature(h, init.genesis)
    // its beacon entries are the beacon's signatures of their rounds whatever the parent (which rounds it must
    // carry is checked against the parent, when the block is stored): a forged entry is invalid on any chain
    validateHeaderBeaconSignatures(h, { state: init.genesis })
  } catch (err) {
    return { verdict: 'reject', error: err as Error }
  }
  return { verdict: 'accept', value: h }
}

/**
 * The gossip verdict on an Expected Consensus block, before any state is read: its EC fields well formed (sanity:
 * an ElectionProof with a positive WinCount, a Ticket, a signature), not from the future, and its beacon entries
 * the beacon's signatures of their rounds. Blocks of a height at or below our head are taken too (a second miner's
 * block joins the head's tipset; a fork may be heavier), unless more than a finality below it. Which miner signed
 * and whether it won are checked against the state its parent names, when the node takes the block (NodeChain.accept).
 */
function judgeEcBlock (h: SealedHeader, init: BlockJudgeInit): BlockVerdict {
  const head = init.head()
  if (h.header.height + CHAIN_FINALITY < head.header.height) return { verdict: 'ignore', reason: `height ${h.header.height} is more than a finality below our head ${head.header.height}` }
  try {
    ecChecks.sanity(h.header)
  } catch (err) {
    return { verdict: 'reject', error: err as Error }
  }
  if (h.header.timestamp > init.nowSecs() + EC_ALLOWED_CLOCK_DRIFT_SECS) return { verdict: 'ignore', reason: `timestamp ${h.header.timestamp} is in the future` }
  try {
    // a round's blocks carry the same entries: each verified once, here or by the chain's own checks
    verifyBeaconEntriesOnce(init.genesis.beacon.publicKey, h.header.beaconEntries, init.verifiedBeacon)
  } catch (err) {
    return { verdict: 'reject', error: err as Error }
  }
  return { verdict: 'accept', value: h }
}
