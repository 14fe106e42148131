// A worker_threads entry for the provider's piece pool: runs the same TypeScript worker as the browser's
// hashing workers (workers/piece-worker.ts), through tsx.
import { register } from 'tsx/esm/api'
register()
await import('./piece-thread.ts')
