// The storage power actor (f04): Filecoin's power State with its Claims (the chain's list of miners and
// their power), CreateMiner, claimed power as proven deals change it, and the pledge a new miner must bring.
export * from './power-state'
export * from './power-params'
export * from './power-actor'
export * from './power-claims'
export * from './power-read'
