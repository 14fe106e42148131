// Worker entry: one hashing worker of the piece pool.
import { runPieceWorker } from './piece-worker'

runPieceWorker(self as unknown as Parameters<typeof runPieceWorker>[0])
