// Actor method dispatch: one table keyed by actor code (market, init, payment channel), the runtime a
// method sees, and the send actors use to pay and call each other.
export * from './actor-error'
export * from './runtime'
export * from './dispatch'
