// Lying peers on state proofs (issue 16 part 2): a light client knows only a liar, which serves the honest chain's
// headers (so the client verifies and follows them) and lies about state. Each try asks the client for a balance
// and a message's receipt. A try fails if the client returns a balance or receipt other than the honest one
// (accepted), throws anything uncaught (crash), or keeps a peer that answered a provable lie (kept); afterwards,
// with the honest node dialled, the same reads must give the honest answers (else counted as data lost).
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import {
  MemoryBlockStore, createStateTree, setActor, newAccountActor, proveActor, parseFil, chainCid, encodeGenesisState, encodeStateResponse,
  decodeStateRequest, secpAddressBytes, secpPublicKey, STATE_PROTOCOL, type StateResponse, type CID
} from '../../src/core'
import { createCofferLibp2p, serveChainExchange, runHello, type CofferLibp2p } from '../../src/net'
import { readAll } from '../../src/net/stream-io'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { answerState } from '../../src/node/state-answers'
import { startLightClient } from '../../src/light'
import { chainDbName } from '../../src/light/header-store'
import { honestHeaders } from '../helpers/lying-state-peer'
import { watchCrashes, waitFor } from './harness'
import type { Row } from './table'

export const STATE_LIES = {
  'a balance from a state tree of its own': { provable: true },
  'a proof from another state root': { provable: true },
  'another message\'s receipt': { provable: true },
  'a proof with a block left out': { provable: true },
  // a cut link sends the same bytes (a clean end mid-answer): hung up on, not dropped for the session
  'truncated answer': { provable: 'hung up' },
  'junk bytes': { provable: true },
  'oversized answer': { provable: true },
  'never answers': { provable: false }
} as const
export type StateLie = keyof typeof STATE_LIES

interface Liar { libp2p: CofferLibp2p, addr: string, stop: () => Promise<void> }

async function startLiar (honest: Devnet, lie: StateLie, decoy: CID): Promise<Liar> {
  const libp2p = await createCofferLibp2p({ role: 'client', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const stop = new AbortController()
  // every silent answer waits on it
  setMaxListeners(Infinity, stop.signal)
  await serveChainExchange(libp2p, { headersFrom: honestHeaders(honest) })
  const lying = async (bytes: Uint8Array): Promise<StateResponse> => {
    const req = decodeStateRequest(bytes)
    if (lie === 'another message\'s receipt' && req.kind === 'lookup') {
      const real = await answerState(honest.chain, { ...req, message: decoy })
      return real
    }
    if (req.kind !== 'actor') return await answerState(honest.chain, req)
    if (lie === 'a balance from a state tree of its own') {
      const store = new MemoryBlockStore()
      let root = createStateTree(store, chainCid(encodeGenesisState(honest.genesis.state)))
      root = setActor(store, root, req.address, newAccountActor(store, req.address, parseFil('1000000')))
      return { ok: true, blocks: proveActor(store, root, req.address).blocks }
    }
    if (lie === 'a proof from another state root') {
      // the honest proof, but of the state at genesis (where the address has nothing)
      return await answerState(honest.chain, { ...req, at: honest.genesis.header.cid })
    }
    const real = await answerState(honest.chain, req)
    if (lie === 'a proof with a block left out') return { ...real, blocks: real.blocks.slice(0, -1) }
    return real
  }
  await libp2p.handle(STATE_PROTOCOL, async (stream: Stream) => {
    try {
      const request = await readAll(stream, 1 << 16)
      const send = async (bytes: Uint8Array): Promise<void> => { if (!stream.send(bytes)) await stream.onDrain() }
      const honestBytes = async (): Promise<Uint8Array> => encodeStateResponse(await lying(request))
      if (lie === 'truncated answer') { const b = await honestBytes(); await send(b.slice(0, b.length >> 1)) }
      else if (lie === 'junk bytes') await send(Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff))
      else if (lie === 'oversized answer') for (let i = 0; i < 40; i++) await send(new Uint8Array(256 * 1024).fill(0xa2))
      else if (lie === 'never answers') await new Promise(resolve => stop.signal.addEventListener('abort', resolve, { once: true }))
      else await send(await honestBytes())
      await stream.close()
    } catch { stream.abort(new Error('liar done')) }
  })
  await runHello(libp2p, { genesisCid: honest.genesis.header.cid, head: () => honest.head(), onError: () => {}, clockNs: () => BigInt(Date.now()) * 1_000_000n })
  return { libp2p, addr: libp2p.getMultiaddrs()[0]!.toString(), stop: async () => { stop.abort(); await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) } }
}


