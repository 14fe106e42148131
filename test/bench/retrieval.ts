// Retrieval benchmark (`BENCH_ONLY=retrieval`): a 256 MiB file stored with one priced provider on loopback,
// then retrieved by a Node client with the engine the tab and the CLI use (every block hashed against its CID
// with node:crypto, every interval paid with a signed voucher, the file written to disk), as a ratio to a raw
// libp2p stream's throughput measured in the same run (same stack, bytes discarded). Also: time to the first
// verified byte, with the payment channel created on chain first (a first retrieval from a provider) and
// with it already open (a later one).
import path from 'node:path'
import { tmpdir } from 'node:os'
import { createHash } from 'node:crypto'
import { open, rm, mkdtemp } from 'node:fs/promises'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  secpAddressBytes, secpPublicKey, signDealProposal, signVoucher, readChannel, getMinerInfo, parseAddress,
  type MultihashFn
} from '../../src/core'
import { createCofferLibp2p } from '../../src/net'
import { startDevnet } from '../../src/node/devnet'
import { pieceOfFile } from '../../src/node/piece-file'
import { fileChunks } from '../../src/node/prove-possession'
import { StorageClient, writeUnixfsCar, retrieveFile, newDownloadState, PaychClient, memoryPaychStore, type PaychChain } from '../../src/light'
import { writeRandomFile, rawStreamSecs, nodeDealChain } from './upload'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const MiB = 2 ** 20
const nodeSha256: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

export async function benchRetrievalNode (mib = Number(process.env.BENCH_RETRIEVAL_MIB ?? 256)): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-retrieval-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, providers: 1, provingPeriod: 30 })
  const clientNode = await createCofferLibp2p({ allowLoopbackDials: true })
  try {
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
    const rawSecs = await rawStreamSecs(mib * MiB)

    // store it with provider t01001 (priced)
    const carFile = path.join(dir, 'file.car')
    const car = await open(carFile, 'w')
    let written = 0
    const packed = await writeUnixfsCar(fileChunks(file), {
      write: async (b) => { await car.write(b, 0, b.length, written); written += b.length },
      writeAt: async (offset, b) => { await car.write(b, 0, b.length, offset) }
    })
    await car.close()
    const piece = await pieceOfFile(carFile)
    const key = secp256k1.utils.randomSecretKey()
    const address = secpAddressBytes(secpPublicKey(key))
    await d.chain.waitMessage(await d.chain.faucet(address), AbortSignal.timeout(60_000))
    const dealChain = nodeDealChain(d, key)
    const sc = new StorageClient(clientNode, dealChain, { address, sign: async (p) => signDealProposal(key, p) })
    const { quotes } = await sc.quotes(d.bootstrap().providers!)
    const plan = sc.plan(quotes, { pieceCid: piece.v1, paddedBytes: piece.digest.paddedBytes, payloadBytes: packed.carBytes, label: packed.root.toString(), copies: 1, periods: 10 })
    await sc.ensureEscrow(plan.escrowNeeded)
    const target = plan.proposals[0]!.provider
    await sc.transfer(target.provider, await sc.sign(plan.proposals[0]!.proposal), packed.carBytes, (offset) => fileChunks(carFile, offset))

    // retrieve it, paying through a channel the first retrieval creates
    const worker = d.chain.readState((s, r) => getMinerInfo(s, r, parseAddress(target.provider.address).bytes))!.worker
    const paychChain: PaychChain = {
      channel: async (a) => d.chain.readState((s, r) => readChannel(s, r, a)),
      send: dealChain.send,
      waitFor: dealChain.waitFor,
      headEpoch: () => d.head().header.height
    }
    const payer = new PaychClient({ chain: paychChain, store: memoryPaychStore(), signer: { address, sign: async (v) => signVoucher(key, address, v) } })
    const provider = { address: target.provider.address, peerId: target.provider.peerId, addrs: target.provider.addrs, worker, quoteBytes: packed.carBytes, terms: { pricePerGiB: target.ask.retrievalPricePerGiB, paymentInterval: target.ask.paymentInterval, paymentIntervalIncrease: target.ask.paymentIntervalIncrease } }
    const run = async (): Promise<{ secs: number, firstByteMs: number, bytes: number, paid: bigint }> => {
      const out = await open(path.join(dir, 'out.bin'), 'w')
      const state = newDownloadState(packed.root)
      const t = performance.now()
      let first = 0
      try {
        const r = await retrieveFile({
          libp2p: clientNode, root: packed.root, providers: [provider], payer, state, hash: nodeSha256,
          sink: { write: async (offset, bytes) => { if (first === 0) first = performance.now(); await out.write(bytes, 0, bytes.length, offset) } },
          saveState: async () => {}
        })
        return { secs: (performance.now() - t) / 1000, firstByteMs: first - t, bytes: r.bytes, paid: r.paid }
      } finally { await out.close() }
    }
    const cold = await run()
    const warm = await run()
    const carMiB = packed.carBytes / MiB
    console.log(`\nretrieval of ${mib} MiB (random bytes) from one priced provider on loopback, Node client (verify + pay + write to disk)`)
    console.log(`  raw libp2p stream (ws + noise + yamux), same process: ${fmt(mib / rawSecs)} MiB/s`)
    console.log(`  retrieval, channel already open: ${fmt(carMiB / warm.secs)} MiB/s of CAR = ${fmt((carMiB / warm.secs) / (mib / rawSecs), 2)}x the raw stream (goal >= 0.7x); ${fmt(warm.secs, 2)} s, paid ${warm.paid} attoFIL at ${target.ask.retrievalPricePerGiB} per GiB, interval ${target.ask.paymentInterval / MiB} MiB + ${target.ask.paymentIntervalIncrease / MiB} MiB per payment`)
    console.log(`  first retrieval (creates the channel on chain first): ${fmt(carMiB / cold.secs)} MiB/s overall, ${fmt(cold.secs, 2)} s`)
    console.log(`  time to first verified byte: ${fmt(warm.firstByteMs, 0)} ms with the channel open; ${fmt(cold.firstByteMs, 0)} ms when it must be created (${fmt(cold.firstByteMs / (d.genesis.state.blockDelaySecs * 1000), 1)} block times)`)
    if (warm.bytes !== mib * MiB || cold.bytes !== mib * MiB) throw new Error(`retrieved ${warm.bytes} / ${cold.bytes} bytes, expected ${mib * MiB}`)
  } finally {
    await clientNode.stop()
    await d.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
