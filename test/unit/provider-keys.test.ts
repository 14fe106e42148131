// A provider's keys: its worker is a BLS key (a miner's worker signs blocks, election proofs and tickets), kept in
// keys.json with a version; a keys.json from before, with a secp256k1 worker, is refused by name.
import { describe, it, expect } from 'vitest'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { base64 } from 'multiformats/bases/base64'
import { Protocol } from '../../src/core'
import { loadOrCreateProviderKeys, workerAddress, OutdatedProviderKeysError } from '../../src/node/provider/provider-keys'

describe('provider keys', () => {
  it('makes a BLS worker once and reads the same keys back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-keys-'))
    try {
      const keys = await loadOrCreateProviderKeys(dir)
      expect(workerAddress(keys)[0]).toBe(Protocol.BLS)
      const again = await loadOrCreateProviderKeys(dir)
      expect(workerAddress(again)).toEqual(workerAddress(keys))
      expect(again.peer.equals(keys.peer)).toBe(true)
      expect(JSON.parse(await readFile(path.join(dir, 'keys.json'), 'utf8')).version).toBe(2)
    } finally { await rm(dir, { recursive: true, force: true }) }
  })
  it('refuses a keys.json from before (a secp256k1 worker, no version) by name, and leaves it as it is', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-keys-'))
    try {
      const fresh = await loadOrCreateProviderKeys(dir)
      const old = JSON.stringify({ worker: base64.baseEncode(new Uint8Array(32).fill(3)), peer: JSON.parse(await readFile(path.join(dir, 'keys.json'), 'utf8')).peer })
      await writeFile(path.join(dir, 'keys.json'), old)
      await expect(loadOrCreateProviderKeys(dir)).rejects.toBeInstanceOf(OutdatedProviderKeysError)
      await expect(loadOrCreateProviderKeys(dir)).rejects.toThrow(/must be a BLS key/)
      expect(await readFile(path.join(dir, 'keys.json'), 'utf8')).toBe(old)
      expect(fresh.worker).toHaveLength(32)
    } finally { await rm(dir, { recursive: true, force: true }) }
  })
})
