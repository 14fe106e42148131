// Storage deals end to end in Node: a devnet with providers, a light client with its wallet, a 10 MiB file
// as UnixFS in a CAR, proposals to two providers, the bytes streamed, deals published and proven every
// period, and every payment checked to the attoFIL through verified state proofs. One copy is then
// corrupted on disk with the provider CLI's code: that provider faults, pays, and its deal is slashed.
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { corruptDeal, findStoredDeal } from '../../src/node/provider/damage'
import {
  startLightClient, openWalletStore, createWalletService, lightDealChain, StorageClient, writeUnixfsCar,
  type LightClient, type WalletService, type WalletView, type DealChain
} from '../../src/light'
import {
  parseAddress, pieceDigest, pieceCidV1, signDealProposal, dealStatus, faultPenalty, dealStorageFee, verifyPossession,
  challengeSeed, beaconEntryForEpoch, beaconTimingOf, dealProofSet, DealRejectedError, type DealProposal, type DealRecord
} from '../../src/core'
import { until } from '../helpers/until'
import { createCofferLibp2p, serveDeals } from '../../src/net'

/**
 * Epochs in a proving period: a proof lands within P epochs of its challenge or the period is a fault. Proofs
 * landed 1-3 epochs after the challenge with the machine loaded ~6x (two cores, a dozen runnable processes); at 5
 * an honest copy was once slashed as faulty on such a machine, so 10, as tolerant as a user's slow prover needs.
 */
const P = 10
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

let dir: string
let d: Devnet
let lc: LightClient
let wallet: WalletService
let view: WalletView | null = null
let chain: DealChain
let client: StorageClient
let clientKey: Uint8Array
let clientAddress: Uint8Array

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-deals-'))
  d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0, providers: 2, provingPeriod: P, log: process.env.DEBUG_DEVNET === undefined ? undefined : (l) => { console.log(l) } })
  cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
  lc = await startLightClient({ bootstrap: d.bootstrap(), bootstrapSource: 'network', onStatus: () => {} })
  cleanups.push(lc.stop)
  const keystore = await openWalletStore({ dbName: `deals-${Math.random()}`, iterations: 1000 })
  wallet = await createWalletService({ client: lc, keystore, rpcUrl: d.bootstrap().rpc, onChange: (v) => { view = v } })
  const address = await wallet.call({ method: 'create', passphrase: 'pass phrase' }) as string
  clientAddress = parseAddress(address).bytes
  // the test signs proposals with the same key the wallet holds (exported, as a user could)
  clientKey = await exportedKey(wallet, address)
  chain = lightDealChain(lc, wallet, clientAddress)
  client = new StorageClient(lc.libp2p, chain, { address: clientAddress, sign: async (p) => signDealProposal(clientKey, p) })
}, 60_000)

async function exportedKey (w: WalletService, address: string): Promise<Uint8Array> {
  const hex = await w.call({ method: 'export', address, passphrase: 'pass phrase' }) as string
  const json = JSON.parse(Buffer.from(hex, 'hex').toString('utf8')) as { PrivateKey: string }
  return new Uint8Array(Buffer.from(json.PrivateKey, 'base64'))
}

async function carOf (bytes: Uint8Array): Promise<{ car: Uint8Array, root: string }> {
  const parts: Uint8Array[] = []
  const sink = { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } }
  const r = await writeUnixfsCar([bytes.subarray(0, 3_000_000), bytes.subarray(3_000_000)], sink)
  const car = new Uint8Array(r.carBytes)
  let at = 0
  for (const p of parts) { car.set(p, at); at += p.length }
  return { car, root: r.root.toString() }
}

const verifiedDeal = async (id: number): Promise<DealRecord> => (await lc.state.deal(id)).value!

