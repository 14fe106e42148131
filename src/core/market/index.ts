// The storage market: deal proposals, escrow and deal states in the market actor, providers' on-chain
// records, proving-period challenges, and the reads a light client verifies.
export * from './deal-proposal'
export * from './market-params'
export * from './market-state'
export * from './deal-state'
export * from './miner'
export * from './randomness'
export * from './frc42'
export * from './market-actor'
export * from './deal-record'
export * from './storage-ask'
export * from './choose-providers'
export * from './deal-wire'
