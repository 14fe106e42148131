// Piece view: the Filecoin piece CIDs of a file, computed in this tab by the hashing-worker pool as the
// file streams through (nothing is uploaded), with progress and a Cancel button.
import { useRef, useState } from 'react'
import { piecePool } from '../../workers/piece-pool-browser'

interface Done { name: string, v2: string, v1: string, paddedBytes: number, payloadBytes: number, seconds: number }

export function PieceView (): React.JSX.Element {
  const [progress, setProgress] = useState<{ done: number, total: number } | null>(null)
  const [result, setResult] = useState<Done | null>(null)
  const [error, setError] = useState<string | null>(null)
  const abort = useRef<AbortController | null>(null)

  const hash = async (file: File): Promise<void> => {
    abort.current?.abort()
    const ctl = new AbortController()
    abort.current = ctl
    setResult(null)
    setError(null)
    setProgress({ done: 0, total: file.size })
    const started = performance.now()
    try {
      const pool = await piecePool()
      const r = await pool.pieceOf(file, { signal: ctl.signal, onProgress: p => { if (abort.current === ctl) setProgress({ done: p.bytesHashed, total: p.totalBytes }) } })
      if (abort.current === ctl) setResult({ name: file.name, v2: String(r.v2), v1: String(r.v1), paddedBytes: r.digest.paddedBytes, payloadBytes: r.digest.payloadBytes, seconds: (performance.now() - started) / 1000 })
    } catch (err) {
      if (abort.current === ctl) setError(ctl.signal.aborted ? 'Cancelled.' : `${(err as Error).name}: ${(err as Error).message}`)
    } finally {
      // a run replaced by a newer file leaves the newer run's progress alone
      if (abort.current === ctl) setProgress(null)
    }
  }

  return (
    <section className="wallet" aria-label="Piece">
      <div className="card form">
        <h2>Piece CID of a file</h2>
        <p className="muted small">Computed here, in {navigator.hardwareConcurrency || 2} hashing workers (WASM, SIMD): FR32 padding and the sha2-256-trunc254 tree, as Filecoin does. The file is read in 4 MiB segments and never leaves the tab.</p>
        <input type="file" data-testid="piece-file" onChange={e => { const f = e.target.files?.[0]; if (f !== undefined) void hash(f) }} />
      </div>
      {progress !== null && (
        <div className="card progress" data-testid="piece-progress">
          <div className="label">Hashing: {(progress.done / 2 ** 20).toFixed(1)} of {(progress.total / 2 ** 20).toFixed(1)} MiB</div>
          <progress max={progress.total} value={progress.done} />
          <button type="button" className="secondary" data-testid="piece-cancel" onClick={() => abort.current?.abort()}>Cancel</button>
        </div>
      )}
      {error !== null && <div className="banner error" role="alert" data-testid="piece-error">{error}</div>}
      {result !== null && (
        <div className="card detail" data-testid="piece-result">
          <div className="label">{result.name}</div>
          <dl>
            <dt>Piece CID v2</dt><dd className="mono small" data-testid="piece-cid-v2">{result.v2}</dd>
            <dt>Piece CID v1</dt><dd className="mono small" data-testid="piece-cid-v1">{result.v1}</dd>
            <dt>Padded size</dt><dd data-testid="piece-padded">{result.paddedBytes}</dd>
            <dt>Payload</dt><dd>{result.payloadBytes} bytes</dd>
            <dt>Time</dt><dd data-testid="piece-rate">{result.seconds.toFixed(2)} s, {(result.payloadBytes / 2 ** 20 / result.seconds).toFixed(1)} MiB/s</dd>
          </dl>
        </div>
      )}
    </section>
  )
}
