// The storage power actor (f04): Filecoin's power State with its Claims (the chain's list of miners),
// CreateMiner, and the pledge a new miner must bring.
export * from './power-state'
export * from './power-params'
export * from './power-actor'
