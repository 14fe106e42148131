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
import { createDealService, type DealService } from './deal-service'
import type { Staging } from './staging'
import type { PiecePool } from '../../workers/piece-pool'
import type { Port, WorkerCall, CallResult } from './worker-protocol'

/** What only a browser worker has: the WASM hashing pool (nested workers) and OPFS staging. */
export interface WorkerPlatform { pool: () => Promise<PiecePool>, staging: Staging }

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

export function runLightClient (port: Port, platform?: WorkerPlatform): void {
  let client: LightClient | undefined
  let wallet: WalletService | undefined
  let deals: DealService | undefined
  let ready: Promise<void> | undefined

  const answer = async (call: WorkerCall): Promise<CallResult> => {
    if (call.method === 'measureSignatures') return measureSignatures(Math.min(Math.max(1, call.count), 10_000))
    await ready
    if (client === undefined || wallet === undefined) throw new Error('the light client is not running')
    if (call.method === 'blockDetail') return await describeBlock(client, call.cid)
    if (call.method === 'upload' || call.method === 'providers' || call.method === 'proofDetail' || call.method === 'withdrawEscrow') {
      if (deals === undefined) throw new Error('storage is not available here (no wallet or no browser storage)')
      if (call.method === 'upload') return await deals.upload(call)
      if (call.method === 'withdrawEscrow') return await deals.withdrawEscrow()
      if (call.method === 'providers') return await deals.refreshProviders()
      return await deals.proofDetail(call.dealId, call.period)
    }
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
          let storeError: unknown
          const keystore = await openWalletStore().catch((err: unknown) => { storeError = err; return null })
          wallet = keystore === null
            ? unavailableWallet(storeError)
            : await createWalletService({
              client: lc,
              keystore,
              rpcUrl: doc.rpc,
              onChange: (view) => { port.postMessage({ type: 'wallet', wallet: view }) }
            }).catch(unavailableWallet)
          port.postMessage({ type: 'wallet', wallet: wallet.view() })
          if (keystore !== null && platform !== undefined) {
            const w = wallet
            deals = await createDealService({
              client: lc, wallet: w, keystore, bootstrap: doc, pool: platform.pool, staging: platform.staging,
              onChange: (view) => { port.postMessage({ type: 'deals', deals: view }) }
            }).catch((err: unknown) => {
              port.postMessage({ type: 'deals', deals: { uploads: [], deals: [], providers: [], providerErrors: [], escrow: null, error: toWireError(err) } })
              return undefined
            })
            if (deals !== undefined) port.postMessage({ type: 'deals', deals: deals.view() })
          }
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
