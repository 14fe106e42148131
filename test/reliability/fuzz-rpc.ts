// Fuzzing every JSON-RPC method's parameters (issue 16 part 3) against a real devnet node's chain: each method is
// called as the dispatcher calls it, with parameters built from valid Lotus JSON (the head's tipset key, real
// addresses, a signed message, CIDs, epochs) mutated node by node, and random JSON. A method must answer or throw a
// named error (the dispatcher turns those into JSON-RPC errors); an engine error is a bug the dispatcher logs as
// one, and counts as a crash here, as does a call that takes over HANG_MS.
import fc from 'fast-check'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { methods } from '../../src/node/rpc/rpc-methods'
import { tipSetToLotus, signedMessageToLotus, cidToLotus } from '../../src/node/rpc'
import { addressToString, signMessage, secpAddressBytes, secpPublicKey, idAddressBytes } from '../../src/core'
import { isNamedError } from './fuzz-decoders'
import type { Row } from './table'

/**
 * A call that has not settled by then hangs. A bound for hangs, not for speed: at 2 s a valid MpoolPush failed the
 * long run (2,306 ms) on a 2-core machine shared with two other scenarios and a browser bench.
 */
const HANG_MS = 30_000

function mutate (v: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0) return replacement
  if (Array.isArray(v) && v.length > 0) {
    const i = path[0]! % v.length
    const copy = [...v]
    copy[i] = mutate(v[i], path.slice(1), replacement)
    return copy
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 0) return replacement
    const k = keys[path[0]! % keys.length]!
    return { ...(v as Record<string, unknown>), [k]: mutate((v as Record<string, unknown>)[k], path.slice(1), replacement) }
  }
  return replacement
}

export async function fuzzRpc (opts: { casesPerMethod: number, stats?: Map<string, { ok: number, named: number }> }): Promise<Row> {
  const started = performance.now()
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-fuzz-rpc-'))
  const devnet = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, log: () => {} })
  try {
    // a few blocks, so heights, tipsets and messages exist to name
    const key = new Uint8Array(32).fill(11)
    const from = secpAddressBytes(secpPublicKey(key))
    const faucetMsg = await devnet.chain.faucet(from)
    while (devnet.head().header.height < 3) await new Promise(resolve => setTimeout(resolve, 100))
    const head = devnet.chain.headTipSet()
    const network = 't' as const
    const sm = signMessage(key, { version: 0, to: idAddressBytes(1000), from, nonce: 0, value: 1n, gasLimit: 1_000_000, gasFeeCap: 100_000n, gasPremium: 100_000n, method: 0, params: new Uint8Array(0) })
    const lotusTs = tipSetToLotus(head, network)
    const seeds: unknown[] = [
      lotusTs.Cids, [], null, cidToLotus(head.blocks[0]!.cid), cidToLotus(devnet.genesis.header.cid), 0, 1, 2, 3, -1, 2 ** 53, '3', 'x',
      addressToString(from, network), 'f01000', 't01001', 'f099', 'f3' + 'a'.repeat(84), signedMessageToLotus(sm, network), signedMessageToLotus(sm, network).Message,
      { MaxFee: '0' }, true, false, {}, [[]], [{ '/': 'bafy' }],
      cidToLotus(faucetMsg), cidToLotus(head.blocks[0]!.header.parentStateRoot), 'f02', 'f04', 'f05', 'f099'
    ]
    const json = fc.jsonValue({ maxDepth: 3 })
    const param = fc.oneof(
      { arbitrary: fc.constantFrom(...seeds), weight: 3 },
      { arbitrary: fc.tuple(fc.nat(seeds.length - 1), fc.array(fc.nat(), { maxLength: 4 }), fc.oneof(json, fc.constantFrom(...seeds))).map(([i, p, r]) => mutate(seeds[i], p, r)), weight: 4 },
      json
    )
    const table = methods(devnet.chain)
    let tries = 0
    let crashes = 0
    const kinds = new Map<string, string>()
    for (const [name, method] of table) {
      await fc.assert(fc.asyncProperty(fc.integer({ min: method.minParams, max: method.maxParams }).chain(n => fc.array(param, { minLength: n, maxLength: n })), async (params) => {
        tries++
        const t0 = performance.now()
        let failure: string | null = null
        // a call that would park (StateWaitMsg for a message that never comes) is let go after a moment
        const signal = AbortSignal.timeout(method.parks === true ? 20 : 60_000)
        const st = opts.stats === undefined ? undefined : opts.stats.get(name) ?? opts.stats.set(name, { ok: 0, named: 0 }).get(name)!
        try {
          await method.run(params, { signal, api: 1, origin: 'http:fuzz' })
          if (st !== undefined) st.ok++
        } catch (err) {
          if (st !== undefined && isNamedError(err)) st.named++
          if (!isNamedError(err)) failure = `${(err as Error)?.name ?? typeof err}: ${String((err as Error)?.message ?? err).slice(0, 160)}`
        }
        const ms = performance.now() - t0
        if (failure === null && ms > HANG_MS) failure = `took ${Math.round(ms)} ms`
        if (failure !== null) {
          crashes++
          const k = `${name} ${failure.replace(/[0-9]+/g, 'N')}`
          if (!kinds.has(k)) kinds.set(k, `${name}: ${failure} on ${JSON.stringify(params).slice(0, 200)}`)
        }
        return true
      }), { numRuns: opts.casesPerMethod })
    }
    return { scenario: 'fuzz: every JSON-RPC method', tries, acceptedLies: 0, crashes, dataLost: 0, ms: performance.now() - started, failures: [...kinds.values()] }
  } finally {
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
