// The light client: header sync, its IndexedDB store and the status it reports. Runs in a Web Worker in
// the browser (workers/light-client.worker.ts) and in-process in Node tests.
export * from './status'
export * from './header-store'
export * from './header-sync'
export * from './light-client'
export * from './bootstrap-cache'
export * from './worker-protocol'
export * from './run-worker'
export * from './state-client'
export * from './wallet-service'
export * from './block-detail'
export * from './wallet-store'
export * from './lotus-key'
