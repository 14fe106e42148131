// Light-client worker entry: everything lives in src/light; this file only hands it the worker's port and
// what only a browser worker has (the WASM hashing pool, as nested workers, and OPFS staging).
import '../src/net/polyfills'
import { runLightClient, opfsStaging, type Port } from '../src/light'
import { piecePool } from './piece-pool-browser'

runLightClient(self as unknown as Port, { pool: piecePool, staging: opfsStaging() })
