// A provider whose disk fills (issue 16 part 6): `coffer provider run` on a folder of its own small disk (a tmpfs
// mounted for the run, so the kernel itself answers ENOSPC), taking uploads while something else on the machine eats
// the free space mid-transfer (a filler file written at a random moment). Each try: the client must get a refusal by
// name (SPACE), the provider must stay up, and once the filler is gone the same proposal, sent again, must resume from
// the bytes the provider kept and be published with data that passes an audit. At the end every deal must be proven
// again (the provider's own chain node kept following through the full disk). Needs root (mount); where mounting is
// refused the scenario says so and is skipped.
import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseAddress, readDeal, DealRejectedError } from '../../src/core'
import { createCofferLibp2p, sendDeal, requestAsk, type CofferLibp2p } from '../../src/net'
import type { Devnet } from '../../src/node/devnet'
import { fundMarketClient, sleep } from './harness'
import { runProvider, killHard, alive, lastLines, type Running } from './processes'
import { startJoinNet, initProvider, longDealRequest, auditPiece, heldPiece, P } from './provider-net'
import type { Row } from './table'

const MiB = 2 ** 20
const UPLOAD_MIB = 32
/** The provider's disk: room for its chain and every upload of the run (each kept with what proving it needs), none for the filler besides. */
const diskMib = (fills: number): number => 48 * (fills + 1) + 48

/** Mounts a tmpfs of `mib` at `dir`; the reason it cannot, or null. */
export function mountSmallDisk (dir: string, mib: number): string | null {
  try { execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'pipe' }); return null } catch (err) {
    return `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()})`
  }
}

/**
 * A send, again while the provider answers FUNDS: its own chain node may not show the client's escrow deposit yet (a
 * loaded machine: the short form saw "free escrow (0 attoFIL)"). A FUNDS refusal comes before any byte is sent, as the
 * tab's copy sender also retries it; given up after a minute of them.
 */
async function sendFunded<T> (send: () => Promise<T>): Promise<T | Error> {
  for (const until = Date.now() + 60_000; ;) {
    const r = await send().then(v => v, (e: Error) => e)
    if (!(r instanceof DealRejectedError && r.code === 'FUNDS') || Date.now() > until) return r
    await sleep(1000)
  }
}

