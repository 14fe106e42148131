// Crashes of a provider (issue 16 part 4): `coffer provider run`, joined to a devnet from its own folder as any
// provider joins, SIGKILLed at random moments while a client keeps storing files with it (mid-upload, mid-publish)
// and while it proves its deals every period (mid-proof), then started again on the same folder.
// After every restart: it must open its folder and serve (else data lost), the deals it published since the last
// restart and 8 older ones drawn at random (after the last restart: every one) must still have their data (an audit of
// random leaves, verified against the deal's piece CID: a paid deal without data is data lost), and an upload cut by the kill is sent again and resumes from the bytes the provider holds (counted, not
// required: a kill may land before any byte was written). At the end, left running, it must prove again every deal
// the chain has not slashed.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseAddress, readDeal, DealRejectedError, type DealRequest, type SignedStorageAsk } from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, type CofferLibp2p } from '../../src/net'
import type { Devnet } from '../../src/node/devnet'
import { fundMarketClient, sleep, type FundedClient } from './harness'
import { runProvider, killHard, alive, type Running } from './processes'
import { loadOrCreateProviderKeys, workerAddress } from '../../src/node/provider/provider-keys'
import { startJoinNet, initProvider, longDealRequest, auditPiece, heldPiece, P, type HeldPiece } from './provider-net'
import type { Row } from './table'

interface Pending { req: DealRequest, bytes: Uint8Array }

/** `fn` until it resolves, `times` tries 2 s apart; the last error when none did. */
async function retried<T> (times: number, fn: () => Promise<T>): Promise<T | Error> {
  let last: Error = new Error('not tried')
  for (let i = 0; i < times; i++) {
    try { return await fn() } catch (err) { last = err as Error; await sleep(2000) }
  }
  return last
}

