// The light client's wallet: secp256k1 and BLS keys kept in IndexedDB encrypted under one passphrase
// (PBKDF2-HMAC-SHA256 → AES-GCM-256), decrypted into worker memory only while unlocked.
//
// Schema v1 of database `coffer-wallet`: object store `keys` keyed by address (t1… / t3…), one record per
// key holding its own KDF and cipher parameters, so a record decrypts on its own whatever the store's
// current settings. The address bytes are the GCM additional data: a ciphertext moved onto another
// address fails authentication.
//
// One salt per wallet, not per key: the first create/import draws 16 random bytes and later keys reuse
// that record's salt and iteration count. Every key shares the passphrase, so distinct salts would not
// slow a guesser (one guess tested against one record decides them all) but would make unlock cost one
// full PBKDF2 per key (600k rounds ≈ 0.1 s in Node 20, measured; slower in browsers). A record written
// with other parameters (the iteration setting changed) still works: derivations are cached per
// (salt, iterations) within one operation.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import { addressToString, parseAddress, bytesEqual, signMessage, signDealProposal, signVoucher, Protocol, type Message, type SignedMessage, type DealProposal, type ClientDealProposal, type SignedVoucher } from '../core'
import {
  formatLotusExport, isValidSecretKey, keyAddressBytes, parseLotusExport, randomSecretKey, SECRET_KEY_BYTES,
  type LotusKey, type WalletKeyType
} from './lotus-key'

export { InvalidKeyExportError, type InvalidKeyExportCode, type WalletKeyType } from './lotus-key'

export interface WalletKey {
  /** Test-network text form: t1… (secp256k1) or t3… (BLS). */
  address: string
  type: WalletKeyType
  createdAt: number
}

export interface WalletStoreInit {
  /** Default 'coffer-wallet'. */
  dbName?: string
  /** PBKDF2 rounds for keys written from now on. Default 600_000 (OWASP 2023, PBKDF2-HMAC-SHA256). */
  iterations?: number
  nowMs?: () => number
  /** Source of salts, IVs and new keys; defaults to crypto.getRandomValues. */
  randomBytes?: (n: number) => Uint8Array
}

export interface WalletStore {
  /** Every stored key, oldest first; works while locked. */
  list: () => Promise<WalletKey[]>
  isUnlocked: () => boolean
  /**
   * Adds a random key. The first key (create or import) sets the wallet's passphrase; later ones must be
   * given the same one. Does not change the lock state; when unlocked, the new key can sign at once.
   */
  create: (passphrase: string, type?: WalletKeyType) => Promise<WalletKey>
  /** Adds a `lotus wallet export` key (same passphrase rule as create); a key already stored is returned as it is. */
  importLotus: (hex: string, passphrase: string) => Promise<WalletKey>
  /** Decrypts every key into worker memory; an empty wallet unlocks with any passphrase. */
  unlock: (passphrase: string) => Promise<void>
  /** Forgets (and zero-fills) the decrypted keys. */
  lock: () => void
  /** The key in `lotus wallet import` form; asks for the passphrase even while unlocked. */
  exportLotus: (address: string, passphrase: string) => Promise<string>
  /** Signs as Lotus does (over the message CID); the message's From must be `address`. */
  sign: (address: string, message: Message) => SignedMessage
  /** Signs a deal proposal as its Client (over the proposal's CBOR, as Lotus clients do). */
  signProposal: (proposal: DealProposal) => ClientDealProposal
  /** Signs a payment-channel voucher as the channel's From, `address` (over the tuple with Signature = null, as Lotus's paychmgr). */
  signVoucher: (address: string, voucher: SignedVoucher) => SignedVoucher
  /** Locks and closes the database connection. */
  close: () => void
}

export class WrongPassphraseError extends Error {
  static override name = 'WrongPassphraseError'
  override name = 'WrongPassphraseError'
  constructor () { super('wrong passphrase') }
}

export class WalletLockedError extends Error {
  static override name = 'WalletLockedError'
  override name = 'WalletLockedError'
  constructor (message = 'the wallet is locked: unlock it with the passphrase first') { super(message) }
}

