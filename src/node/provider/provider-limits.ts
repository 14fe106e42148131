// What a storage provider sells and how much of it one client may hold: the ask's figures, and the limits on
// transfers, reserved room and staged bytes (Lotus's DealmakingConfig where it has one), with their defaults.
import type { AttoFil } from '../../core'
import { DEFAULT_TRANSFER_RATE_FLOOR, type TransferRateFloor } from '../../net'
import { PRESTAGE_IDLE_MS, PRESTAGE_PEER_STAGES, type PrestageLimits } from './prestage'

export interface ProviderAskInit {
  pricePerGiBEpoch: AttoFil
  minPieceSize: number
  maxPieceSize: number
  collateralPerGiB: AttoFil
  /** Bytes this provider sells. */
  capacityBytes: number
  /** Retrieval terms, signed in the ask (StorageAsk): price per GiB sent (0 = free) and the payment intervals in bytes. */
  retrievalPricePerGiB: AttoFil
  paymentInterval: number
  paymentIntervalIncrease: number
  /** The provider's HTTP gateway (http-gateway/), signed in the ask; none when left out. */
  gatewayUrl?: string
}

/**
 * What one client may hold of a provider, and how long staged bytes live. A proposal locks nothing on chain
 * until it is published, so without these a client with a little escrow could reserve every byte a provider
 * sells, for as long as it cared to trickle.
 */
export interface ProviderLimits {
  /** Transfers the provider runs at once, whoever they are for (Lotus's SimultaneousTransfersForStorage). */
  maxTransfers: number
  /** Transfers one client may run at once (Lotus's SimultaneousTransfersForStoragePerClient). */
  maxClientTransfers: number
  /** Bytes one client may hold: the whole pieces of its running transfers plus its other staged bytes. */
  maxClientBytes: number
  /**
   * Room a running transfer holds beyond the bytes it has staged: when its bytes reach it, the provider checks
   * for room again and holds the next stretch, or refuses SPACE with every byte kept.
   */
  reserveAheadBytes: number
  /** How far past the head a deal may start, in seconds of the chain's block time (Lotus's MaxDealStartDelay). */
  maxStartDelaySecs: number
  /** Staged bytes that no stream has written or resumed for this long are removed. */
  stagingIdleMs: number
  /** The slowest a running transfer may go (deal-protocol's rate floor). */
  rateFloor: TransferRateFloor
  /** What peers may stage before proposing (STAGE_PROTOCOL). */
  prestage: PrestageLimits
}

/** Lotus's default MaxDealStartDelay (node/config/def.go): 14 days. */
export const MAX_START_DELAY_SECS = 14 * 24 * 3600
/** Far above an honest client's needs (the app sends a file's copies to different providers), and bounded. */
export const MAX_CLIENT_TRANSFERS = 8
/**
 * Lotus's default SimultaneousTransfersForStorage (node/config/def.go, DealmakingConfig): 20. Per-client limits
 * alone do not bound the provider, since client keys are free and anyone may fund any key's escrow.
 */
export const MAX_TRANSFERS = 20
/**
 * 64 MiB (64 whole frames): what a transfer may write before its room is checked again. Each check is a read
 * of the folder's sizes, cheap beside writing 64 MiB; with MAX_TRANSFERS running, at most 1.25 GiB of room is
 * held for bytes not yet sent. Holding whole pieces instead let a transfer barely above the rate floor hold a
 * 16 GiB piece's room for the 12 days it would take at 16 KiB/s.
 */
export const RESERVE_AHEAD_BYTES = 64 * 2 ** 20
/**
 * An hour: a client re-plans within seconds of a refused start, and a tab reopened after a dropped connection
 * within minutes; past that the disk is worth more to the next client than the bytes are to this one.
 */
export const STAGING_IDLE_MS = 60 * 60_000

/**
 * Defaults for an ask: one client may hold a quarter of the capacity, or one piece of the largest size the
 * ask takes when that is more (the client could not send it otherwise).
 */
export function defaultProviderLimits (ask: ProviderAskInit): ProviderLimits {
  return {
    maxTransfers: MAX_TRANSFERS,
    maxClientTransfers: MAX_CLIENT_TRANSFERS,
    maxClientBytes: Math.max(ask.maxPieceSize, Math.floor(ask.capacityBytes / 4)),
    reserveAheadBytes: RESERVE_AHEAD_BYTES,
    maxStartDelaySecs: MAX_START_DELAY_SECS,
    stagingIdleMs: STAGING_IDLE_MS,
    rateFloor: DEFAULT_TRANSFER_RATE_FLOOR,
    // a peer stages what a client could hold; all peers together a quarter of the capacity (one client's
    // share), so unpaid stages never crowd out more than one client's worth of proposals
    prestage: {
      maxPeerStages: PRESTAGE_PEER_STAGES,
      maxPeerBytes: Math.max(ask.maxPieceSize, Math.floor(ask.capacityBytes / 4)),
      maxTotalBytes: Math.max(ask.maxPieceSize, Math.floor(ask.capacityBytes / 4)),
      idleMs: PRESTAGE_IDLE_MS,
      reserveAheadBytes: RESERVE_AHEAD_BYTES
    }
  }
}
