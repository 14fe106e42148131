// Tickets: each block's VRF chained from its parent tipset's smallest ticket, made as Lotus's miner.go
// computeTicket does and checked as chain/consensus/filcns/filecoin.go ValidateBlock's tktsCheck does; and
// Lotus's ticket order (chain/types/tipset.go Ticket.Less, MinTicketBlock).
import * as dagCbor from '@ipld/dag-cbor'
import { blake2b256 } from '../cid'
import { drawRandomness } from '../market/randomness'
import { blsVerify, nobleBlsSigner, SIG_TYPE_BLS, type BlsSigner } from '../signature'
import type { Epoch } from '../units'
import { DomainSeparationTag } from './domain-separation'
import { TICKET_RANDOMNESS_LOOKBACK } from './params'
import { TicketError } from './consensus-errors'

export interface TicketInit {
  /** The same beacon entry data the election uses (Lotus: the block's last entry, else the parent chain's latest). */
  beaconData: Uint8Array
  height: Epoch
  miner: Uint8Array
  /** The VRF proof of the parent tipset's smallest ticket (minTicket of its blocks' tickets). */
  parentMinTicket: Uint8Array
}

export interface TicketCheck extends TicketInit {
  workerKey: Uint8Array
  /** The block's ticket VRF proof; null (a header without a ticket) is refused. */
  ticket: Uint8Array | null
}

/**
 * What the worker signs to make its ticket: DrawRandomness(beacon, TicketProduction, height -
 * TicketRandomnessLookback, CBOR(miner) ‖ parentMinTicket). Lotus appends the parent's min ticket only above
 * UpgradeSmokeHeight (51000 on mainnet, below zero on every later network); Coffer is past it from genesis.
 */
export function ticketBase (beaconData: Uint8Array, height: Epoch, miner: Uint8Array, parentMinTicket: Uint8Array): Uint8Array {
  const minerCbor = dagCbor.encode(miner)
  const entropy = new Uint8Array(minerCbor.length + parentMinTicket.length)
  entropy.set(minerCbor, 0)
  entropy.set(parentMinTicket, minerCbor.length)
  return drawRandomness(beaconData, DomainSeparationTag.TicketProduction, height - TICKET_RANDOMNESS_LOOKBACK, entropy)
}

/** The producer's ticket VRF proof (Lotus computeTicket: the worker's BLS signature over the ticket base). */
export function makeTicket (workerSecretKey: Uint8Array, init: TicketInit, sign: BlsSigner = nobleBlsSigner): Uint8Array {
  return sign(workerSecretKey, ticketBase(init.beaconData, init.height, init.miner, init.parentMinTicket))
}

/** Refuses (TicketError) a missing ticket or one that is not the worker's VRF over this block's ticket base. */
export function verifyTicket (check: TicketCheck): void {
  if (check.ticket === null) throw new TicketError(check.height, check.miner, 'block has no ticket')
  const base = ticketBase(check.beaconData, check.height, check.miner, check.parentMinTicket)
  if (!blsVerify(check.workerKey, base, { type: SIG_TYPE_BLS, data: check.ticket })) {
    throw new TicketError(check.height, check.miner, 'not the worker\'s VRF chained from the parent min ticket')
  }
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Lotus Ticket.Less: tickets order by the blake2b-256 digest of their VRF proof, not by the proof bytes. */
export function ticketLess (a: Uint8Array, b: Uint8Array): boolean {
  return compareBytes(blake2b256(a), blake2b256(b)) < 0
}

/**
 * Lotus TipSet.MinTicket (MinTicketBlock): the smallest ticket by ticketLess, the first one on a tie. A
 * tipset's blocks are already in ticket order (tipset.ts makeTipSet), so this is its first block's ticket.
 */
export function minTicket (tickets: Uint8Array[]): Uint8Array {
  if (tickets.length === 0) throw new RangeError('a tipset has at least one ticket')
  let min = tickets[0]!
  for (const t of tickets.slice(1)) if (ticketLess(t, min)) min = t
  return min
}
