// What the provider scenarios share: a devnet with no provider of its own, a provider that joins it from its own
// folder (`coffer provider init`, as on another machine), long deals signed for it, and audits of what it holds.
import { mkdir, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { PeerId } from '@libp2p/interface'
import {
  pieceDigest, pieceCidV1, paddedPieceSize, signDealProposal, askPricePerEpoch, askCollateral, verifyAuditProof,
  type CID, type DealRequest, type SignedStorageAsk
} from '../../src/core'
import { requestAudit, type Dialer } from '../../src/net'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { sleep, type FundedClient } from './harness'
import { coffer } from './processes'

/** Epochs in the scenarios' proving period. */
export const P = 10

/**
 * A devnet with no genesis provider, and where its bootstrap document is: a file in `dir`, or with `app` the URL
 * its web server serves it at (what `coffer retrieve --network` reads).
 */
export async function startJoinNet (dir: string, opts: { app?: boolean, provingPeriod?: number } = {}): Promise<{ devnet: Devnet, network: string }> {
  const common = { dataDir: path.join(dir, 'devnet'), rpcPort: 0, providers: 0, provingPeriod: opts.provingPeriod ?? P, faucetCooldownMs: 0, log: () => {} }
  if (opts.app === true) {
    await mkdir(path.join(dir, 'dist'))
    const devnet = await startDevnet({ ...common, distDir: path.join(dir, 'dist'), serveApp: true, httpPort: 0 })
    return { devnet, network: `${devnet.url!}/bootstrap.json` }
  }
  const devnet = await startDevnet({ ...common, distDir: '/nonexistent', serveApp: false })
  const network = path.join(dir, 'bootstrap.json')
  await writeFile(network, JSON.stringify(devnet.bootstrap()))
  return { devnet, network }
}

/** `coffer provider init` on `providerDir` (its worker funded by the faucet); throws with its output if it fails. */
export async function initProvider (network: string, providerDir: string): Promise<void> {
  const init = coffer(['provider', 'init', '--network', network, '--data', providerDir])
  if (await init.exited !== 0) throw new Error(`provider init failed: ${init.output().slice(-800)}`)
}

/**
 * A deal for `bytes` with `miner` at its ask, starting at `start` and lasting about 10,000 epochs in whole periods of
 * `period` (proven to the end of any run).
 */
export function longDealRequest (client: FundedClient, miner: Uint8Array, ask: SignedStorageAsk, bytes: Uint8Array, start: number, label: string, period = P): DealRequest {
  const pieceSize = paddedPieceSize(bytes.length)
  return {
    proposal: signDealProposal(client.secret, {
      pieceCid: pieceCidV1(pieceDigest(bytes).root), pieceSize, verifiedDeal: false, client: client.address, provider: miner, label,
      startEpoch: start, endEpoch: start + Math.ceil(1000 * P / period) * period, storagePricePerEpoch: askPricePerEpoch(ask.ask, pieceSize),
      providerCollateral: askCollateral(ask.ask, pieceSize), clientCollateral: 0n
    }),
    payloadBytes: bytes.length
  }
}

export interface HeldPiece { dealId: number, pieceCid: CID, paddedBytes: number }

/**
 * Audits 8 random leaves of a deal's piece: null when the proof verifies, else why not. The provider's own node
 * may be a block or two behind on a deal just published: it is asked again for a while.
 */
export async function auditPiece (node: Dialer, peer: PeerId, s: HeldPiece): Promise<string | null> {
  const leaves = Array.from({ length: 8 }, () => Math.floor(Math.random() * (s.paddedBytes / 32)))
  const nonce = randomBytes(16)
  let last = ''
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const reply = await requestAudit(node, peer, { dealId: s.dealId, pieceCid: s.pieceCid, leaves, nonce }, { deadlineMs: 20_000 })
      if (reply.kind === 'rejected') { last = `${reply.code}: ${reply.message}`; await sleep(500); continue }
      if (!reply.nonce.every((b, i) => b === nonce[i])) return 'the answer names another nonce'
      try { verifyAuditProof(s.pieceCid, s.paddedBytes, leaves, reply.proof) } catch (err) { return `the proof does not verify: ${(err as Error).message}` }
      return null
    } catch (err) { last = `${(err as Error).name}: ${(err as Error).message}`; await sleep(500) }
  }
  return last
}

/** The piece a deal for `bytes` names. */
export function heldPiece (dealId: number, bytes: Uint8Array): HeldPiece {
  const digest = pieceDigest(bytes)
  return { dealId, pieceCid: pieceCidV1(digest.root), paddedBytes: digest.paddedBytes }
}