export class UnknownWalletKeyError extends Error {
  static override name = 'UnknownWalletKeyError'
  override name = 'UnknownWalletKeyError'
  constructor (readonly address: string, detail = 'is not in this wallet') { super(`${address} ${detail}`) }
}

/**
 * A stored record is malformed, or fails authentication while the wallet's other records open with the
 * same passphrase. With a single record AES-GCM cannot tell tampering from a wrong passphrase, so that
 * case is a WrongPassphraseError.
 */
export class WalletCorruptedError extends Error {
  static override name = 'WalletCorruptedError'
  override name = 'WalletCorruptedError'
  constructor (readonly address: string, reason: string) { super(`wallet record ${address} is corrupted: ${reason}`) }
}

/**
 * IndexedDB refused the write for lack of space. Same name as the DOMException it wraps, so the app can
 * treat every full-storage failure alike.
 */
export class QuotaExceededError extends Error {
  static override name = 'QuotaExceededError'
  override name = 'QuotaExceededError'
  constructor (cause: unknown) {
    super('browser storage is full: the key was not saved. Free some space for this site (or allow persistent storage) and try again', { cause })
  }
}

export const WALLET_DB_VERSION = 1
export const DEFAULT_WALLET_DB = 'coffer-wallet'
export const DEFAULT_PBKDF2_ITERATIONS = 600_000
/** Records claiming more rounds are refused as corrupt: a tampered count must not hang the worker. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000
const SALT_BYTES = 16
const IV_BYTES = 12
const GCM_TAG_BYTES = 16
const STORE = 'keys'

type Bytes = Uint8Array<ArrayBuffer>

interface KdfParams { name: 'PBKDF2', hash: 'SHA-256', iterations: number, salt: Bytes }

interface KeyRecord {
  address: string
  type: WalletKeyType
  createdAt: number
  kdf: KdfParams
  cipher: { name: 'AES-GCM', iv: Bytes }
  ciphertext: Bytes
}

interface WalletSchema extends DBSchema {
  keys: { key: string, value: KeyRecord }
}

/** A record checked field by field, with its address bytes (the GCM additional data). */
interface CheckedRecord { record: KeyRecord, addressBytes: Bytes }

const PROTOCOL_OF: Record<WalletKeyType, number> = { secp256k1: Protocol.SECP256K1, bls: Protocol.BLS }

function checkRecord (value: unknown): CheckedRecord {
  const r = value as Partial<KeyRecord> | undefined
  const address = typeof r?.address === 'string' ? r.address : '(no address)'
  const bad = (reason: string): never => { throw new WalletCorruptedError(address, reason) }
  if (r === undefined || typeof r.address !== 'string') return bad('no address')
  let addressBytes: Bytes
  try { addressBytes = new Uint8Array(parseAddress(r.address, 't').bytes) } catch { return bad('address does not parse') }
  if (r.type !== 'secp256k1' && r.type !== 'bls') return bad('unknown key type')
  if (addressBytes[0] !== PROTOCOL_OF[r.type]) return bad(`a ${r.type} key cannot have this address`)
  if (typeof r.createdAt !== 'number') return bad('no creation time')
  const { kdf, cipher, ciphertext } = r
  if (kdf?.name !== 'PBKDF2' || kdf.hash !== 'SHA-256') return bad('unknown key derivation')
  if (!Number.isSafeInteger(kdf.iterations) || kdf.iterations < 1 || kdf.iterations > MAX_PBKDF2_ITERATIONS) return bad('PBKDF2 iteration count out of range')
  if (!(kdf.salt instanceof Uint8Array) || kdf.salt.length !== SALT_BYTES) return bad('bad salt')
  if (cipher?.name !== 'AES-GCM' || !(cipher.iv instanceof Uint8Array) || cipher.iv.length !== IV_BYTES) return bad('unknown cipher or bad IV')
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== SECRET_KEY_BYTES + GCM_TAG_BYTES) return bad('ciphertext has the wrong length')
  return { record: r as KeyRecord, addressBytes }
}

const toWalletKey = ({ address, type, createdAt }: KeyRecord): WalletKey => ({ address, type, createdAt })

