// Coffer's protocol core: formats, crypto and chain rules, with no I/O. The light client (browser worker)
// and the provider node both import from here, so they cannot disagree about a rule.
export * from './units'
export * from './errors'
export * from './cid'
export * from './token'
export * from './address'
export * from './signature'
export * from './block-header'
export * from './genesis'
export * from './header-rules'
export * from './header-batch'
export * from './block-producer'
export * from './wire'
