// A hashing worker of the piece pool: the WASM SIMD node hash over segments the pool hands it, and the WASM
// proof-of-possession verifier. The entry file only calls `runPieceWorker(self)`.
import { PieceHasher, verifyPossession, verifyAuditProof, decodeProofSet, toWireError, CID } from '../src/core'
import { instantiatePieceWasm, type PieceWasm } from './wasm/piece-wasm'
import type { PoolToWorker, WorkerToPool } from './piece-protocol'

export interface PieceWorkerScope {
  postMessage: (msg: WorkerToPool, transfer?: Transferable[]) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent<PoolToWorker>) => void) => void
}

export function runPieceWorker (scope: PieceWorkerScope): void {
  let wasm: Promise<PieceWasm> | undefined
  scope.addEventListener('message', (evt) => {
    const msg = evt.data
    if (msg.type === 'init') {
      wasm = instantiatePieceWasm(msg.module)
      // id -1: this worker cannot work at all; the pool replaces it
      wasm.then(() => { scope.postMessage({ type: 'ready' }) }, (err) => { scope.postMessage({ type: 'error', id: -1, error: toWireError(err) }) })
      return
    }
    void (async () => {
      try {
        if (wasm === undefined) throw new Error('the piece worker was not initialised')
        if (msg.type === 'verify') {
          verifyPossession(decodeProofSet(msg.proofSet), msg.seed, msg.count, msg.proof, (await wasm).verifyMerklePath)
          scope.postMessage({ type: 'verified', id: msg.id })
          return
        }
        if (msg.type === 'verify-audit') {
          verifyAuditProof(CID.decode(msg.pieceCid), msg.paddedBytes, msg.leaves, msg.proof, (await wasm).verifyMerklePath)
          scope.postMessage({ type: 'verified', id: msg.id })
          return
        }
        if (msg.type === 'path-steps') {
          // the verdict's own kernel (verifyPath) over each prefix of the path: a drawn step is judged by what judged the proof
          const w = await wasm
          const ok = msg.path.map((_, k) => w.verifyMerklePath(msg.nodes[k + 1] ?? new Uint8Array(0), msg.leaf % 2 ** (k + 1), msg.value, msg.path.slice(0, k + 1)))
          scope.postMessage({ type: 'path-steps', id: msg.id, ok })
          return
        }
        const hasher = new PieceHasher((await wasm).simd)
        hasher.write(new Uint8Array(msg.bytes))
        if (msg.type === 'segment') {
          const root = hasher.rootAt(msg.height)
          // the bytes are hashed (the hasher keeps none of them): their buffer goes back to be filled again
          scope.postMessage({ type: 'root', id: msg.id, root, bytes: msg.bytes }, [root.buffer, msg.bytes])
        } else {
          scope.postMessage({ type: 'digest', id: msg.id, digest: hasher.digest() })
        }
      } catch (err) {
        scope.postMessage({ type: 'error', id: msg.id, error: toWireError(err) })
      }
    })()
  })
}