export async function crashProvider (opts: { kills: number }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-crash-provider-'))
  let tries = 0
  let lost = 0
  let crashes = 0
  let resumed = 0
  let d: Devnet | undefined
  let node: CofferLibp2p | undefined
  let running: Running | undefined
  const stored: HeldPiece[] = []
  try {
    const net = await startJoinNet(dir)
    d = net.devnet
    const devnet = d
    node = await createCofferLibp2p({ allowLoopbackDials: true })
    const client: FundedClient = await fundMarketClient(d, '50')
    const providerDir = path.join(dir, 'provider')
    await initProvider(net.network, providerDir)
    const worker = workerAddress(await loadOrCreateProviderKeys(providerDir))
    const head = (): number => devnet.head().header.height
    let pending: Pending | null = null
    let miner: Uint8Array | null = null
    let ask: SignedStorageAsk | null = null
    /** Deals below this index were audited after a restart at least once. */
    let auditedUpTo = 0
    /** Why the last deal attempt of a start did not go through (printed with the kill: a run of kills with no deal says why). */
    let lastRefusal = ''

    const request = (bytes: Uint8Array, start: number): DealRequest => longDealRequest(client, miner!, ask!, bytes, start, `crash-${stored.length}`)

    for (let k = 0; k <= opts.kills; k++) {
      const up = await runProvider(providerDir, failures, `start ${k}`)
      if (up === null) { lost++; break }
      running = up.running
      const r = running
      const info = up.info
      miner = parseAddress(info.miner, 't').bytes
      const peer = peerIdFromString(info.peerId)
      // a provider just started on a loaded machine may time a handshake out: asked again, as a client would; one
      // that never answers is a provider that does not serve after its restart
      const asked = await retried(5, async () => { await node!.dial(multiaddr(info.addrs[0]!)); return await requestAsk(node!, peer) })
      if (asked instanceof Error) { lost++; failures.push(`start ${k}: the restarted provider does not answer: ${asked.name}: ${asked.message}`); break }
      ask = asked
      // the worker paid again at each start: its collateral top-ups come from it, and the long form's ~50 deals had
      // drained a single faucet payment (every later deal refused FUNDS, 'try again shortly', until the end)
      await devnet.chain.faucet(worker).catch((err: Error) => { console.log(`  start ${k}: the faucet did not pay the worker: ${err.message}`) })
      // the deals it published since the last start, a sample of 8 older ones, and at the last start every one, still
      // have their data (every deal at every start made the long form's hundredth restart audit ~50 deals: minutes)
      const older = stored.slice(0, auditedUpTo)
      while (older.length > 8) older.splice(Math.floor(Math.random() * older.length), 1)
      const toAudit = k === opts.kills ? stored : [...older, ...stored.slice(auditedUpTo)]
      auditedUpTo = stored.length
      for (const s of toAudit) {
        const err = await auditPiece(node, peer, s)
        if (err !== null) { lost++; failures.push(`start ${k}: deal ${s.dealId} fails its audit: ${err}`) }
      }
      if (k === opts.kills) break
      tries++
      // store files until a random moment, then SIGKILL (a kill may land mid-transfer, mid-publish or mid-proof)
      const killAt = Date.now() + 500 + Math.floor(Math.random() * 12_000)
      const work = (async () => {
        while (Date.now() < killAt) {
          const p: Pending = pending ?? (() => { const bytes = randomBytes(256 * 1024 + Math.floor(Math.random() * 1.5 * 2 ** 20)); return { bytes, req: request(bytes, Math.ceil((head() + 30) / P) * P) } })()
          pending = p
          let firstOffset = -1
          try {
            const done = await sendDeal(node!, peer, p.req, async function * (offset) { for (let at = offset; at < p.bytes.length; at += 256 * 1024) yield p.bytes.subarray(at, at + 256 * 1024) },
              { retries: 0, onProgress: (held) => { if (firstOffset < 0) firstOffset = held } })
            if (firstOffset > 0 && k > 0) resumed++
            stored.push(heldPiece(done.dealId, p.bytes))
            pending = null
          } catch (err) {
            // too soon now (the kill and restart took epochs): the same piece under a later start resumes from its bytes
            lastRefusal = err instanceof DealRejectedError ? `${err.code}: ${err.message}` : `${(err as Error).name}: ${(err as Error).message}`
            if (err instanceof DealRejectedError && err.code === 'START') pending = { ...p, req: request(p.bytes, Math.ceil(((err.earliestStart ?? head()) + 2 * P) / P) * P) }
            // (TRANSFER: the stream broke, as the kill does; BUSY or "try again": the provider is still catching up)
            else if (err instanceof DealRejectedError && !/try again/.test(err.message) && err.code !== 'BUSY' && err.code !== 'TRANSFER') { failures.push(`start ${k}: a deal refused: ${err.code} ${err.message}`); pending = null }
            else await sleep(200)
          }
        }
      })()
      await sleep(Math.max(0, killAt - Date.now()))
      await killHard(r)
      await work.catch(() => {})
      await node.hangUp(peer).catch(() => {})
      console.log(`  kill ${k + 1}: ${stored.length} deals published so far, ${resumed} uploads resumed after a kill${pending === null ? '' : `, one cut mid-way (its last refusal: ${lastRefusal.slice(0, 160) || 'none, in flight'})`}`)
      lastRefusal = ''
    }
    // left running: every deal the chain has not slashed is proven again, within three periods
    const from = head()
    const unproven = (): number[] => stored.filter(s => {
      const rec = devnet.chain.readState((st, root) => readDeal(st, root, s.dealId))
      if (rec === null) return true
      if (rec.state.slashEpoch >= 0) return false
      return !rec.periods.some(p => p.proof !== null && p.submittedEpoch > from)
    }).map(s => s.dealId)
    const end = Date.now() + 120_000
    while (unproven().length > 0 && (head() < from + 3 * P || Date.now() < end) && running !== undefined && alive(running)) await sleep(500)
    const missing = unproven()
    if (missing.length > 0) { lost += missing.length; failures.push(`deals not proven again after the last restart (from epoch ${from} to ${head()}): ${missing.join(', ')}`) }
    const slashed = stored.filter(s => (devnet.chain.readState((st, root) => readDeal(st, root, s.dealId))?.state.slashEpoch ?? -1) >= 0).length
    console.log(`  ${stored.length} deals published across ${opts.kills} kills (${slashed} slashed for the proofs the kills missed), ${resumed} uploads resumed from the provider's bytes`)
    if (running !== undefined && alive(running)) {
      running.child.kill('SIGINT')
      const code = await Promise.race([running.exited, sleep(20_000).then(() => 'hung')])
      if (code === 'hung') { crashes++; failures.push('the provider did not stop on SIGINT within 20 s') }
    }
  } finally {
    if (running !== undefined) await killHard(running)
    await node?.stop()
    await d?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return { scenario: 'crash: a provider killed (SIGKILL) mid-upload, mid-publish, mid-proof', tries, acceptedLies: 0, crashes, dataLost: lost, ms: performance.now() - started, failures }
}
