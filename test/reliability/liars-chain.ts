// Lying peers on the chain protocols a light client accepts (issue 16 part 2): hello, chain exchange and block
// gossip. Each try starts a fresh light client (its own store) that knows an honest devnet node and a liar; the
// liar says hello with a heavier head than the honest one (so the client must ask it) and then tells one lie.
// A try fails if a header the honest chain does not hold reaches the client's store (accepted), if the process
// throws anything uncaught (crash), if the client does not reach the honest head afterwards (stalled: counted as
// data lost, since the user's chain stopped), or if a provable lie leaves the liar connected (kept).
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Stream } from '@libp2p/interface'
import {
  produceHeader, encodeExchangeResponse, ExchangeStatus, CHAIN_EXCHANGE_PROTOCOL, blocksTopic, encodeBlockMsg, type SealedHeader, type Genesis
} from '../../src/core'
import { createCofferLibp2p, runHello, gossipOf, type CofferLibp2p } from '../../src/net'
import { readAll } from '../../src/net/stream-io'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { startLightClient } from '../../src/light'
import { chainDbName } from '../../src/light/header-store'
import { testBeaconEntries } from '../helpers/test-beacon'
import { watchCrashes, waitFor } from './harness'
import type { Row } from './table'

/** Each lie, and whether the client can prove it (then the liar must be dropped) or can only stop waiting. */
export const CHAIN_LIES = {
  'wrong signature': { provable: true },
  'unlinked headers': { provable: true },
  'another chain than asked': { provable: true },
  // a cut link sends the same bytes (a clean end mid-answer): hung up on, not dropped for the session
  'truncated answer': { provable: 'hung up' },
  'oversized answer': { provable: true },
  'junk bytes': { provable: true },
  'slow drip': { provable: false },
  'never answers': { provable: false },
  'gossip: forged block': { provable: true },
  'gossip: malformed block': { provable: true },
  'gossip: flood of forged blocks': { provable: true }
} as const
export type ChainLie = keyof typeof CHAIN_LIES

/** `length` headers on `from` (genesis by default) signed by a key that is not the producer's. */
function forgedChain (genesis: Genesis, length: number, from: SealedHeader = genesis.header): SealedHeader[] {
  const wrongKey = bls12_381.longSignatures.keygen().secretKey
  const out: SealedHeader[] = []
  let parent = from
  const now = Math.max(Math.floor(Date.now() / 1000), from.header.timestamp + length)
  for (let i = 0; i < length; i++) {
    parent = produceHeader(parent, genesis, wrongKey, now - length + i + 1, testBeaconEntries(parent, genesis))
    out.push(parent)
  }
  return out
}

interface Liar { libp2p: CofferLibp2p, addr: string, forged: SealedHeader[], stop: () => Promise<void> }

async function startLiar (honest: Devnet, lie: ChainLie): Promise<Liar> {
  const forged = forgedChain(honest.genesis, 30)
  const top = forged[forged.length - 1]!
  const libp2p = await createCofferLibp2p({ role: 'client', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const stop = new AbortController()
  // every silent answer waits on it
  setMaxListeners(Infinity, stop.signal)
  const answer = (): Uint8Array => {
    const chain = [...forged].reverse().map(h => [h])
    if (lie === 'unlinked headers') chain.splice(5, 1)
    return encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain })
  }
  await libp2p.handle(CHAIN_EXCHANGE_PROTOCOL, async (stream: Stream) => {
    try {
      await readAll(stream, 1 << 16)
      const send = async (bytes: Uint8Array): Promise<void> => { if (!stream.send(bytes)) await stream.onDrain() }
      switch (lie) {
        case 'truncated answer': { const a = answer(); await send(a.slice(0, a.length >> 1)); break }
        case 'oversized answer': for (let i = 0; i < 40; i++) await send(new Uint8Array(256 * 1024).fill(0x83)); break
        case 'junk bytes': await send(Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff)); break
        case 'another chain than asked': {
          const honestTop = honest.head()
          const run: SealedHeader[][] = []
          for (let h = honestTop.header.height; h > 0 && run.length < 10; h--) run.push([(await honest.headerAt(h))!])
          await send(encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: run }))
          break
        }
        case 'slow drip': {
          const a = answer()
          for (let i = 0; i < a.length && !stop.signal.aborted; i++) {
            await send(a.slice(i, i + 1))
            await new Promise(resolve => setTimeout(resolve, 500))
          }
          break
        }
        case 'never answers': await new Promise(resolve => stop.signal.addEventListener('abort', resolve, { once: true })); break
        default: await send(answer())
      }
      await stream.close()
    } catch { stream.abort(new Error('liar done')) }
  })
  await runHello(libp2p, { genesisCid: honest.genesis.header.cid, head: () => top, onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
  if (lie.startsWith('gossip')) {
    const gossip = gossipOf(libp2p)
    const topic = blocksTopic(honest.genesis.state.network)
    gossip.listen(topic, () => ({ verdict: 'ignore' }))
    // a block above the honest head, signed by the wrong key / cut short, again and again (gossipsub drops a publish
    // before the client's subscription is known); the flood: bursts of 40 such blocks, each a different one (gossip
    // would drop repeats as seen). Made here in the client's own process, so the bursts are spaced to leave it time
    const flood = lie === 'gossip: flood of forged blocks'
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      const fake = Array.from({ length: flood ? 40 : 1 }, () => forgedChain(honest.genesis, 1, honest.head())[0]!)
      for (const f of fake) {
        forged.push(f)
        const bytes = encodeBlockMsg(f)
        void gossip.publish(topic, lie === 'gossip: malformed block' ? bytes.slice(0, bytes.length - 9) : bytes).catch(() => {})
      }
      setTimeout(() => { busy = false }, flood ? 2000 : 0)
    }, 300)
    stop.signal.addEventListener('abort', () => { clearInterval(timer) })
  }
  return {
    libp2p,
    addr: libp2p.getMultiaddrs()[0]!.toString(),
    forged,
    stop: async () => { stop.abort(); await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) }
  }
}


