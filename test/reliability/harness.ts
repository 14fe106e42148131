// What every reliability scenario needs: waiting on a condition with a deadline, and counting what escapes as
// uncaught (a crash, in the table's terms) while the scenario runs; a funded market client for the market scenarios.
import * as dagCbor from '@ipld/dag-cbor'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpPublicKey, secpAddressBytes, signMessage, gasLimitFor, parseFil, MarketMethod, ExitCode, STORAGE_MARKET_ADDRESS, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type Message
} from '../../src/core'
import type { Devnet } from '../../src/node/devnet'

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Polls `cond` until it holds or `ms` pass; says whether it held. */
export async function waitFor (cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return true
    await sleep(50)
  }
  return await cond()
}

export interface CrashWatch {
  /** Uncaught exceptions and unhandled rejections since the watch began. */
  count: () => number
  stop: () => void
}

/** Counts what escapes uncaught, each with a line in `failures`, until stopped. */
export function watchCrashes (failures: string[]): CrashWatch {
  let n = 0
  const onCrash = (err: unknown): void => { n++; failures.push(`uncaught: ${String((err as Error)?.stack ?? err).slice(0, 300)}`) }
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)
  return {
    count: () => n,
    stop: () => { process.off('uncaughtException', onCrash); process.off('unhandledRejection', onCrash) }
  }
}

export interface FundedClient { secret: Uint8Array, address: Uint8Array }

/** A fresh secp256k1 key, paid by the devnet's faucet, with `escrowFil` FIL added to its market escrow. */
export async function fundMarketClient (d: Devnet, escrowFil: string): Promise<FundedClient> {
  const secret = secp256k1.utils.randomSecretKey()
  const c = { secret, address: secpAddressBytes(secpPublicKey(secret)) }
  const paid = await d.chain.faucet(c.address)
  await d.chain.waitMessage(paid, AbortSignal.timeout(120_000))
  const m: Message = {
    version: 0, to: STORAGE_MARKET_ADDRESS, from: c.address, nonce: await d.chain.mpoolNonce(c.address), value: parseFil(escrowFil), gasLimit: 0,
    gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: MarketMethod.AddBalance, params: dagCbor.encode(c.address)
  }
  const cid = await d.chain.mpoolPush(signMessage(c.secret, { ...m, gasLimit: gasLimitFor(m) }))
  const r = await d.chain.waitMessage(cid, AbortSignal.timeout(120_000))
  if (r.receipt.exitCode !== ExitCode.Ok) throw new Error(`AddBalance failed: exit ${r.receipt.exitCode}`)
  return c
}
