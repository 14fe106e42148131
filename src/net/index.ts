// libp2p protocols shared by the browser light client and the provider node.
export * from './libp2p-node'
export * from './protocols'
export * from './state-protocol'
export * from './stream-io'
export * from './bootstrap'
export * from './deal-protocol'
export * from './frames'
export * from './windowed-transfer'
