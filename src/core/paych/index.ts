// Payment channels (Filecoin's paych actor): state and vouchers in Filecoin's layouts, the actor's methods,
// the params a client and provider send, the verified read of a channel and the provider's voucher check.
export * from './paych-state'
export * from './voucher'
export * from './paych-actor'
export * from './paych-params'
export * from './channel-record'
export * from './check-voucher'
export * from './redeem-gas'
