// The wallet keystore against fake-indexeddb (the same idb code the browser worker runs), with
// iso-filecoin's Lotus export/import and filecoin-signing-tools' wallet vectors as outside oracles.
import { describe, it, expect, afterEach } from 'vitest'
import { openDB } from 'idb'
import { accountToLotus, accountFromLotus, create as isoCreate } from 'iso-filecoin/wallet'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import signingTools from '../fixtures/filecoin-signing-tools-wallet.json'
import signingToolsBls from '../fixtures/filecoin-signing-tools-bls-wallet.json'
import {
  verifyMessageSignature, parseAddress, addressToString, blsAddressBytes, idAddressBytes, METHOD_SEND, type Message
} from '../../src/core'
import {
  openWalletStore, WrongPassphraseError, WalletLockedError, UnknownWalletKeyError, WalletCorruptedError,
  QuotaExceededError, InvalidKeyExportError, DEFAULT_PBKDF2_ITERATIONS, type WalletStore, type WalletStoreInit
} from '../../src/light/wallet-store'
import { parseLotusExport, formatLotusExport } from '../../src/light/lotus-key'

const PASS = 'correct horse battery staple'
let dbCount = 0
const opened: WalletStore[] = []

async function freshStore (init: WalletStoreInit = {}): Promise<{ store: WalletStore, dbName: string }> {
  const dbName = init.dbName ?? `wallet-test-${dbCount++}`
  const store = await openWalletStore({ iterations: 1000, ...init, dbName })
  opened.push(store)
  return { store, dbName }
}

afterEach(() => { for (const s of opened.splice(0)) s.close() })

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const lotusHex = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('hex')

function sendFrom (address: string): Message {
  return {
    version: 0, to: idAddressBytes(1000), from: parseAddress(address, 't').bytes, nonce: 7, value: 10n ** 18n,
    gasLimit: 1_000_000, gasFeeCap: 200n, gasPremium: 100n, method: METHOD_SEND, params: new Uint8Array(0)
  }
}

async function rawRecords (dbName: string): Promise<Array<Record<string, unknown>>> {
  const db = await openDB(dbName)
  try { return await db.getAll('keys') } finally { db.close() }
}

async function rewrite (dbName: string, address: string, change: (r: any) => void): Promise<void> {
  const db = await openDB(dbName)
  try {
    const r = await db.get('keys', address)
    change(r)
    await db.put('keys', r)
  } finally { db.close() }
}

/** The big-endian secret of a stored key, read back through iso-filecoin (an independent decoder). */
async function secretOf (store: WalletStore, address: string): Promise<Uint8Array> {
  const account = accountFromLotus(await store.exportLotus(address, PASS), 'testnet')
  return account.privateKey!
}

