// The randomness beacon: drand's quicknet scheme (sign and verify a round) and Filecoin's rules for the
// beacon entries in block headers (which rounds a block carries, checking them, the latest entry below a tipset).
export * from './beacon-errors'
export * from './beacon-scheme'
export * from './beacon-rounds'
export * from './beacon-cache'