function checkPassphrase (passphrase: unknown): asserts passphrase is string {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string')
  if (passphrase.length === 0) throw new RangeError('passphrase must not be empty')
}

const isQuotaError = (err: unknown): boolean => (err as { name?: unknown } | null)?.name === 'QuotaExceededError'

/** The canonical (t-network) text of an address the caller gave; refuses f-addresses and garbage. */
function canonicalAddress (address: string): { text: string, bytes: Uint8Array } {
  const { bytes } = parseAddress(address, 't')
  return { text: addressToString(bytes, 't'), bytes }
}

/**
 * AES keys derived from one passphrase, one PBKDF2 run per distinct (salt, iterations) within an
 * operation. Nothing outlives the operation: a locked wallet keeps no key that could open a record.
 */
class PassphraseKeys {
  private readonly derived = new Map<string, Promise<CryptoKey>>()
  constructor (private readonly passphrase: string) {}

  get (kdf: KdfParams): Promise<CryptoKey> {
    const id = `${kdf.iterations}:${kdf.salt.join(',')}`
    let key = this.derived.get(id)
    if (key === undefined) {
      key = this.derive(kdf)
      this.derived.set(id, key)
    }
    return key
  }

  private async derive (kdf: KdfParams): Promise<CryptoKey> {
    // NFC: the same passphrase typed on macOS (often NFD) and elsewhere must give the same bytes
    const bytes = new TextEncoder().encode(this.passphrase.normalize('NFC'))
    try {
      const material = await crypto.subtle.importKey('raw', bytes, 'PBKDF2', false, ['deriveKey'])
      return await crypto.subtle.deriveKey(
        { name: 'PBKDF2', hash: 'SHA-256', salt: kdf.salt, iterations: kdf.iterations },
        material, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    } finally {
      bytes.fill(0)
    }
  }
}

/**
 * The secret in a record, or null when GCM authentication fails (wrong passphrase or altered bytes).
 * A record that authenticates but holds a key for another address was written wrongly: corrupt.
 */
async function openRecord (keys: PassphraseKeys, { record, addressBytes }: CheckedRecord): Promise<Uint8Array | null> {
  const key = await keys.get(record.kdf)
  let secret: Uint8Array
  try {
    secret = new Uint8Array(await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: record.cipher.iv, additionalData: addressBytes, tagLength: GCM_TAG_BYTES * 8 }, key, record.ciphertext))
  } catch {
    return null
  }
  if (!isValidSecretKey(record.type, secret) || !bytesEqual(keyAddressBytes(record.type, secret), addressBytes)) {
    secret.fill(0)
    throw new WalletCorruptedError(record.address, 'the decrypted key does not belong to this address')
  }
  return secret
}

function forget (keys: Iterable<LotusKey>): void {
  // best effort: JS gives no guarantee that no other copy exists, but this one will not linger
  for (const k of keys) k.secret.fill(0)
}

/** Give up after this many concurrent changes by another tab between reading and writing. */
const MAX_WRITE_ATTEMPTS = 5

class IdbWalletStore implements WalletStore {
  private unlocked: Map<string, LotusKey> | null = null
  // bumped by lock(): an unlock or create that finishes after a lock() must not leave keys in memory
  private epoch = 0
  private writes: Promise<unknown> = Promise.resolve()

  constructor (
    private readonly db: IDBPDatabase<WalletSchema>,
    private readonly iterations: number,
    private readonly nowMs: () => number,
    private readonly randomBytes: (n: number) => Uint8Array
  ) {}

  list = async (): Promise<WalletKey[]> => {
    const rows = (await this.db.getAll(STORE)).map(r => checkRecord(r).record)
    return rows.map(toWalletKey).sort((a, b) => a.createdAt - b.createdAt || (a.address < b.address ? -1 : 1))
  }

  isUnlocked = (): boolean => this.unlocked !== null

