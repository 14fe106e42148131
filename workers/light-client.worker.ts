// Light-client worker entry: everything lives in src/light; this file only hands it the worker's port and
// what only a browser worker has (the WASM hashing pool, as nested workers, OPFS staging and download files)
// and WebRTC through its page, and the WASM cipher its noise sessions use (src/net/noise-crypto.ts).
import '../src/net/polyfills'
import { runLightClient } from '../src/light/run-worker'
import { opfsStaging } from '../src/light/staging'
import type { Port } from '../src/light/worker-protocol'
import { browserDownloadFiles } from '../src/light/download-files'
import { piecePool } from './piece-pool-browser'
import { createRtcPages, installRtcBridge } from '../src/light/bridged-rtc'
import { installNoiseAead } from '../src/net/noise-crypto'
import { browserAead } from './aead-browser'

installNoiseAead(browserAead)
installRtcBridge()
runLightClient(self as unknown as Port, { pool: piecePool, staging: opfsStaging(), downloads: browserDownloadFiles() }, createRtcPages())
