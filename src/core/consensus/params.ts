// Expected Consensus constants, each as the reference sources define it (Lotus master b835fab7, builtin-actors
// master b0a3bdd6, go-state-types master 8b01cf99). Coffer runs past every Filecoin network upgrade.
import type { Epoch } from '../units'

/**
 * Expected winners per epoch, "e". Lotus build/buildconstants/params_shared_vals.go `BlocksPerEpoch =
 * builtin2.ExpectedLeadersPerEpoch`; builtin-actors runtime/src/builtin/network.rs EXPECTED_LEADERS_PER_EPOCH = 5.
 */
export const BLOCKS_PER_EPOCH = 5

/** Lotus chain/types/electionproof.go `MaxWinCount = 3 * BlocksPerEpoch`: the sortition stops counting here. */
export const MAX_WIN_COUNT = 3 * BLOCKS_PER_EPOCH

/** Weight's short-term vs long-term ratio: Lotus params_shared_vals.go `WRatioNum = 1`, `WRatioDen = 2`. */
export const W_RATIO_NUM = 1n
export const W_RATIO_DEN = 2n

/** Lotus params_shared_vals.go `TicketRandomnessLookback = 1`: a ticket draws at height - 1. */
export const TICKET_RANDOMNESS_LOOKBACK: Epoch = 1

/** builtin-actors runtime/src/runtime/policy.rs CHAIN_FINALITY = 900 (go-state-types builtin/v1x/miner/policy.go ChainFinality). */
export const CHAIN_FINALITY: Epoch = 900

/**
 * How far back a block's election reads power and the worker key. Lotus chain/actors/policy/policy.go
 * GetWinningPoStSectorSetLookback: 10 up to network version 3, ChainFinality since; Coffer is past version 3.
 */
export const WINNING_POST_SECTOR_SET_LOOKBACK: Epoch = CHAIN_FINALITY
