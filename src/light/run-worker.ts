// Runs the light client behind a Port: fetches the bootstrap document (or falls back to the stored one
// when offline) and streams status snapshots back. The worker entry file only calls this.
import { toWireError } from '../core'
import { parseBootstrap, type BootstrapDocument } from '../net'
import { startLightClient, type LightClient } from './light-client'
import { loadSavedBootstrap, saveBootstrap } from './bootstrap-cache'
import { openWalletStore } from './wallet-store'
import { createWalletService, unavailableWallet, type WalletService } from './wallet-service'
import { describeBlock } from './block-detail'
import { measureSignatures } from './measure'
import type { Port, WorkerCall, CallResult } from './worker-protocol'

async function loadBootstrap (url: string): Promise<{ doc: BootstrapDocument, source: 'network' | 'stored' }> {
  try {
    const res = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const doc = parseBootstrap(await res.json())
    await saveBootstrap(doc)
    return { doc, source: 'network' }
  } catch (err) {
    const saved = await loadSavedBootstrap()
    if (saved === undefined) throw new Error(`cannot load ${url} (${(err as Error).message}) and no chain is stored yet`)
    return { doc: parseBootstrap(saved), source: 'stored' }
  }
}

export function runLightClient (port: Port): void {
  let client: LightClient | undefined
  let wallet: WalletService | undefined
  let ready: Promise<void> | undefined

  const answer = async (call: WorkerCall): Promise<CallResult> => {
    if (call.method === 'measureSignatures') return measureSignatures(Math.min(Math.max(1, call.count), 10_000))
    await ready
    if (client === undefined || wallet === undefined) throw new Error('the light client is not running')
    if (call.method === 'blockDetail') return await describeBlock(client, call.cid)
    return await wallet.call(call) as CallResult
  }

  port.addEventListener('message', (evt) => {
    const msg = evt.data
    if (msg.type === 'start' && ready === undefined) {
      ready = loadBootstrap(msg.bootstrapUrl)
        .then(async ({ doc, source }) => {
          client = await startLightClient({ bootstrap: doc, bootstrapSource: source, onStatus: (status) => { port.postMessage({ type: 'status', status }) } })
          const lc = client
          // a wallet that will not open (storage full, a damaged record) must not take header sync down with it
          wallet = await openWalletStore()
            .then(async keystore => await createWalletService({
              client: lc,
              keystore,
              rpcUrl: doc.rpc,
              onChange: (view) => { port.postMessage({ type: 'wallet', wallet: view }) }
            }))
            .catch(unavailableWallet)
          port.postMessage({ type: 'wallet', wallet: wallet.view() })
        })
        .catch(err => { port.postMessage({ type: 'fatal', error: toWireError(err) }) })
    } else if (msg.type === 'call') {
      answer(msg.call).then(
        value => { port.postMessage({ type: 'reply', id: msg.id, ok: true, value }) },
        err => { port.postMessage({ type: 'reply', id: msg.id, ok: false, error: toWireError(err) }) }
      )
    } else if (msg.type === 'stop') {
      void client?.stop().finally(() => { port.postMessage({ type: 'stopped' }) })
    }
  })
}