describe('wallet store: create, lock, unlock, sign', () => {
  it('creates secp256k1 and BLS keys that sign verifiable messages after a lock/unlock round', async () => {
    let now = 1_700_000_000_000
    const { store } = await freshStore({ nowMs: () => now++ })
    const secp = await store.create(PASS)
    const bls = await store.create(PASS, 'bls')
    expect(secp).toMatchObject({ type: 'secp256k1', createdAt: 1_700_000_000_000 })
    expect(secp.address).toMatch(/^t1[a-z2-7]{39}$/)
    expect(bls).toMatchObject({ type: 'bls', createdAt: 1_700_000_000_001 })
    expect(bls.address).toMatch(/^t3[a-z2-7]{84}$/)
    expect(await store.list()).toEqual([secp, bls])

    expect(store.isUnlocked()).toBe(false) // creating does not unlock
    await store.unlock(PASS)
    expect(store.isUnlocked()).toBe(true)
    store.lock()
    expect(store.isUnlocked()).toBe(false)
    await store.unlock(PASS)
    for (const key of [secp, bls]) {
      const signed = store.sign(key.address, sendFrom(key.address))
      expect(signed.signature.type).toBe(key.type === 'bls' ? 2 : 1)
      expect(() => { verifyMessageSignature(signed) }).not.toThrow()
    }
  })

  it('works with the default 600k PBKDF2 rounds', async () => {
    const { store, dbName } = await freshStore({ iterations: undefined })
    const key = await store.create(PASS)
    await store.unlock(PASS)
    expect(() => { verifyMessageSignature(store.sign(key.address, sendFrom(key.address))) }).not.toThrow()
    const [record] = await rawRecords(dbName)
    expect((record!.kdf as { iterations: number }).iterations).toBe(DEFAULT_PBKDF2_ITERATIONS)
    expect(DEFAULT_PBKDF2_ITERATIONS).toBe(600_000)
  })

  it('a key created while unlocked signs at once; one created while locked leaves the wallet locked', async () => {
    const { store } = await freshStore()
    await store.create(PASS)
    await store.unlock(PASS)
    const later = await store.create(PASS, 'bls')
    expect(() => { verifyMessageSignature(store.sign(later.address, sendFrom(later.address))) }).not.toThrow()
    store.lock()
    await store.create(PASS)
    expect(store.isUnlocked()).toBe(false)
  })

  it('refuses to sign while locked, for unknown keys, and for a message from another address', async () => {
    const { store } = await freshStore()
    const a = await store.create(PASS)
    const b = await store.create(PASS)
    const err = (() => { try { store.sign(a.address, sendFrom(a.address)) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(WalletLockedError)
    expect((err as Error).name).toBe('WalletLockedError')
    expect(WalletLockedError.name).toBe('WalletLockedError')
    await store.unlock(PASS)
    store.lock()
    expect(() => store.sign(a.address, sendFrom(a.address))).toThrow(WalletLockedError)
    await store.unlock(PASS)
    const stranger = addressToString(blsAddressBytes(bls12_381.longSignatures.getPublicKey(bls12_381.longSignatures.keygen().secretKey).toBytes(true)))
    expect(() => store.sign(stranger, sendFrom(stranger))).toThrow(UnknownWalletKeyError)
    expect(() => store.sign(a.address, sendFrom(b.address))).toThrow(RangeError)
    // a mainnet spelling of the same key is refused rather than silently signing for another network
    const mainnet = (() => { try { store.sign(`f${a.address.slice(1)}`, sendFrom(a.address)) } catch (e) { return e } })()
    expect(mainnet).toMatchObject({ name: 'InvalidAddressError', code: 'NETWORK' })
  })

  it('a lock() during unlock wins: the wallet stays locked', async () => {
    const { store } = await freshStore()
    await store.create(PASS)
    const unlocking = store.unlock(PASS)
    store.lock()
    await expect(unlocking).rejects.toThrow(WalletLockedError)
    expect(store.isUnlocked()).toBe(false)
  })

  it('an empty wallet unlocks with any passphrase and holds no keys', async () => {
    const { store } = await freshStore()
    await store.unlock('anything')
    expect(store.isUnlocked()).toBe(true)
    expect(await store.list()).toEqual([])
  })

  it('refuses an empty passphrase and an out-of-range iteration count', async () => {
    const { store } = await freshStore()
    await expect(store.create('')).rejects.toThrow(RangeError)
    await expect(openWalletStore({ dbName: 'wallet-test-bad-iterations', iterations: 0 })).rejects.toThrow(RangeError)
    await expect(openWalletStore({ dbName: 'wallet-test-bad-iterations', iterations: 1.5 })).rejects.toThrow(RangeError)
  })

  it('treats a passphrase typed in NFC and NFD the same', async () => {
    const { store } = await freshStore()
    await store.create('caf\u00e9 au lait')
    await expect(store.unlock('cafe\u0301 au lait')).resolves.toBeUndefined()
  })
})

describe('wallet store: one passphrase', () => {
  it('a wrong passphrase unlocks nothing, and the right one still opens the same keys', async () => {
    const { store } = await freshStore()
    await store.create(PASS)
    await store.create(PASS, 'bls')
    const before = await store.list()
    const err = await store.unlock('Correct horse battery staple').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WrongPassphraseError)
    expect((err as Error).name).toBe('WrongPassphraseError')
    expect(store.isUnlocked()).toBe(false)
    expect(await store.list()).toEqual(before)
    await store.unlock(PASS)
    expect(store.isUnlocked()).toBe(true)
    // a wrong passphrase while unlocked changes nothing either
    await expect(store.unlock('nope')).rejects.toThrow(WrongPassphraseError)
    expect(store.isUnlocked()).toBe(true)
    expect(await store.list()).toEqual(before)
  })

  it('create and import with another passphrase than the first key write nothing', async () => {
    const { store } = await freshStore()
    await store.create(PASS)
    const before = await store.list()
    await expect(store.create('other')).rejects.toThrow(WrongPassphraseError)
    await expect(store.importLotus(accountToLotus(isoCreate('SECP256K1', 'testnet')), 'other')).rejects.toThrow(WrongPassphraseError)
    expect(await store.list()).toEqual(before)
  })

  it('two first keys created at once with different passphrases: one wins, the other writes nothing', async () => {
    const { store } = await freshStore()
    const results = await Promise.allSettled([store.create('first'), store.create('second')])
    expect(results.map(r => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect((results.find(r => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(WrongPassphraseError)
    expect(await store.list()).toHaveLength(1)
  })

  it('the same race across two stores (two tabs) on one database ends the same way', async () => {
    const { store: a, dbName } = await freshStore()
    const { store: b } = await freshStore({ dbName })
    const results = await Promise.allSettled([a.create('first'), b.create('second', 'bls')])
    expect(results.map(r => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect((results.find(r => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(WrongPassphraseError)
    expect(await a.list()).toHaveLength(1)
  })

  it('exportLotus asks for the passphrase even while unlocked', async () => {
    const { store } = await freshStore()
    const key = await store.create(PASS)
    await store.unlock(PASS)
    await expect(store.exportLotus(key.address, 'wrong')).rejects.toThrow(WrongPassphraseError)
    await expect(store.exportLotus(key.address, PASS)).resolves.toMatch(/^[0-9a-f]+$/)
    await expect(store.exportLotus('t1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba', PASS)).rejects.toThrow(UnknownWalletKeyError)
  })
})

describe('wallet store: what IndexedDB holds', () => {
  it('records are ciphertext with their KDF and cipher parameters, and no form of the secret appears', async () => {
    const { store, dbName } = await freshStore()
    const imported = [isoCreate('SECP256K1', 'testnet'), isoCreate('BLS', 'testnet')]
    const secrets: Uint8Array[] = imported.map(a => a.privateKey.slice())
    for (const a of imported) await store.importLotus(accountToLotus(a), PASS)
    for (const type of ['secp256k1', 'bls'] as const) {
      const k = await store.create(PASS, type)
      secrets.push(await secretOf(store, k.address))
    }

    const records = await rawRecords(dbName)
    expect(records).toHaveLength(4)
    for (const r of records) {
      expect(Object.keys(r).sort()).toEqual(['address', 'cipher', 'ciphertext', 'createdAt', 'kdf', 'type'])
      expect(r.kdf).toMatchObject({ name: 'PBKDF2', hash: 'SHA-256', iterations: 1000 })
      expect((r.kdf as { salt: Uint8Array }).salt).toHaveLength(16)
      expect(r.cipher).toMatchObject({ name: 'AES-GCM' })
      expect((r.cipher as { iv: Uint8Array }).iv).toHaveLength(12)
      expect(r.ciphertext).toHaveLength(32 + 16)
    }
    // one wallet salt (see wallet-store.ts), but every record has its own IV
    expect(new Set(records.map(r => hex((r.kdf as { salt: Uint8Array }).salt))).size).toBe(1)
    expect(new Set(records.map(r => hex((r.cipher as { iv: Uint8Array }).iv))).size).toBe(4)

    // every byte run and string in the stored values, as structured clone keeps them
    const byteRuns: Uint8Array[] = []
    const strings: string[] = []
    const walk = (v: unknown): void => {
      if (v instanceof Uint8Array) byteRuns.push(v)
      else if (typeof v === 'string') strings.push(v)
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk)
    }
    walk(records)
    const haystack = Buffer.concat(byteRuns)
    for (const secret of secrets) {
      const reversed = secret.slice().reverse()
      for (const form of [secret, reversed]) {
        expect(haystack.indexOf(Buffer.from(form))).toBe(-1)
        expect(haystack.indexOf(Buffer.from(form.subarray(0, 8)))).toBe(-1) // not even a prefix
        for (const text of [hex(form), Buffer.from(form).toString('base64')]) {
          expect(strings.some(s => s.includes(text))).toBe(false)
          expect(haystack.indexOf(Buffer.from(text))).toBe(-1)
        }
      }
    }
  })

  it('keys persist across store instances on the same database', async () => {
    const { store: first, dbName } = await freshStore()
    const a = await first.create(PASS)
    const b = await first.importLotus(accountToLotus(isoCreate('BLS', 'testnet')), PASS)
    first.close()

    const { store: second } = await freshStore({ dbName })
    expect(await second.list()).toEqual([a, b])
    expect(second.isUnlocked()).toBe(false)
    await expect(second.create('other')).rejects.toThrow(WrongPassphraseError)
    await second.unlock(PASS)
    for (const k of [a, b]) expect(() => { verifyMessageSignature(second.sign(k.address, sendFrom(k.address))) }).not.toThrow()
  })

  it('maps a storage quota failure to QuotaExceededError and saves nothing', async () => {
    const { store } = await freshStore()
    const add = IDBObjectStore.prototype.add
    IDBObjectStore.prototype.add = function () { throw new DOMException('quota reached', 'QuotaExceededError') }
    try {
      const err = await store.create(PASS).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(QuotaExceededError)
      expect((err as Error).name).toBe('QuotaExceededError')
      expect((err as Error).message).toMatch(/storage is full/)
      expect(((err as Error).cause as DOMException).name).toBe('QuotaExceededError')
    } finally {
      IDBObjectStore.prototype.add = add
    }
    expect(await store.list()).toEqual([])
    await store.create(PASS) // and the wallet is usable once there is room
  })
})

describe('wallet store: tampering', () => {
  it('an altered ciphertext in the only record reads as a wrong passphrase', async () => {
    const { store, dbName } = await freshStore()
    const key = await store.create(PASS)
    await rewrite(dbName, key.address, r => { r.ciphertext[5] ^= 1 })
    await expect(store.unlock(PASS)).rejects.toThrow(WrongPassphraseError)
    await expect(store.exportLotus(key.address, PASS)).rejects.toThrow(WrongPassphraseError)
    expect(store.isUnlocked()).toBe(false)
  })

  it('an altered record beside records that open is WalletCorruptedError naming it, and nothing unlocks', async () => {
    const { store, dbName } = await freshStore()
    await store.create(PASS)
    const bad = await store.create(PASS, 'bls')
    await rewrite(dbName, bad.address, r => { r.ciphertext[40] ^= 0x80 }) // in the GCM tag
    const err = await store.unlock(PASS).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WalletCorruptedError)
    expect((err as WalletCorruptedError).address).toBe(bad.address)
    expect(store.isUnlocked()).toBe(false)
    // new keys can still be added: the passphrase is proved by the record that opens
    await expect(store.create(PASS)).resolves.toMatchObject({ type: 'secp256k1' })
  })

  it('a ciphertext moved onto another address does not open (the address is GCM additional data)', async () => {
    const { store, dbName } = await freshStore()
    const a = await store.create(PASS)
    const b = await store.create(PASS)
    const [ra] = (await rawRecords(dbName)).filter(r => r.address === a.address)
    await rewrite(dbName, b.address, r => { r.cipher = ra!.cipher; r.ciphertext = ra!.ciphertext; r.kdf = ra!.kdf })
    await expect(store.unlock(PASS)).rejects.toThrow(WalletCorruptedError)
    await expect(store.exportLotus(b.address, PASS)).rejects.toThrow(WrongPassphraseError)
  })

  it('malformed records are WalletCorruptedError, including an iteration count that would hang the worker', async () => {
    const { store, dbName } = await freshStore()
    const key = await store.create(PASS)
    await rewrite(dbName, key.address, r => { r.kdf.iterations = 1e12 })
    await expect(store.unlock(PASS)).rejects.toThrow(WalletCorruptedError)
    await rewrite(dbName, key.address, r => { r.kdf.iterations = 1000; r.type = 'bls' })
    await expect(store.list()).rejects.toThrow(WalletCorruptedError)
  })
})

describe('wallet store: Lotus export format', () => {
  for (const type of ['SECP256K1', 'BLS'] as const) {
    it(`imports an iso-filecoin ${type} export and exports what iso-filecoin reads back`, async () => {
      const { store } = await freshStore()
      const account = isoCreate(type, 'testnet')
      const secret = account.privateKey.slice() // accountToLotus reverses a BLS key in place
      const key = await store.importLotus(accountToLotus(account), PASS)
      expect(key.address).toBe(account.address.toString())
      expect(key.type).toBe(type === 'BLS' ? 'bls' : 'secp256k1')

      const back = accountFromLotus(await store.exportLotus(key.address, PASS), 'testnet')
      expect(back.address.toString()).toBe(key.address)
      expect(hex(back.privateKey!)).toBe(hex(secret))

      await store.unlock(PASS)
      expect(() => { verifyMessageSignature(store.sign(key.address, sendFrom(key.address))) }).not.toThrow()
    })

    it(`exports a created ${type} key that iso-filecoin reads to the same address`, async () => {
      const { store } = await freshStore()
      const key = await store.create(PASS, type === 'BLS' ? 'bls' : 'secp256k1')
      expect(accountFromLotus(await store.exportLotus(key.address, PASS), 'testnet').address.toString()).toBe(key.address)
    })
  }

  it('reads filecoin-signing-tools wallet vectors (Lotus little-endian BLS keys) to their published addresses', async () => {
    const { store } = await freshStore()
    const bls = await store.importLotus(lotusHex({ Type: 'bls', PrivateKey: signingTools.bls_private_key }), PASS)
    expect(bls.address).toBe(signingTools.bls_address)
    // the same key as the vector's HD child m/44'/461'/0/0/0, published with its mainnet address
    const secp = await store.importLotus(lotusHex({ Type: 'secp256k1', PrivateKey: signingTools.private_key }), PASS)
    expect(secp.address).toBe(`t${signingTools.childs[3]!.address!.slice(1)}`)
    const bls2 = await store.importLotus(lotusHex({ Type: 'bls', PrivateKey: signingToolsBls.bls_private_key }), PASS)
    expect(bls2.address).toBe(addressToString(blsAddressBytes(Buffer.from(signingToolsBls.bls_public_key, 'hex'))))
    // and writes the key back byte for byte as Lotus wrote it
    const exported = JSON.parse(Buffer.from(await store.exportLotus(bls.address, PASS), 'hex').toString())
    expect(exported).toEqual({ Type: 'bls', PrivateKey: signingTools.bls_private_key })
  })

  it('accepts the trailing newline `lotus wallet export` prints, and upper-case hex', async () => {
    const { store } = await freshStore()
    const account = isoCreate('SECP256K1', 'testnet')
    const key = await store.importLotus(`${accountToLotus(account).toUpperCase()}\n`, PASS)
    expect(key.address).toBe(account.address.toString())
  })

  it('importing a key already stored returns it unchanged and writes nothing', async () => {
    const { store, dbName } = await freshStore()
    const exported = accountToLotus(isoCreate('SECP256K1', 'testnet'))
    const first = await store.importLotus(exported, PASS)
    const before = await rawRecords(dbName)
    expect(await store.importLotus(exported, PASS)).toEqual(first)
    expect(await rawRecords(dbName)).toEqual(before)
  })

  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
  const be = (n: bigint): Uint8Array => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
  const secpKey = b64(isoCreate('SECP256K1', 'testnet').privateKey)
  const malformed: Array<[string, string, string]> = [
    ['not hex', 'zz' + lotusHex({ Type: 'secp256k1', PrivateKey: secpKey }), 'HEX'],
    ['odd-length hex', lotusHex({ Type: 'secp256k1', PrivateKey: secpKey }).slice(1), 'HEX'],
    ['empty', '', 'HEX'],
    ['hex of non-UTF-8', 'ff'.repeat(40), 'JSON'],
    ['hex of non-JSON', Buffer.from(`{"Type":"secp256k1","PrivateKey":"${secpKey}"`).toString('hex'), 'JSON'],
    ['a JSON array', lotusHex(['secp256k1', secpKey]), 'JSON'],
    ['no Type', lotusHex({ PrivateKey: secpKey }), 'TYPE'],
    ['a delegated (f4) key', lotusHex({ Type: 'delegated', PrivateKey: secpKey }), 'TYPE'],
    ['a ledger key', lotusHex({ Type: 'secp256k1-ledger', PrivateKey: secpKey }), 'TYPE'],
    ['PrivateKey not a string', lotusHex({ Type: 'secp256k1', PrivateKey: [1, 2, 3] }), 'BASE64'],
    ['URL-safe base64', lotusHex({ Type: 'secp256k1', PrivateKey: b64(Uint8Array.from({ length: 32 }, () => 0xfb)).replace(/\+/g, '-').replace(/\//g, '_') }), 'BASE64'],
    ['unpadded base64', lotusHex({ Type: 'secp256k1', PrivateKey: secpKey.replace(/=+$/, '') }), 'BASE64'],
    ['31 bytes', lotusHex({ Type: 'secp256k1', PrivateKey: b64(new Uint8Array(31).fill(7)) }), 'LENGTH'],
    ['33 bytes', lotusHex({ Type: 'bls', PrivateKey: b64(new Uint8Array(33).fill(7)) }), 'LENGTH'],
    ['a zero secp256k1 key', lotusHex({ Type: 'secp256k1', PrivateKey: b64(new Uint8Array(32)) }), 'SCALAR'],
    ['a secp256k1 key equal to n', lotusHex({ Type: 'secp256k1', PrivateKey: b64(be(secp256k1.Point.Fn.ORDER)) }), 'SCALAR'],
    ['a BLS key equal to r (little-endian)', lotusHex({ Type: 'bls', PrivateKey: b64(be(bls12_381.fields.Fr.ORDER).reverse()) }), 'SCALAR'],
    ['a BLS key of all ones', lotusHex({ Type: 'bls', PrivateKey: b64(new Uint8Array(32).fill(0xff)) }), 'SCALAR']
  ]
  for (const [what, input, code] of malformed) {
    it(`refuses ${what} with InvalidKeyExportError ${code}, quoting none of it, writing nothing`, async () => {
      const { store } = await freshStore()
      const err = await store.importLotus(input, PASS).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidKeyExportError)
      expect((err as InvalidKeyExportError).name).toBe('InvalidKeyExportError')
      expect((err as InvalidKeyExportError).code).toBe(code)
      const message = (err as Error).message
      expect(message.includes(secpKey)).toBe(false)
      expect(message.includes(secpKey.slice(0, 12))).toBe(false)
      if (input.length > 0) expect(message.includes(input.slice(0, 16))).toBe(false)
      expect(await store.list()).toEqual([])
    })
  }

  it('parse and format are inverse (secret held big-endian, BLS little-endian only on the wire)', () => {
    const account = isoCreate('BLS', 'testnet')
    const secret = account.privateKey.slice()
    const parsed = parseLotusExport(accountToLotus(account))
    expect(parsed.type).toBe('bls')
    expect(hex(parsed.secret)).toBe(hex(secret))
    expect(accountFromLotus(formatLotusExport(parsed), 'testnet').address.toString()).toBe(account.address.toString())
  })
})
