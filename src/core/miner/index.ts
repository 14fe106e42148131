// Storage miners: Filecoin's MinerInfo, a reduced miner State linking it, and the miner actor's methods
// (Constructor, ControlAddresses, ChangePeerID, WithdrawBalance, ChangeMultiaddrs).
export * from './miner-info'
export * from './miner-state'
export * from './miner-params'
export * from './miner-actor'