export async function stateLiars (opts: { repeats: number, lies?: StateLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-liars-state-'))
  const honest = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, log: () => {} })
  let tries = 0
  let accepted = 0
  let lost = 0
  let kept = 0
  try {
    const fresh = (i: number): Uint8Array => secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(40 + i)))
    // the decoy executes in an earlier block than ours, so its proof cannot place ours
    const decoy = await honest.chain.faucet(fresh(0))
    await honest.chain.waitMessage(decoy, AbortSignal.timeout(60_000))
    const address = fresh(1)
    const ours = await honest.chain.faucet(address)
    const done = await honest.chain.waitMessage(ours, AbortSignal.timeout(60_000))
    const honestBalance = parseFil('100')
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? Object.keys(STATE_LIES) as StateLie[]) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await startLiar(honest, lie, decoy)
        // no redial: the liar is the only peer until the honest node is dialled by hand
        const lc = await startLightClient({ bootstrap: { ...honest.bootstrap(), peers: [liar.addr] }, bootstrapSource: 'network', onStatus: () => {}, redialMs: 3_600_000, statusIntervalMs: 50 })
        const liarId = liar.libp2p.peerId.toString()
        try {
          // connected to the liar, then synced through its honest headers, unless it was caught lying already (the
          // client reads state as it starts)
          await waitFor(() => lc.status().nodes.some(n => n.id === liarId), 30_000)
          await waitFor(() => lc.status().verifiedHeight >= done.executedIn.header.height || lc.status().peers.every(p => p.id !== liarId), 60_000)
          const balance = await lc.state.actor(address).then(v => v.actor?.balance, (err: Error) => err)
          if (typeof balance === 'bigint' && balance !== honestBalance) { accepted++; failures.push(`${lie}: balance ${balance} taken (honest: ${honestBalance})`) }
          const receipt = await lc.state.receipt(ours).then(v => v, (err: Error) => err)
          if (receipt !== null && !(receipt instanceof Error) && (receipt.receipt.exitCode !== 0 || !receipt.executed.cid.equals(done.executedIn.cid))) {
            accepted++
            failures.push(`${lie}: a receipt executed in ${receipt.executed.header.height} taken (honest: ${done.executedIn.header.height})`)
          }
          if (STATE_LIES[lie].provable) {
            const dropped = await waitFor(() => lc.status().peers.every(p => p.id !== liarId), 20_000)
            if (!dropped) { kept++; failures.push(`${lie}: the liar is still connected (last rejection: ${lc.status().lastRejection?.name ?? 'none'})`) }
            const liarNode = lc.status().nodes.find(n => n.id === liarId)
            if (STATE_LIES[lie].provable === 'hung up' && liarNode?.state === 'dropped') failures.push(`${lie}: the liar was dropped for an answer a cut link also gives (${liarNode.reason ?? ''})`)
          }
          // the honest node gives the honest answers: nothing the liar said stayed behind
          await lc.libp2p.dial(multiaddr(honest.bootstrap().peers[0]!))
          await waitFor(() => lc.status().peers.some(p => p.id === honest.libp2p.peerId.toString()) && lc.status().verifiedHeight >= done.executedIn.header.height, 60_000)
          const again = await lc.state.actor(address).then(v => v.actor?.balance, (err: Error) => err)
          const receiptAgain = await lc.state.receipt(ours).then(v => v, (err: Error) => err)
          if (again !== honestBalance || receiptAgain === null || receiptAgain instanceof Error || !receiptAgain.executed.cid.equals(done.executedIn.cid)) {
            lost++
            failures.push(`${lie}: after the honest node was dialled (peers ${lc.status().peers.map(p => p.id.slice(-6)).join(',')}, honest ${honest.libp2p.peerId.toString().slice(-6)}, head ${lc.status().verifiedHeight}): balance ${String(again)}, receipt ${receiptAgain instanceof Error ? receiptAgain.name : String(receiptAgain?.executed.header.height)}`)
          }
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
  return { scenario: 'liars: state proofs (balances, receipts)', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: lost, liarsKept: kept, ms: performance.now() - started, failures }
}
