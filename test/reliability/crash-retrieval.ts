// Crashes of a provider mid-retrieval (issue 16 part 4): a priced provider (`coffer provider run`, joined from its own
// folder) holds a file; `coffer retrieve … --key` downloads it, paying as the bytes come, and the provider is
// SIGKILLed at a random moment of each download, then started again, and the same command run again as its usage
// says ("Rerun the same command after an interruption"). Every download shares one payment channel (one --data).
// Checked for each: the file is the stored one, byte for byte (else data lost); what the download paid is at most the
// price of the DAG's blocks plus the path from the root once per run, rounded up once per stream (more is a voucher
// paid twice: counted as lost, the user's money); the lane's voucher amount is what the records say was paid.
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { CarIndexer } from '@ipld/car/indexer'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  parseAddress, readDeal, secpAddressBytes, secpPublicKey,
  DealRejectedError, ExitCode, type CID
} from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, priceOfBytes, type CofferLibp2p } from '../../src/net'
import type { Devnet } from '../../src/node/devnet'
import { writeAsk } from '../../src/node/provider/provider-folder'
import { DEFAULT_ASK } from '../../src/node/provider/provider-process'
import { devnetRetrievalPrice } from '../../src/node/provider/devnet-providers'
import { writeUnixfsCar, formatLotusExport, type DownloadState, type StoredChannel } from '../../src/light'
import { fundMarketClient, sleep } from './harness'
import { coffer, runProvider, killHard, alive, whileMoving, lastLines, type Running } from './processes'
import { startJoinNet, initProvider, longDealRequest } from './provider-net'
import type { Row } from './table'

const MiB = 2 ** 20
/**
 * Epochs a proving period here (1 s each). Retrieval is this scenario's subject, not proving: the deal must outlive a
 * hundred kills, and the market ends a deal after 3 missed periods in a row or once its collateral is spent. With
 * the other scenarios' 10-epoch periods, the long run at 1757ce8 (three scenarios on two cores, so restarts were
 * slow) lost the deal at its 46th kill and every download after it failed ("no live deal on chain holds …").
 */
const RP = 60

