// Crashes (issue 16 part 4): `coffer devnet` (a node that writes a block a second, each carrying faucet payments)
// killed with SIGKILL at a random moment, again and again, on one data folder. After each kill it must open its
// folder again (a store that does not open is data lost), continue from no lower than one block before the head it
// last reported, and still hold every payment whose receipt it had reported before the kill (a receipt the user saw
// and the chain then forgot is data lost). The moments are random, so over many tries some land mid block write.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { secpAddressBytes, secpPublicKey, addressToString } from '../../src/core'
import { sleep } from './harness'
import type { Row } from './table'

const BIN = fileURLToPath(new URL('../../src/node/bin.mjs', import.meta.url))

interface Running { child: ChildProcess, output: () => string, exited: Promise<number | null> }

function devnet (data: string): Running {
  const child = spawn(process.execPath, [BIN, 'devnet', '--port', '0', '--rpc-port', '0', '--data', data, '--providers', '0', '--no-webrtc-direct'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = new Promise<number | null>(resolve => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

async function rpc (url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(10_000) })
  const body = await res.json() as { result?: unknown, error?: { message: string } }
  if (body.error !== undefined) throw new Error(body.error.message)
  return body.result
}

/** The first value `fn` gives within `ms` (harness.ts's waitFor, for a value instead of a yes). */
async function waitFor<T> (fn: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const v = await fn()
    if (v !== undefined) return v
    await sleep(100)
  }
  return undefined
}

export async function crashNode (opts: { kills: number }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const data = await mkdtemp(path.join(tmpdir(), 'coffer-crash-node-'))
  let tries = 0
  let lost = 0
  let crashes = 0
  let lastHead = -1
  /** Addresses the faucet paid whose receipt the node reported: each must keep its balance across every kill. */
  const confirmed: string[] = []
  let seq = 0
  let running: Running | undefined
  try {
    for (let k = 0; k <= opts.kills; k++) {
      running = devnet(data)
      const r = running
      const url = await waitFor(() => r.output().match(/rpc (http:\/\/127\.0\.0\.1:\d+\/rpc\/v1)/)?.[1], 60_000)
      if (url === undefined) {
        lost++
        failures.push(`start ${k}: the node did not come up on its folder: ${r.output().slice(-400)}`)
        break
      }
      const opened = Number(r.output().match(/head at height (\d+)/)?.[1] ?? -1)
      if (opened < lastHead - 1) { lost++; failures.push(`start ${k}: opened at height ${opened}, below the ${lastHead} it reported before the kill`) }
      // every payment confirmed before this start is still there
      for (const a of confirmed) {
        const balance = await rpc(url, 'Filecoin.WalletBalance', [a]).catch((err: Error) => err)
        if (balance !== '100000000000000000000') { lost++; failures.push(`start ${k}: ${a} paid before a kill now holds ${String(balance)}`) }
      }
      if (k === opts.kills) break
      tries++
      // work until a random moment, then SIGKILL: payments asked and followed to their receipts meanwhile
      const killAt = Date.now() + 500 + Math.floor(Math.random() * 2500)
      while (Date.now() < killAt) {
        const secret = new Uint8Array(32)
        secret[0] = 1
        new DataView(secret.buffer).setUint32(28, seq++)
        const to = addressToString(secpAddressBytes(secpPublicKey(secret)), 't')
        const cid = await rpc(url, 'Coffer.Faucet', [to]).catch(() => undefined)
        if (cid === undefined) continue
        const found = await waitFor(async () => {
          const l = await rpc(url, 'Filecoin.StateSearchMsg', [[], cid, 10, true]).catch(() => undefined) as { Receipt?: { ExitCode: number } } | null | undefined
          return l?.Receipt?.ExitCode === 0 ? true : undefined
        }, Math.max(0, killAt - Date.now()))
        if (found === true) confirmed.push(to)
      }
      const head = await rpc(url, 'Filecoin.ChainHead', []).catch(() => undefined) as { Height: number } | undefined
      if (head !== undefined) lastHead = head.Height
      process.kill(-r.child.pid!, 'SIGKILL')
      await r.exited
      console.log(`  kill ${k + 1}: at height ${lastHead}, ${confirmed.length} payments confirmed so far`)
    }
    if (running !== undefined && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGINT')
      const code = await Promise.race([running.exited, sleep(15_000).then(() => 'hung')])
      if (code === 'hung') { crashes++; failures.push('the node did not stop on SIGINT within 15 s') }
    }
  } finally {
    if (running !== undefined && running.child.exitCode === null) { try { process.kill(-running.child.pid!, 'SIGKILL') } catch {} }
    await rm(data, { recursive: true, force: true })
  }
  console.log(`  ${confirmed.length} payments confirmed before kills, all checked after each restart`)
  return { scenario: 'crash: a node killed (SIGKILL) at random moments', tries, acceptedLies: 0, crashes, dataLost: lost, ms: performance.now() - started, failures }
}
