// The reward actor (f02): Filecoin's reward State, Coffer's devnet block-reward schedule (a halving round FIL
// figure), and AwardBlockReward / ThisEpochReward / UpdateNetworkKPI. Not yet wired into dispatch or genesis.
export * from './reward-state'
export * from './reward-schedule'
export * from './reward-actor'