describe('storage deals', () => {
  it('refuses a client without funds before any byte is sent', async () => {
    await until(() => lc.status().verifiedHeight >= 2)
    const { quotes, failures } = await client.quotes(d.bootstrap().providers!)
    expect(failures).toEqual([])
    expect(quotes.map(q => q.provider.address)).toEqual(['t01001', 't01002'])
    const plan = client.plan(quotes, { pieceCid: pieceCidV1(new Uint8Array(32)), paddedBytes: 2 ** 24, payloadBytes: 10 << 20, label: 'x', copies: 2, periods: 4 })
    await expect(client.ensureEscrow(plan.escrowNeeded)).rejects.toMatchObject({ name: 'InsufficientFundsError' })
  })

  it('stores 10 MiB with two providers, proves every period and pays to the attoFIL; a corrupted copy faults, pays and is slashed', async () => {
    await until(() => lc.status().verifiedHeight >= 2)
    await wallet.call({ method: 'faucet', address: (await until(() => view?.keys[0])).address })
    await until(() => view?.balances.find(b => b.verified && BigInt(b.attoFil) > 0n))

    const file = new Uint8Array(10 << 20)
    for (let i = 0; i < file.length; i += 4) new DataView(file.buffer).setUint32(i, Math.imul(i + 1, 2654435761))
    const { car, root } = await carOf(file)
    // the CAR holds the file's blocks under the root its header names
    const reader = CarBufferReader.fromBytes(car)
    expect(reader.getRoots().map(String)).toEqual([root])
    expect(reader.blocks().length).toBeGreaterThan(10)
    const digest = pieceDigest(car)
    const { quotes } = await client.quotes(d.bootstrap().providers!)
    const plan = client.plan(quotes, { pieceCid: pieceCidV1(digest.root), paddedBytes: digest.paddedBytes, payloadBytes: car.length, label: root, copies: 2, periods: 4 })
    // cheapest first: t01001 asks 1 nanoFIL per GiB per epoch, t01002 1.5
    expect(plan.proposals.map(p => p.provider.provider.address)).toEqual(['t01001', 't01002'])
    const added = await client.ensureEscrow(plan.escrowNeeded)
    expect(added.added).toBe(plan.escrowNeeded)
    const escrow0 = (await lc.state.escrow(clientAddress)).value
    expect(escrow0).toEqual({ escrow: plan.escrowNeeded, locked: 0n })

    // a proposal whose piece is not the payload's: the provider hashes the bytes and refuses to publish. Its start
    // is far off (100 epochs later than planned), so however long this machine takes to send and hash 10 MiB the
    // provider cannot refuse it as too soon (START) instead
    const p0 = plan.proposals[0]!.proposal
    const wrong = await client.sign({ ...p0, pieceCid: pieceCidV1(new Uint8Array(32).fill(7)), startEpoch: p0.startEpoch + 10 * P, endEpoch: p0.endEpoch + 10 * P })
    const refused = await client.transfer(plan.proposals[0]!.provider.provider, wrong, car.length, async function * (offset) { yield car.subarray(offset) }).catch(e => e as Error)
    expect(refused).toBeInstanceOf(DealRejectedError)
    // with its message, so that a failure here says which refusal came instead
    expect({ code: (refused as DealRejectedError).code, message: refused.message }).toMatchObject({ code: 'PIECE_MISMATCH' })

    // planned again after that detour, with a period (10 epochs) more than the least: the second copy must be
    // damaged on disk before its first challenge, however slowly this machine transfers, hashes and publishes
    const now = client.plan(quotes, { pieceCid: pieceCidV1(digest.root), paddedBytes: digest.paddedBytes, payloadBytes: car.length, label: root, copies: 2, periods: 4 })
    const signed = await Promise.all(now.proposals.map(async p => await client.sign({ ...p.proposal, startEpoch: p.proposal.startEpoch + P, endEpoch: p.proposal.endEpoch + P })))

    const progress: number[][] = [[], []]
    // `store` re-plans a start the transfer can no longer make (a slow or loaded machine), so each copy may
    // end under a later proposal than the one first signed
    const deals = await Promise.all(plan.proposals.map(async (p, i) => await client.store(p.provider.provider, signed[i]!, car.length,
      async function * (offset) { for (let at = offset; at < car.length; at += 256 * 1024) yield car.subarray(at, at + 256 * 1024) },
      { onProgress: (held) => progress[i]!.push(held) })))
    expect(progress.map(p => p[p.length - 1])).toEqual([car.length, car.length])
    // the same proposal again: the provider answers with the deal it already published, and nothing is locked twice
    const again = await client.transfer(plan.proposals[0]!.provider.provider, deals[0]!.proposal, car.length, async function * () { throw new Error('no bytes should be asked for') })
    expect(again).toMatchObject({ dealId: deals[0]!.dealId, message: deals[0]!.message })
    // deal B: corrupt its bytes on disk as `coffer provider corrupt` does, before its first period
    expect(d.head().header.height).toBeLessThan(deals[1]!.proposal.proposal.startEpoch)
    const stored = await findStoredDeal(dir, String(deals[1]!.dealId), 't01002')
    await corruptDeal(stored.store, stored.deal)

    const [honest, corrupt] = await Promise.all(deals.map(async x => await until(async () => {
      const rec = (await lc.state.deal(x.dealId)).value
      return rec !== null ? rec : undefined
    })))
    const proposals = [honest!.proposal, corrupt!.proposal] as DealProposal[]
    expect(proposals.map(p => p.label)).toEqual([root, root])
    expect((await lc.state.escrow(clientAddress)).value.locked).toBe(plan.escrowNeeded)

    const start = proposals[0]!.startEpoch
    const startB = proposals[1]!.startEpoch
    const end = Math.max(proposals[0]!.endEpoch, proposals[1]!.endEpoch)

    // A expires after its 4 proven periods; B faults 3 periods in a row (the default maxConsecutiveFaults)
    // and is slashed at the third one's end, a period before its own
    await until(() => lc.status().verifiedHeight >= end + 2, 120_000)
    const [a, b] = await Promise.all(deals.map(async x => await verifiedDeal(x.dealId)))
    const head = lc.sync.head.header.height
    expect(dealStatus(a!.proposal, a!.state, head)).toBe('expired')
    const feePerPeriod = (p: DealProposal): bigint => p.storagePricePerEpoch * BigInt(P)
    expect(a!.periods.map(r => [r.paid, r.penalty])).toEqual([1, 2, 3, 4].map(() => [feePerPeriod(a!.proposal), 0n]))
    // every proof on record checks again here, against the headers this client verified
    for (const [i, r] of a!.periods.entries()) {
      const c = start + i * P
      // (a null round's beacon entry is carried by the first block above it)
      const header = (await lc.store.tipSetAtOrAbove(c, head))!.blocks[0]!
      verifyPossession(dealProofSet(a!.proposal), challengeSeed(beaconEntryForEpoch(beaconTimingOf(lc.genesis), c, header.header)!, c, a!.dealId), lc.genesis.state.market.challengesPerPeriod, r.proofBytes!)
    }
    const penalty = faultPenalty(b!.proposal, lc.genesis.state.market)
    expect(b!.periods.map(r => [r.proof, r.paid, r.penalty])).toEqual([[null, 0n, penalty], [null, 0n, penalty], [null, 0n, penalty]])
    expect(b!.state.slashEpoch).toBe(startB + 3 * P)
    expect(dealStatus(b!.proposal, b!.state, head)).toBe('slashed')

    // the client: paid A's whole fee and nothing of B's (B's last period's fee came back unlocked), received
    // three penalties, and nothing is left locked
    expect((await lc.state.escrow(clientAddress)).value).toEqual({ escrow: plan.escrowNeeded - dealStorageFee(a!.proposal) + 3n * penalty, locked: 0n })
    // the providers: A earned its fee and has its collateral back; B earned nothing and lost all its collateral
    // (half to the client as penalties, the rest burnt)
    const pa = (await lc.state.escrow(a!.proposal.provider)).value
    const pb = (await lc.state.escrow(b!.proposal.provider)).value
    expect(pa.locked).toBe(0n)
    expect(pb.locked).toBe(0n)
    expect(pa.escrow).toBe(100n * 10n ** 18n + dealStorageFee(a!.proposal))
    // Filecoin tools see the same through the node's Lotus-style RPC
    const rpc = async (method: string, params: unknown[]): Promise<any> => (await (await fetch(d.rpcUrl!, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json())
    const md = (await rpc('Filecoin.StateMarketStorageDeal', [b!.dealId, null])).result
    expect(md.Proposal).toMatchObject({ PieceCID: { '/': b!.proposal.pieceCid.toString() }, PieceSize: b!.proposal.pieceSize, Provider: 't01002', Label: root, StartEpoch: startB })
    expect(md.State.SlashEpoch).toBe(startB + 3 * P)
    expect((await rpc('Filecoin.StateMarketBalance', ['t01001', null])).result).toEqual({ Escrow: pa.escrow.toString(), Locked: '0' })
    expect((await rpc('Filecoin.StateMarketStorageDeal', [999, null])).error.message).toMatch(/deal 999 not found/)
    expect(pb.escrow).toBe(100n * 10n ** 18n - b!.proposal.providerCollateral)
  }, 240_000)

  it('catches a provider that names a deal which is not the client\'s proposal', async () => {
    // a node that claims to have published any proposal as deal 0 (someone else's deal, from the test above)
    const liar = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    cleanups.push(async () => { await liar.stop() })
    await serveDeals(liar, { accept: async () => ({ published: { dealId: 0, message: 'bafy-not-a-message' } }) })
    const file = new Uint8Array(100_000).fill(3)
    const digest = pieceDigest(file)
    const { quotes } = await client.quotes(d.bootstrap().providers!)
    const plan = client.plan(quotes, { pieceCid: pieceCidV1(digest.root), paddedBytes: digest.paddedBytes, payloadBytes: file.length, label: 'x', copies: 1, periods: 2 })
    const signed = await client.sign(plan.proposals[0]!.proposal)
    const err = await client.transfer({ address: 't01001', peerId: liar.peerId.toString(), addrs: liar.getMultiaddrs().map(String) }, signed, file.length, async function * () { yield file })
      .catch((e: Error) => e)
    expect(err).toMatchObject({ name: 'DealMismatchError' })
  }, 60_000)

  it('resumes a transfer where the provider stands after the connection drops', async () => {
    const bytes = new Uint8Array(3 << 20).map((_, i) => (i * 31 + (i >> 12)) & 0xff)
    const digest = pieceDigest(bytes)
    const { quotes } = await client.quotes(d.bootstrap().providers!)
    const plan = client.plan(quotes, { pieceCid: pieceCidV1(digest.root), paddedBytes: digest.paddedBytes, payloadBytes: bytes.length, label: 'resume', copies: 1, periods: 1, chosen: ['t01001'] })
    await client.ensureEscrow(plan.escrowNeeded)
    const signed = await client.sign(plan.proposals[0]!.proposal)
    const offsets: number[] = []
    let dropped = false
    const r = await client.store(plan.proposals[0]!.provider.provider, signed, bytes.length, async function * (offset) {
      offsets.push(offset)
      for (let at = offset; at < bytes.length; at += 256 * 1024) {
        if (!dropped && at >= 2 << 20) { dropped = true; throw new Error('connection dropped') }
        yield bytes.subarray(at, at + 256 * 1024)
      }
    })
    expect(offsets[0]).toBe(0)
    // the second connection starts where the provider's staged bytes end, not at 0
    expect(offsets[1]).toBeGreaterThan(0)
    expect(offsets[1]).toBeLessThanOrEqual(2 << 20)
    expect((await verifiedDeal(r.dealId)).proposal.label).toBe('resume')
  }, 90_000)
})
