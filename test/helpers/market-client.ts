// A storage client for provider tests that talks straight to a devnet in the same process: fresh keys funded
// from the faucet with market escrow, messages pushed and awaited, and signed deal requests for a provider.
import { expect } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { Devnet } from '../../src/node/devnet'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { devnetAsk, providerDir } from '../../src/node/provider/devnet-providers'
import type { PayloadReader } from '../../src/net'
import {
  secpPublicKey, secpAddressBytes, signMessage, idAddressBytes, gasLimitFor, parseFil, paddedPieceSize, signDealProposal,
  askPricePerEpoch, askCollateral, DealRejectedError, MarketMethod, ExitCode, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  type DealProposal, type DealRequest, type Message, type CID
} from '../../src/core'

export interface MarketClient { secret: Uint8Array, address: Uint8Array }

/** Signs `from`'s next message, pushes it and waits for a successful receipt. */
export async function pushAndWait (d: Devnet, from: MarketClient, to: Uint8Array, method: number, params: Uint8Array, value: bigint): Promise<void> {
  const m: Message = { version: 0, to, from: from.address, nonce: await d.chain.mpoolNonce(from.address), value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method, params }
  const cid: CID = await d.chain.mpoolPush(signMessage(from.secret, { ...m, gasLimit: gasLimitFor(m) }))
  expect((await d.chain.waitMessage(cid, AbortSignal.timeout(60_000))).receipt.exitCode).toBe(ExitCode.Ok)
}

/** A fresh key with `escrow` FIL in the market: keys cost nothing, and anyone may fund any key's escrow. */
export async function fundedMarketClient (d: Devnet, escrow: string): Promise<MarketClient> {
  return (await fundedMarketClients(d, [escrow]))[0]!
}

/**
 * Fresh keys, one per entry of `escrows`, each with that many FIL in the market. Funding one key waits out two
 * messages (the faucet's payment, then AddBalance), a few block times; these wait side by side, so a batch costs
 * about what one key does. The faucet's payments are pushed one after another (they share its nonces).
 */
export async function fundedMarketClients (d: Devnet, escrows: string[]): Promise<MarketClient[]> {
  const cs = escrows.map(() => {
    const secret = secp256k1.utils.randomSecretKey()
    return { secret, address: secpAddressBytes(secpPublicKey(secret)) }
  })
  const paid: CID[] = []
  for (const c of cs) paid.push(await d.chain.faucet(c.address))
  await Promise.all(paid.map(async (cid) => { expect((await d.chain.waitMessage(cid, AbortSignal.timeout(60_000))).receipt.exitCode).toBe(ExitCode.Ok) }))
  await Promise.all(cs.map(async (c, i) => { await pushAndWait(d, c, idAddressBytes(5), MarketMethod.AddBalance, dagCbor.encode(c.address), parseFil(escrows[i]!)) }))
  return cs
}

/**
 * Fresh funded keys made ahead in one batch (fundedMarketClients), for a file whose tests each want new keys:
 * `take` hands out one not handed out before, so each test still starts from a key nothing else has used.
 */
export class MarketClientPool {
  private constructor (private readonly left: Map<string, MarketClient[]>) {}

  /** `counts`: how many keys of each escrow (FIL, as text) the file's tests take in all. */
  static async fill (d: Devnet, counts: Record<string, number>): Promise<MarketClientPool> {
    const escrows = Object.entries(counts).flatMap(([escrow, n]) => Array<string>(n).fill(escrow))
    const cs = await fundedMarketClients(d, escrows)
    const left = new Map<string, MarketClient[]>()
    cs.forEach((c, i) => { left.set(escrows[i]!, [...(left.get(escrows[i]!) ?? []), c]) })
    return new MarketClientPool(left)
  }

  take (escrow: string): MarketClient {
    const c = this.left.get(escrow)?.shift()
    // a test that takes more than the file declared: raise the count in its fill()
    if (c === undefined) throw new Error(`no funded client with ${escrow} FIL left in the pool`)
    return c
  }
}

/** A signed request to devnet provider `provider` (0 = t01001) at its ask, for two proving periods from `start`. */
export function dealRequest (c: MarketClient, provider: number, o: { pieceCid: CID, payloadBytes: number, start: number, provingPeriod: number, label: string, pricePerEpoch?: bigint }): DealRequest {
  const pieceSize = paddedPieceSize(o.payloadBytes)
  const ask = devnetAsk(provider)
  const p: DealProposal = {
    pieceCid: o.pieceCid, pieceSize, verifiedDeal: false, client: c.address, provider: idAddressBytes(1001 + provider), label: o.label,
    startEpoch: o.start, endEpoch: o.start + 2 * o.provingPeriod, storagePricePerEpoch: o.pricePerEpoch ?? askPricePerEpoch(ask, pieceSize),
    providerCollateral: askCollateral(ask, pieceSize), clientCollateral: 0n
  }
  return { proposal: signDealProposal(c.secret, p), payloadBytes: o.payloadBytes }
}

/** A provider's staging folder as the disk shows it: each file's name (without `.part`) and size. */
export async function stagedFiles (dataDir: string, provider: number): Promise<Array<{ key: string, bytes: number }>> {
  const folder = path.join(providerDir(dataDir, provider), 'staging')
  const out: Array<{ key: string, bytes: number }> = []
  for (const name of await readdir(folder)) out.push({ key: name.replace(/\.part$/, ''), bytes: (await stat(path.join(folder, name)).catch(() => ({ size: 0 }))).size })
  return out
}

/** The DealRejectedError `p` must fail with. */
export async function rejection (p: Promise<unknown>): Promise<DealRejectedError> {
  const err = await p.then(() => undefined, (e: Error) => e)
  expect(err).toBeInstanceOf(DealRejectedError)
  return err as DealRejectedError
}

/** A payload reader for a transfer that must need no byte: refused before any, or all staged already. */
export const noBytes = (total = 0): PayloadReader => async function * (offset) {
  if (offset < total || total === 0) throw new Error(`no bytes should be asked for (offset ${offset} of ${total})`)
}