  create = async (passphrase: string, type: WalletKeyType = 'secp256k1'): Promise<WalletKey> => {
    checkPassphrase(passphrase)
    if (type !== 'secp256k1' && type !== 'bls') throw new RangeError(`unknown key type ${String(type)} (secp256k1 or bls)`)
    return await this.add(passphrase, { type, secret: randomSecretKey(type, this.randomBytes) })
  }

  importLotus = async (hex: string, passphrase: string): Promise<WalletKey> => {
    checkPassphrase(passphrase)
    return await this.add(passphrase, parseLotusExport(hex))
  }

  unlock = async (passphrase: string): Promise<void> => {
    checkPassphrase(passphrase)
    const epoch = this.epoch
    const records = (await this.db.getAll(STORE)).map(checkRecord)
    const keys = new PassphraseKeys(passphrase)
    const opened = new Map<string, LotusKey>()
    try {
      let failed: string | null = null
      for (const r of records) {
        const secret = await openRecord(keys, r)
        if (secret === null) failed ??= r.record.address
        else opened.set(r.record.address, { type: r.record.type, secret })
      }
      if (failed !== null) {
        if (opened.size === 0) throw new WrongPassphraseError()
        throw new WalletCorruptedError(failed, 'it does not decrypt with the passphrase that opens the other keys (altered or damaged)')
      }
      if (epoch !== this.epoch) throw new WalletLockedError('the wallet was locked while it was being unlocked')
    } catch (err) {
      forget(opened.values())
      throw err
    }
    if (this.unlocked !== null) forget(this.unlocked.values())
    this.unlocked = opened
  }

  lock = (): void => {
    this.epoch++
    if (this.unlocked !== null) forget(this.unlocked.values())
    this.unlocked = null
  }

  exportLotus = async (address: string, passphrase: string): Promise<string> => {
    checkPassphrase(passphrase)
    const { text } = canonicalAddress(address)
    const row = await this.db.get(STORE, text)
    if (row === undefined) throw new UnknownWalletKeyError(text)
    const checked = checkRecord(row)
    const secret = await openRecord(new PassphraseKeys(passphrase), checked)
    if (secret === null) throw new WrongPassphraseError()
    try {
      return formatLotusExport({ type: checked.record.type, secret })
    } finally {
      secret.fill(0)
    }
  }

  sign = (address: string, message: Message): SignedMessage => {
    if (this.unlocked === null) throw new WalletLockedError()
    const { text, bytes } = canonicalAddress(address)
    const key = this.unlocked.get(text)
    // a key another tab added after this unlock is stored but not decrypted here
    if (key === undefined) throw new UnknownWalletKeyError(text, 'is not among the unlocked keys')
    if (!bytesEqual(message.from, bytes)) throw new RangeError(`the message's From is not ${text}`)
    return signMessage(key.secret, message)
  }

  signProposal = (proposal: DealProposal): ClientDealProposal => {
    if (this.unlocked === null) throw new WalletLockedError()
    const text = addressToString(proposal.client, 't')
    const key = this.unlocked.get(text)
    if (key === undefined) throw new UnknownWalletKeyError(text, 'is not among the unlocked keys')
    return signDealProposal(key.secret, proposal)
  }

  signVoucher = (address: string, voucher: SignedVoucher): SignedVoucher => {
    if (this.unlocked === null) throw new WalletLockedError('unlock the wallet first: retrieval is paid with vouchers signed by its key')
    const { text, bytes } = canonicalAddress(address)
    const key = this.unlocked.get(text)
    if (key === undefined) throw new UnknownWalletKeyError(text, 'is not among the unlocked keys')
    return signVoucher(key.secret, bytes, voucher)
  }

  close = (): void => {
    this.lock()
    this.db.close()
  }

  /** Create and import, one at a time per store so two first keys cannot set two passphrases. */
  private async add (passphrase: string, key: LotusKey): Promise<WalletKey> {
    const run = this.writes.then(async () => await this.addNow(passphrase, key))
    this.writes = run.catch(() => {})
    try {
      return await run
    } finally {
      key.secret.fill(0)
    }
  }

