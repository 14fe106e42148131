// Range-read benchmark (`BENCH_ONLY=range-read`, or run alone: node --experimental-websocket --import tsx
// test/bench/range-read.ts): a 256 MiB file stored with one priced provider on loopback, then 1 MiB at its end read
// through the tab's range reader (src/light/range-reader.ts: a ranged retrieval, every block verified, paid by
// voucher): the block bytes that moved (the DAG nodes above the range and its leaves) against the whole file's CAR,
// and the time, with the payment channel created on chain first (a first read) and with it open (a later one).
import '../../src/net/polyfills'
import path from 'node:path'
import { tmpdir } from 'node:os'
import { createHash } from 'node:crypto'
import { open, rm, mkdtemp } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { signVoucher, readChannel, getMinerInfo, parseAddress, type MultihashFn } from '../../src/core'
import { createCofferLibp2p } from '../../src/net'
import { startDevnet } from '../../src/node/devnet'
import { PaychClient, memoryPaychStore, type PaychChain } from '../../src/light'
import { createRangeReader } from '../../src/light/range-reader'
import { writeRandomFile } from './upload'
import { storeWithProvider } from './retrieval'

const MiB = 2 ** 20
const nodeSha256: MultihashFn = (code, bytes) => code === 0x12 ? new Uint8Array(createHash('sha256').update(bytes).digest()) : undefined

export async function benchRangeRead (mib = Number(process.env.BENCH_RANGE_MIB ?? 256)): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-bench-range-'))
  const d = await startDevnet({ dataDir: path.join(dir, 'devnet'), distDir: '/nonexistent', serveApp: false, providers: 1, provingPeriod: 30 })
  const clientNode = await createCofferLibp2p({ allowLoopbackDials: true })
  try {
    const file = path.join(dir, 'file.bin')
    await writeRandomFile(file, mib)
    const size = mib * MiB
    const { packed, target, key, address, dealChain, dealId } = await storeWithProvider(d, clientNode, file, dir)
    const worker = d.chain.readState((s, r) => getMinerInfo(s, r, parseAddress(target.provider.address).bytes))!.worker
    const paychChain: PaychChain = { channel: async (a) => d.chain.readState((s, r) => readChannel(s, r, a)), send: dealChain.send, waitFor: dealChain.waitFor, headEpoch: () => d.head().header.height }
    const payer = new PaychClient({ chain: paychChain, store: memoryPaychStore(), signer: { address, sign: async (v) => signVoucher(key, address, v) } })
    const provider = { address: target.provider.address, peerId: target.provider.peerId, addrs: target.provider.addrs, worker, terms: { pricePerGiB: target.ask.retrievalPricePerGiB, paymentInterval: target.ask.paymentInterval, paymentIntervalIncrease: target.ask.paymentIntervalIncrease } }
    const reader = createRangeReader({ libp2p: clientNode, find: async () => ({ candidates: [{ dealId, provider }], refused: [] }), payer: async () => payer, hash: nodeSha256 })
    const o = await reader.open({ root: packed.root.toString(), size, dealIds: [dealId], carBytes: packed.carBytes }, { maxPaid: 10n ** 18n })
    if (o.session === null) throw new Error('no session')
    const fh = await open(file, 'r')
    const check = async (from: number, bytes: Uint8Array): Promise<void> => {
      const want = new Uint8Array(bytes.length)
      await fh.read(want, 0, want.length, from)
      if (Buffer.compare(want, bytes) !== 0) throw new Error(`range at ${from} differs from the file`)
    }
    const timed = async (from: number, to: number): Promise<{ ms: number, blockBytes: number, paid: string }> => {
      const t = performance.now()
      const r = await reader.read(o.session!, from, to)
      const ms = performance.now() - t
      await check(from, r.bytes)
      return { ms, blockBytes: r.blockBytes, paid: r.paid }
    }
    const cold = await timed(size - MiB, size)
    const warm = await timed(size - 3 * MiB, size - 2 * MiB)
    await fh.close()
    console.log(`\nrange read of 1 MiB at the end of a ${mib} MiB file from one priced provider on loopback (Node client: verify + pay)`)
    console.log(`  moved ${cold.blockBytes} block bytes (${(cold.blockBytes / MiB).toFixed(3)} MiB: the range's leaves and the DAG nodes above them) of the file's ${(packed.carBytes / MiB).toFixed(1)} MiB CAR; paid ${cold.paid} attoFIL`)
    console.log(`  time: ${cold.ms.toFixed(0)} ms for the first read (the payment channel created on chain first), ${warm.ms.toFixed(0)} ms for a later 1 MiB read on the open channel (${warm.blockBytes} block bytes)`)
  } finally {
    await clientNode.stop()
    await d.stop()
    // a retrieval's end writes the channel's ledger when its stream closes, which the stop above may outrun
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchRangeRead().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1) })
}
