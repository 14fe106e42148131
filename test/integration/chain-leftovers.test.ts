// Node-side leftovers of the issue 9 review: a data folder whose head block was stored before the block gas
// limit existed is an old data folder (item 8: OldDataDirError, not a bare BlockGasLimitError at start), and
// the faucet's per-address memory forgets addresses past their cool-down (item 14: the map is keyed by
// addresses anyone can make up).
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { startDevnet } from '../../src/node/devnet'
import { ChainDb } from '../../src/node/chain-db'
import type { Faucet } from '../../src/node/faucet'
import { loadOrCreateProducerKey, loadOrCreateBeaconKey } from '../../src/node/keys'
import {
  produceHeader, storeBlockMessages, signMessage, secpPublicKey, secpAddressBytes, MemoryBlockStore, BLOCK_GAS_LIMIT, BASE_FEE, EMPTY_AMT_CID
} from '../../src/core'
import { until } from '../helpers/until'
import { beaconEntriesWith } from '../helpers/test-beacon'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

async function folder (): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-chain-leftovers-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}
const key = (): { secret: Uint8Array, address: Uint8Array } => {
  const secret = secp256k1.utils.randomSecretKey()
  return { secret, address: secpAddressBytes(secpPublicKey(secret)) }
}

describe('chain leftovers (issue 9 review)', { timeout: 120_000 }, () => {
  it('a data folder whose head holds more gas than a block may is an old data folder (item 8)', async () => {
    const dir = await folder()
    const first = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000 })
    await until(() => first.head().header.height >= 1, 30_000)
    const genesis = first.genesis
    await first.stop()

    // what an earlier version could store: twenty messages of BlockGasLimit each in one block
    const db = await ChainDb.open(dir)
    const secret = await loadOrCreateProducerKey(db)
    const beaconKey = await loadOrCreateBeaconKey(db)
    const head = (await db.headerAt((await db.headHeight())!))!
    const store = new MemoryBlockStore()
    const senders = Array.from({ length: 20 }, key)
    const messages = storeBlockMessages(store, {
      bls: [],
      secp: senders.map(s => signMessage(s.secret, { version: 0, to: s.address, from: s.address, nonce: 0, value: 1n, gasLimit: BLOCK_GAS_LIMIT, gasFeeCap: BASE_FEE, gasPremium: 1n, method: 0, params: new Uint8Array(0) }))
    })
    const over = produceHeader(head, genesis, secret, head.header.timestamp + 1, beaconEntriesWith(beaconKey, head, genesis), { parentStateRoot: head.header.parentStateRoot, parentMessageReceipts: EMPTY_AMT_CID, messages, blsAggregate: null })
    await db.append(over, store.unpersisted())
    await db.close()

    await expect(startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000 })).rejects.toMatchObject({ name: 'OldDataDirError' })
  })

  it('a data folder made under other chain rules (or before they were recorded) is an old data folder; one under these rules reopens (issue 13)', async () => {
    const dir = await folder()
    const first = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000 })
    await first.stop()
    const again = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000 })
    await again.stop()
    // as a folder from before the rules were recorded says: version 1
    const db = await ChainDb.open(dir)
    await db.putAll({ 'genesis/rules': new TextEncoder().encode('1') })
    await db.close()
    await expect(startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000 })).rejects.toMatchObject({ name: 'OldDataDirError' })
    // --reset starts it over under these rules
    const reset = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, reset: true })
    await reset.stop()
  })

  it('the faucet forgets addresses whose cool-down is over (item 14)', async () => {
    const dir = await folder()
    const cooldownMs = 500
    const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, faucetCooldownMs: cooldownMs })
    cleanups.push(d.stop)
    const paid = (): number => (d.chain as unknown as { faucetPayer: Faucet }).faucetPayer.remembered
    for (let i = 0; i < 5; i++) await d.chain.faucet(key().address)
    expect(paid()).toBe(5)
    const since = Date.now()
    await until(() => Date.now() - since > cooldownMs, 10_000)
    await d.chain.faucet(key().address)
    expect(paid()).toBe(1)
  })
})