  private async addNow (passphrase: string, key: LotusKey): Promise<WalletKey> {
    const epoch = this.epoch
    const addressBytes = new Uint8Array(keyAddressBytes(key.type, key.secret))
    const address = addressToString(addressBytes, 't')
    const keys = new PassphraseKeys(passphrase)
    for (let attempt = 1; ; attempt++) {
      const records = (await this.db.getAll(STORE)).map(checkRecord)
      // the passphrase is right if it opens any record; one damaged ciphertext must not block new keys
      let witness: KeyRecord | null = null
      for (const r of records) {
        const secret = await openRecord(keys, r)
        if (secret === null) continue
        secret.fill(0)
        witness = r.record
        break
      }
      if (records.length > 0 && witness === null) throw new WrongPassphraseError()
      const existing = records.find(r => r.record.address === address)?.record
      const record = existing ?? await this.seal(keys, witness, address, addressBytes, key)
      if (existing !== undefined || await this.writeIfUnchanged(record, witness?.address ?? null)) {
        if (this.unlocked !== null && epoch === this.epoch && !this.unlocked.has(address)) {
          this.unlocked.set(address, { type: key.type, secret: key.secret.slice() })
        }
        return toWalletKey(record)
      }
      if (attempt >= MAX_WRITE_ATTEMPTS) throw new Error('the wallet kept changing in another tab while this key was being saved; try again')
    }
  }

  private async seal (keys: PassphraseKeys, witness: KeyRecord | null, address: string, addressBytes: Bytes, key: LotusKey): Promise<KeyRecord> {
    const kdf: KdfParams = witness !== null && witness.kdf.iterations === this.iterations
      ? witness.kdf
      : { name: 'PBKDF2', hash: 'SHA-256', iterations: this.iterations, salt: this.random(SALT_BYTES) }
    // a fresh 96-bit IV per record: a wallet holds a handful of keys, far below GCM's 2^32 random-IV bound
    const iv = this.random(IV_BYTES)
    const plaintext = new Uint8Array(key.secret)
    try {
      const ciphertext = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: addressBytes, tagLength: GCM_TAG_BYTES * 8 }, await keys.get(kdf), plaintext))
      return { address, type: key.type, createdAt: this.nowMs(), kdf, cipher: { name: 'AES-GCM', iv }, ciphertext }
    } finally {
      plaintext.fill(0)
    }
  }

  /**
   * Writes the record in one transaction, but only if the wallet still holds the record that proved the
   * passphrase (or is still empty) and not this address: another tab may have written in between, and
   * the crypto above cannot run inside an IndexedDB transaction (it would auto-commit while awaiting).
   */
  private async writeIfUnchanged (record: KeyRecord, witness: string | null): Promise<boolean> {
    const tx = this.db.transaction(STORE, 'readwrite')
    const done = tx.done
    done.catch(() => {}) // awaited below on the success path; an abort we chose is not an error
    try {
      const unchanged = witness === null ? (await tx.store.count()) === 0 : (await tx.store.getKey(witness)) !== undefined
      if (!unchanged || (await tx.store.getKey(record.address)) !== undefined) {
        tx.abort()
        return false
      }
      await tx.store.add(record)
      await done
      return true
    } catch (err) {
      if (isQuotaError(err)) throw new QuotaExceededError(err)
      throw err
    }
  }

  private random (n: number): Bytes {
    const bytes = new Uint8Array(this.randomBytes(n))
    if (bytes.length !== n) throw new RangeError(`randomBytes returned ${bytes.length} bytes, expected ${n}`)
    return bytes
  }
}

export async function openWalletStore (init: WalletStoreInit = {}): Promise<WalletStore> {
  const iterations = init.iterations ?? DEFAULT_PBKDF2_ITERATIONS
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError(`iterations must be an integer in 1..${MAX_PBKDF2_ITERATIONS}`)
  }
  const db = await openDB<WalletSchema>(init.dbName ?? DEFAULT_WALLET_DB, WALLET_DB_VERSION, {
    upgrade (db, oldVersion) {
      if (oldVersion < 1) db.createObjectStore(STORE, { keyPath: 'address' })
    }
  })
  return new IdbWalletStore(
    db,
    iterations,
    init.nowMs ?? (() => Date.now()),
    init.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n)))
  )
}
