// Proof of data possession: proof sets, challenges from a seed, proofs (leaves with Merkle paths) and
// their verification against the pieces' CommP roots.
export * from './errors'
export * from './proof-set'
export * from './challenges'
export * from './merkle-path'
export * from './possession-proof'
export * from './prove'
export * from './segment-proof'
export * from './audit'