export async function chainLiars (opts: { repeats: number, lies?: ChainLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-liars-chain-'))
  const honest = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, log: () => {} })
  let tries = 0
  let accepted = 0
  let stalled = 0
  let kept = 0
  try {
    await waitFor(() => honest.head().header.height >= 3, 60_000)
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? Object.keys(CHAIN_LIES) as ChainLie[]) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await startLiar(honest, lie)
        const lc = await startLightClient({ bootstrap: { ...honest.bootstrap(), peers: [liar.addr, ...honest.bootstrap().peers] }, bootstrapSource: 'network', onStatus: () => {}, statusIntervalMs: 50 })
        const liarId = liar.libp2p.peerId.toString()
        try {
          // the lie is told, then the client must be at the honest head, having dropped a provable liar
          const target = honest.head().header.height + 1
          const live = await waitFor(() => lc.status().verifiedHeight >= target && lc.status().syncState === 'synced', 90_000)
          if (!live) { stalled++; failures.push(`${lie}: the client did not reach the honest head ${target} (at ${lc.status().verifiedHeight}, ${lc.status().syncState})`) }
          if (CHAIN_LIES[lie].provable) {
            const dropped = await waitFor(() => lc.status().peers.every(p => p.id !== liarId), 20_000)
            if (!dropped) { kept++; failures.push(`${lie}: the liar is still connected (last rejection: ${lc.status().lastRejection?.name ?? 'none'})`) }
            const liarNode = lc.status().nodes.find(n => n.id === liarId)
            if (CHAIN_LIES[lie].provable === 'hung up' && liarNode?.state === 'dropped') failures.push(`${lie}: the liar was dropped for an answer a cut link also gives (${liarNode.reason ?? ''})`)
          }
          for (const f of liar.forged) {
            if (await lc.store.has(f.cid.toString())) { accepted++; failures.push(`${lie}: forged header ${f.header.height} stored`); break }
          }
          const head = lc.status().verifiedHeight
          const mine = await lc.store.headTipSet()
          const theirs = mine === null ? undefined : await honest.headerAt(mine.height)
          if (mine !== null && theirs !== undefined && !mine.key.some(c => c.equals(theirs.cid))) { accepted++; failures.push(`${lie}: the client's head at ${head} is not the honest block`) }
          console.log(`  ${lie}: ${failures.length === before ? 'refused' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
        } finally {
          await lc.stop()
          await liar.stop()
          indexedDB.deleteDatabase(chainDbName(honest.genesis.header.cid.toString()))
        }
      }
    }
  } finally {
    await honest.stop()
    await rm(dir, { recursive: true, force: true })
    crashes.stop()
  }
  return { scenario: 'liars: hello, chain exchange, block gossip', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: stalled, liarsKept: kept, ms: performance.now() - started, failures }
}
