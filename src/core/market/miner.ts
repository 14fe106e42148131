// A storage provider's on-chain record moved to src/core/miner (the miner actor, created through the power
// actor's CreateMiner); these re-exports keep the market's and older callers' imports working.
export { getMinerInfo, getMinerState, MINER_ACTOR_CODE } from '../miner/miner-state'
export { encodeMinerInfo, decodeMinerInfo, newMinerInfo, type MinerInfo, type MinerInfoInit } from '../miner/miner-info'