export async function crashRetrieval (opts: { kills: number }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-crash-retrieval-'))
  let tries = 0
  let lost = 0
  let d: Devnet | undefined
  let node: CofferLibp2p | undefined
  let provider: Running | undefined
  let killedMidway = 0
  let runsInAll = 0
  try {
    const net = await startJoinNet(dir, { app: true, provingPeriod: RP })
    d = net.devnet
    const devnet = d
    const network = net.network
    const providerDir = path.join(dir, 'provider')
    await initProvider(network, providerDir)
    const price = devnetRetrievalPrice(0)
    await writeAsk(providerDir, { ...DEFAULT_ASK, retrievalPricePerGiB: price })
    const up = await runProvider(providerDir, failures, 'first start')
    if (up === null) throw new Error(failures.join('; '))
    provider = up.running
    const info = up.info
    const miner = parseAddress(info.miner, 't').bytes
    node = await createCofferLibp2p({ allowLoopbackDials: true })
    await node.dial(multiaddr(info.addrs[0]!))

    // the file: 6 MiB as UnixFS in a CAR, its DAG's block bytes counted (what a download pays for)
    const file = new Uint8Array(randomBytes(6 * MiB))
    const parts: Uint8Array[] = []
    const made = await writeUnixfsCar([file], { write: async (b: Uint8Array) => { parts.push(b.slice()) }, writeAt: async (offset: number, b: Uint8Array) => { parts[0]!.set(b, offset) } })
    const car = new Uint8Array(made.carBytes)
    let at = 0
    for (const p of parts) { car.set(p, at); at += p.length }
    const root: CID = made.root
    let dagBlockBytes = 0
    let rootBlockBytes = 0
    for await (const b of (await CarIndexer.fromBytes(car))) {
      dagBlockBytes += b.blockLength
      if (b.cid.equals(root)) rootBlockBytes = b.blockLength
    }
    const fileSha = createHash('sha256').update(file).digest('hex')

    // stored with the provider under a deal whose label is the root (how the CLI finds who holds it)
    const client = await fundMarketClient(d, '10')
    const ask = await requestAsk(node, peerIdFromString(info.peerId))
    let start = Math.ceil((d.head().header.height + 30) / RP) * RP
    let dealId = -1
    for (let attempt = 0; dealId < 0; attempt++) {
      const req = longDealRequest(client, miner, ask, car, start, root.toString(), RP)
      try {
        dealId = (await sendDeal(node, peerIdFromString(info.peerId), req, async function * (offset) { for (let o = offset; o < car.length; o += MiB) yield car.subarray(o, o + MiB) })).dealId
      } catch (err) {
        if (attempt >= 5) throw err
        if (err instanceof DealRejectedError && err.code === 'START') start = Math.ceil(((err.earliestStart ?? devnet.head().header.height) + 2 * RP) / RP) * RP
        else await sleep(1000)
      }
    }
    for (let i = 0; i < 600 && devnet.chain.readState((s, r) => readDeal(s, r, dealId)) === null; i++) await sleep(100)

    // the key the CLI pays with, funded by the faucet (a Lotus key export, as `lotus wallet export` writes)
    const secret = secp256k1.utils.randomSecretKey()
    const paid = await d.chain.waitMessage(await d.chain.faucet(secpAddressBytes(secpPublicKey(secret))), AbortSignal.timeout(120_000))
    if (paid.receipt.exitCode !== ExitCode.Ok) throw new Error('the faucet did not pay the key')
    const keyFile = path.join(dir, 'key')
    await writeFile(keyFile, formatLotusExport({ type: 'secp256k1', secret }))
    const data = path.join(dir, 'records')

    for (let k = 0; k < opts.kills; k++) {
      tries++
      const out = path.join(dir, `out-${k}.bin`)
      const args = ['retrieve', root.toString(), '--out', out, '--network', network, '--key', keyFile, '--data', data]
      const first = coffer(args)
      // a random moment once bytes flow (its first progress line), or before (a kill that comes after the download
      // ended still lands mid-proof)
      await whileMoving(first, () => /MiB verified/.test(first.output()) ? true : undefined, 60_000)
      const killAt = Date.now() + Math.floor(Math.random() * (k % 4 === 0 ? 1500 : 400))
      while (Date.now() < killAt && alive(first)) await sleep(5)
      await killHard(provider)
      await first.exited
      const again = await runProvider(providerDir, failures, `download ${k}`)
      if (again === null) { lost++; break }
      provider = again.running
      let runs = 1
      let ok = first.child.exitCode === 0
      let lastOutput = ''
      while (!ok && runs < 5) {
        runs++
        const run = coffer(args)
        await whileMoving(run, () => alive(run) ? undefined : true, 60_000)
        await killHard(run)
        ok = run.child.exitCode === 0
        if (runs === 2) lastOutput = run.output()
        // the provider's side of it too: the CLI can only say how the stream ended, the provider's log says why
        if (!ok && runs === 5) failures.push(`download ${k}: the CLI failed ${runs} times: ${run.output().slice(-400)}; the provider's last lines on retrieval (its start-up lines left out): ${lastLines(provider, /retriev|stream|frame|voucher|paych|Error/i, 12).slice(-2000)}`)
      }
      runsInAll += runs
      const resumedFrom = Number(/resuming from byte (\d+)/.exec(lastOutput)?.[1] ?? 0)
      if (resumedFrom > 0) killedMidway++
      const got = ok ? createHash('sha256').update(await readFile(out)).digest('hex') : null
      if (got !== fileSha) { lost++; failures.push(`download ${k}: ${got === null ? 'never completed' : 'the file differs from the one stored'}`); continue }
      const records = JSON.parse(await readFile(path.join(data, 'retrievals.json'), 'utf8')) as { downloads: Record<string, DownloadState>, channels: StoredChannel[] }
      const mine = Object.entries(records.downloads).find(([key]) => key.startsWith(`${out}|`))?.[1]
      const paidHere = BigInt(mine?.providers[info.miner]?.paid ?? '-1')
      const most = priceOfBytes(dagBlockBytes + runs * rootBlockBytes, price) + BigInt(runs)
      if (paidHere < 0n) failures.push(`download ${k}: no payment on record`)
      else if (paidHere > most) { lost++; failures.push(`download ${k}: paid ${paidHere} attoFIL over ${runs} runs, more than the ${most} its blocks cost: a voucher paid twice`) }
      const lane = mine?.providers[info.miner]?.lane
      const onLane = lane === undefined ? undefined : records.channels.find(c => c.lanes[String(lane)] !== undefined)?.lanes[String(lane)]?.amount
      if (onLane !== undefined && BigInt(onLane) !== paidHere) failures.push(`download ${k}: lane ${String(lane)} holds a voucher of ${onLane}, the download's records ${paidHere}`)
      console.log(`  download ${k + 1}: ${runs} run(s)${resumedFrom > 0 ? `, resumed from byte ${resumedFrom} after the provider's kill` : ''}, paid ${paidHere} attoFIL (at most ${most})`)
    }
    console.log(`  ${opts.kills} downloads, ${killedMidway} of them cut mid-way by the provider's kill and resumed, ${runsInAll} CLI runs in all`)
    if (alive(provider)) {
      provider.child.kill('SIGINT')
      const code = await Promise.race([provider.exited, sleep(20_000).then(() => 'hung')])
      if (code === 'hung') failures.push('the provider did not stop on SIGINT within 20 s')
    }
  } finally {
    if (provider !== undefined) await killHard(provider)
    await node?.stop()
    await d?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return { scenario: 'crash: a provider killed (SIGKILL) mid-retrieval', tries, acceptedLies: 0, crashes: 0, dataLost: lost, ms: performance.now() - started, failures }
}
