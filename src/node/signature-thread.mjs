// A worker_threads entry for the node's signature verifier: runs signature-thread.ts through tsx, as
// piece-thread.mjs does for the piece pool.
import { register } from 'tsx/esm/api'
register()
await import('./signature-thread.ts')
