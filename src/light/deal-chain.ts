// The chain as the storage client sees it from the light client: every read a verified state proof at
// the verified head, every message signed by the wallet in this worker and followed to its verified receipt.
import { addressToString, MarketMethod, type Epoch } from '../core'
import { CID } from 'multiformats/cid'
import type { LightClient } from './light-client'
import type { WalletService } from './wallet-service'
import type { DealChain } from './storage-client'

const methodName = (n: number): string => Object.entries(MarketMethod).find(([, v]) => v === n)?.[0] ?? `method ${n}`

/** How long a message may take to land before the caller is told. */
export const RECEIPT_TIMEOUT_MS = 120_000

export function lightDealChain (lc: LightClient, wallet: WalletService, from: Uint8Array): DealChain {
  const waitReceipt = async (cid: string): Promise<{ exitCode: number, return: Uint8Array }> => {
    const deadline = Date.now() + RECEIPT_TIMEOUT_MS
    for (;;) {
      const r = await lc.state.receipt(CID.parse(cid)).catch(() => null)
      if (r !== null) return { exitCode: r.receipt.exitCode, return: r.receipt.return }
      if (Date.now() > deadline) throw new Error(`message ${cid} did not land in ${RECEIPT_TIMEOUT_MS / 1000} s`)
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(t); off(); resolve() }
        const t = setTimeout(done, 2000)
        const off = lc.onVerified(done)
      })
    }
  }
  return {
    params: lc.genesis.state.market,
    blockDelaySecs: lc.genesis.state.blockDelaySecs,
    headHeight: (): Epoch => lc.sync.head.header.height,
    escrow: async (a) => (await lc.state.escrow(a)).value,
    miner: async (a) => (await lc.state.miner(a)).value,
    balance: async (a) => (await lc.state.actor(a)).actor?.balance ?? 0n,
    deal: async (id) => (await lc.state.deal(id)).value,
    send: async (m, onSent) => {
      const cid = await wallet.message({ from: addressToString(from, 't'), to: addressToString(m.to, 't'), value: m.value, method: m.method, params: m.params, label: methodName(m.method) })
      onSent?.(cid)
      return { cid, ...(await waitReceipt(cid)) }
    },
    waitFor: waitReceipt
  }
}
