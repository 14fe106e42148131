// Reading a payment channel out of a state tree: its actor's balance, its state and every lane, the way deals
// and escrow are read (market/deal-record.ts): the node records the blocks this walk touches, and a light
// client or a provider replays the same walk over those blocks alone against a root it verified itself.
import { getActor } from '../state-tree'
import { ProofBlockStore, type BlockGetter } from '../block-store'
import { resolveAddress } from '../init/init-state'
import { PAYCH_ACTOR_CODE, readPaychState, readLanes, MAX_CHANNEL_LANES, type PaychState } from './paych-state'
import type { CID } from '../cid'
import type { AttoFil } from '../units'

export interface ChannelLane { lane: number, redeemed: AttoFil, nonce: number }

export interface ChannelRecord {
  /** The channel's ID address (f0), whichever address it was read by. */
  id: Uint8Array
  /** The actor's balance: all the FIL in the channel, redeemed (ToSend) or not. */
  balance: AttoFil
  state: PaychState
  /** Every lane used so far, by lane number. */
  lanes: ChannelLane[]
}

/**
 * The channel at `channelAddress` (its f0, or its f2 through the init actor's address map) under `root`;
 * null when the walk proves there is no payment channel there (never created, collected, or another kind of
 * actor). Throws ProofIncompleteError / MalformedStateError when the blocks prove neither.
 */
export function readChannel (store: BlockGetter, root: CID, channelAddress: Uint8Array): ChannelRecord | null {
  const id = resolveAddress(store, root, channelAddress)
  if (id === null) return null
  const actor = getActor(store, root, id)
  if (actor === null || !actor.code.equals(PAYCH_ACTOR_CODE)) return null
  const state = readPaychState(store, actor.head)
  const lanes = [...readLanes(store, state.laneStates, MAX_CHANNEL_LANES)].map(([lane, l]) => ({ lane, redeemed: l.redeemed, nonce: l.nonce }))
  return { id, balance: actor.balance, state, lanes }
}

/** The channel as `blocks` prove it under a trusted root (null: proven absent). */
export const verifyChannelProof = (trustedRoot: CID, channelAddress: Uint8Array, blocks: Uint8Array[]): ChannelRecord | null =>
  readChannel(new ProofBlockStore(blocks), trustedRoot, channelAddress)
