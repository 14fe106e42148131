// A tab's own worker for what the shared light node cannot do in a SharedWorker: hashing in nested WASM workers
// and OPFS writes through sync access handles (src/light/tab-platform-server.ts). The page hands it one port.
import { serveTabPlatform } from '../src/light/tab-platform-server'
import { opfsStaging } from '../src/light/staging'
import { browserDownloadFiles } from '../src/light/download-files'
import type { Port } from '../src/light/worker-protocol'
import type { TabWorkerRequest } from '../src/light/platform-protocol'
import { piecePool } from './piece-pool-browser'

self.addEventListener('message', (evt: MessageEvent<TabWorkerRequest>) => {
  if (evt.data?.type !== 'serve') return
  serveTabPlatform(evt.data.port as unknown as Port, { pool: piecePool, staging: opfsStaging(), downloads: browserDownloadFiles() })
  evt.data.port.start()
})
