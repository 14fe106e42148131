// The raw stream from a SharedWorker, where the app's node runs when the browser has them (the shared node): measured
// there, not only from a dedicated worker, because the two differ (issue 17: on this machine a SharedWorker's
// stream out ran 53–66 MiB/s and a dedicated worker's 31–36). Also buffers posted from here to the page, as the
// shared node hands a download's runs and an upload's CAR to its tab. One ask per connecting port, answered on it.
import { installNoiseAead } from '../../../src/net/noise-crypto'
import { browserAead } from '../../../workers/aead-browser'
import { streamCeiling, type StreamAsk } from './stream-ceiling'

// the stack as the app's node runs it: noise on the WASM cipher (src/net/noise-crypto.ts)
installNoiseAead(browserAead)

const MiB = 1 << 20

/** A stream, or `mib` MiB posted to the page in 1 MiB buffers, each moved. */
export type SharedAsk = StreamAsk | { type: 'post', mib: number }

;(self as unknown as { onconnect: (e: MessageEvent) => void }).onconnect = (e: MessageEvent) => {
  const port = e.ports[0]!
  port.onmessage = (m: MessageEvent<SharedAsk>) => {
    if (m.data.type === 'post') {
      // fresh 1 MiB buffers moved to the page, as the app's node moves a download's runs and an upload's CAR to its
      // tab: in a cross-origin isolated page Chromium keeps the SharedWorker apart and copies each one anyway
      for (let i = 0; i < m.data.mib; i++) { const b = new Uint8Array(MiB); b[0] = 1; port.postMessage({ bytes: b }, [b.buffer]) }
      port.postMessage({ posted: true })
      return
    }
    streamCeiling(m.data).then(value => { port.postMessage({ ok: true, value }) }, (err: Error) => { port.postMessage({ ok: false, error: `${err.name}: ${err.message}` }) })
  }
  port.postMessage({ ready: true })
}