export async function diskFull (opts: { fills: number }): Promise<Row & { skipped?: string }> {
  const started = performance.now()
  const failures: string[] = []
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-disk-full-'))
  const disk = path.join(dir, 'disk')
  await mkdir(disk)
  const DISK_MIB = diskMib(opts.fills)
  const cannot = mountSmallDisk(disk, DISK_MIB)
  if (cannot !== null) {
    await rm(dir, { recursive: true, force: true })
    console.log(`  disk-full: skipped: ${cannot}`)
    return { scenario: 'full disk: a provider whose disk fills mid-upload', tries: 0, acceptedLies: 0, crashes: 0, dataLost: 0, ms: 0, failures: [], skipped: cannot }
  }
  let tries = 0
  let lost = 0
  let crashes = 0
  let resumed = 0
  let d: Devnet | undefined
  let node: CofferLibp2p | undefined
  let provider: Running | undefined
  const filler = path.join(disk, 'filler')
  try {
    const net = await startJoinNet(dir)
    d = net.devnet
    const devnet = d
    const providerDir = path.join(disk, 'provider')
    await initProvider(net.network, providerDir)
    const up = await runProvider(providerDir, failures, 'start')
    if (up === null) throw new Error(failures.join('; '))
    provider = up.running
    const info = up.info
    const peer = peerIdFromString(info.peerId)
    node = await createCofferLibp2p({ allowLoopbackDials: true })
    await node.dial(multiaddr(info.addrs[0]!))
    const client = await fundMarketClient(d, '50')
    const ask = await requestAsk(node, peer)
    const deals: Array<{ dealId: number, bytes: Uint8Array }> = []
    const head = (): number => devnet.head().header.height

    for (let k = 0; k < opts.fills; k++) {
      tries++
      const bytes = new Uint8Array(randomBytes(UPLOAD_MIB * MiB))
      const req = longDealRequest(client, parseAddress(info.miner, 't').bytes, ask, bytes, Math.ceil((head() + 30) / P) * P, `disk-${k}`)
      const payload = async function * (offset: number): AsyncGenerator<Uint8Array> { for (let at = offset; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB) }
      // the disk fills at a random point of the transfer: the filler takes all the room there is
      const fillAt = Math.floor(Math.random() * (UPLOAD_MIB - 16)) * MiB
      let filled = false
      const fill = (): void => { filled = true; try { execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', `count=${DISK_MIB}`], { stdio: 'ignore' }) } catch { /* ENOSPC: full, as meant */ } }
      if (fillAt === 0) fill()
      const first = await sendFunded(() => sendDeal(node!, peer, req, payload, { retries: 0, onProgress: (held) => { if (!filled && held >= fillAt) fill() } }))
      if (!(first instanceof DealRejectedError) || first.code !== 'SPACE') failures.push(`fill ${k}: the upload into a full disk ended ${first instanceof Error ? `${first.name} ${(first as DealRejectedError).code ?? ''}: ${first.message}` : 'published'}, not a SPACE refusal`)
      if (!alive(provider)) { crashes++; failures.push(`fill ${k}: the provider died: ${provider.output().slice(-600)}`); break }
      // room again: the same proposal resumes from what the provider kept
      await rm(filler, { force: true })
      let from = -1
      const again = await sendFunded(() => sendDeal(node!, peer, req, payload, { retries: 3, onProgress: (held) => { if (from < 0) from = held } }))
      if (again instanceof Error) { lost++; failures.push(`fill ${k}: sent again with room, the upload failed: ${again.name}: ${again.message}`); continue }
      if (from > 0) resumed++
      deals.push({ dealId: again.dealId, bytes })
      // what it published is the file: an audit of random leaves against the piece
      const audit = await auditPiece(node, peer, heldPiece(again.dealId, bytes))
      const audited = audit === null
      if (!audited) failures.push(`fill ${k}: deal ${again.dealId}'s audit: ${audit}`)
      if (!audited) lost++
      console.log(`  fill ${k + 1}: refused by name at the full disk, ${from > 0 ? `resumed from byte ${from}` : 'sent again from the start'}, published as deal ${again.dealId}${audited ? ', audited' : ''}`)
    }
    // the provider's own chain node followed through it all: every deal is proven once its start has passed
    const lastStart = Math.max(0, ...deals.map(x => devnet.chain.readState((st, r) => readDeal(st, r, x.dealId))?.proposal.startEpoch ?? 0))
    const proven = (): number[] => deals.filter(x => !(devnet.chain.readState((st, r) => readDeal(st, r, x.dealId))?.periods.some(p => p.proof !== null) ?? false)).map(x => x.dealId)
    const end = Date.now() + 180_000
    while (proven().length > 0 && (Date.now() < end || head() < lastStart + 3 * P) && alive(provider)) await sleep(500)
    if (proven().length > 0) { lost += proven().length; failures.push(`deals never proven after the disk filled (head ${head()}, last start ${lastStart}): ${proven().join(', ')}; the provider's last lines on proving: ${lastLines(provider, /prove|proving|Error/, 8).slice(-1500)}; on the unproven deals: ${proven().map(id => lastLines(provider!, new RegExp(`deal ${id}\\b`), 6)).join(' | ').slice(-1500)}`) }
    console.log(`  ${deals.length} uploads refused at a full disk and then published, ${resumed} resumed from the provider's bytes`)
  } finally {
    if (provider !== undefined) await killHard(provider)
    await node?.stop()
    await d?.stop()
    try { execFileSync('umount', ['-l', disk], { stdio: 'ignore' }) } catch {}
    await rm(dir, { recursive: true, force: true })
  }
  return { scenario: 'full disk: a provider whose disk fills mid-upload', tries, acceptedLies: 0, crashes, dataLost: lost, ms: performance.now() - started, failures }
}
