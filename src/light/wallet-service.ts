// The wallet as the page sees it: keys (held by the encrypted keystore, never sent to the page), balances
// shown only after the state proof checks against a verified header, sends signed here and gossiped to the
// network, and each sent message followed from pending to its verified receipt.
import {
  parseAddress, addressToString, parseFil, formatFil, signedMessageCid, encodeSignedMessage, messagesTopic,
  InsufficientFundsError, gasLimitFor, TRANSFER_GAS_LIMIT, TRANSFER_GAS_PREMIUM, TRANSFER_GAS_FEE_CAP, METHOD_SEND, toWireError,
  type Message, type WireError, type CID
} from '../core'
import { CID as CidClass } from 'multiformats/cid'
import type { LightClient } from './light-client'
import { WalletLockedError, type WalletStore } from './wallet-store'
import { openHistoryStore } from './history-store'

export type KeyType = 'secp256k1' | 'bls'

export type BalanceView =
  | { address: string, verified: true, exists: boolean, attoFil: string, fil: string, nonce: number, height: number, headerCid: string, proofBytes: number, checkMs: number }
  | { address: string, verified: false, error: WireError }

export interface HistoryEntry {
  cid: string
  kind: 'send' | 'faucet'
  from: string
  to: string
  attoFil: string
  nonce: number | null
  sentAtMs: number
  /**
   * dropped: no receipt yet although the sender's verified nonce has moved past it (replaced, or lost by a
   * pool), or a faucet payment overdue by chain time. Not final: a receipt found later makes it included.
   */
  state: 'pending' | 'included' | 'failed' | 'dropped'
  /** The signed message (sends only), kept so a pending one can be gossiped again after a node restart. */
  signed?: Uint8Array
  /** An actor call's name (AddBalance …); absent for a plain transfer. */
  method?: string
  gasLimit?: number
  exitCode?: number
  gasUsed?: number
  includedHeight?: number
  executedHeight?: number
}

export interface WalletView {
  keys: Array<{ address: string, type: KeyType }>
  unlocked: boolean
  balances: BalanceView[]
  history: HistoryEntry[]
  faucet: boolean
  /** Why the wallet could not open (the rest of the light client keeps running). */
  error?: WireError
}

export type WalletCall =
  | { method: 'create', passphrase: string, keyType?: KeyType }
  | { method: 'import', hex: string, passphrase: string }
  | { method: 'unlock', passphrase: string }
  | { method: 'lock' }
  | { method: 'export', address: string, passphrase: string }
  | { method: 'watch', address: string }
  | { method: 'faucet', address: string }
  | { method: 'send', from: string, to: string, amount: string }

export class FaucetUnavailableError extends Error {
  static override name = 'FaucetUnavailableError'
  override name = 'FaucetUnavailableError'
}

/** Gas a send offers: the same as every Coffer sender (core's TRANSFER_GAS_*). */
export const SEND_GAS_LIMIT = TRANSFER_GAS_LIMIT
export const SEND_GAS_PREMIUM = TRANSFER_GAS_PREMIUM
export const SEND_GAS_FEE_CAP = TRANSFER_GAS_FEE_CAP
/** A faucet payment not executed this long after it was asked for, by verified chain time, shows as dropped. */
export const FAUCET_TIMEOUT_EPOCHS = 20
const REPUBLISH_EVERY_HEADS = 10
/** Dropped entries are looked up again this often, in case they landed after all. */
const RECHECK_DROPPED_EVERY_HEADS = 10

export interface WalletServiceInit {
  client: LightClient
  keystore: WalletStore
  rpcUrl?: string
  onChange: (view: WalletView) => void
  nowMs?: () => number
}

export interface WalletService {
  view: () => WalletView
  call: (c: WalletCall) => Promise<unknown>
  /** Queues, signs and gossips a message from one of the wallet's keys; its CID. */
  message: (c: OutgoingMessage) => Promise<string>
}

export interface OutgoingMessage { from: string, to: string, value: bigint, method: number, params: Uint8Array, /** what history calls it */ label?: string }

/** Stands in for a wallet whose keystore would not open: says why, refuses every call with that reason. */
export function unavailableWallet (err: unknown): WalletService {
  const error = toWireError(err)
  return {
    view: () => ({ keys: [], unlocked: false, balances: [], history: [], faucet: false, error }),
    call: async () => { throw err },
    message: async () => { throw err }
  }
}

export async function createWalletService (init: WalletServiceInit): Promise<WalletService> {
  const nowMs = init.nowMs ?? (() => Date.now())
  const { client, keystore } = init
  const network = client.genesis.state.network
  let keys = (await keystore.list()).map(k => ({ address: k.address, type: k.type }))
  const saved = await openHistoryStore(client.genesis.header.cid.toString())
  const watched = new Set<string>(await saved.watched())
  const balances = new Map<string, BalanceView>()
  const history: HistoryEntry[] = await saved.entries()
  /** Records an entry's new state; a storage failure must not stop the wallet, only its memory of it. */
  const remember = (entry: HistoryEntry): void => { saved.put(entry).catch(() => {}) }
  const watch = (address: string): void => { watched.add(address); saved.watch(address).catch(() => {}) }

  const view = (): WalletView => ({
    keys,
    unlocked: keystore.isUnlocked(),
    balances: [...new Set([...keys.map(k => k.address), ...watched])].map(a => balances.get(a)).filter((b): b is BalanceView => b !== undefined),
    history: [...history].reverse().map(({ signed, ...e }) => e),
    faucet: init.rpcUrl !== undefined
  })
  let changeTimer: ReturnType<typeof setTimeout> | undefined
  const changed = (): void => {
    if (changeTimer !== undefined) return
    changeTimer = setTimeout(() => { changeTimer = undefined; init.onChange(view()) }, 30)
  }

  const verifyBalance = async (address: string): Promise<BalanceView> => {
    try {
      const v = await client.state.actor(parseAddress(address).bytes)
      const atto = v.actor?.balance ?? 0n
      return {
        address, verified: true, exists: v.actor !== null, attoFil: atto.toString(), fil: formatFil(atto), nonce: v.actor?.nonce ?? 0,
        height: v.header.header.height, headerCid: v.header.cid.toString(), proofBytes: v.proofBytes, checkMs: v.checkMs
      }
    } catch (err) {
      return { address, verified: false, error: toWireError(err) }
    }
  }

  /** Sends that may still land and so hold their nonce: pending, at or above the sender's verified nonce. */
  const live = (from: string, verifiedNonce?: number): HistoryEntry[] => {
    const b = balances.get(from)
    const next = verifiedNonce ?? (b?.verified === true ? b.nonce : 0)
    return history.filter(e => e.kind === 'send' && e.state === 'pending' && e.from === from && e.nonce !== null && e.nonce >= next)
  }
  /** Only once verified state shows the nonce used (sends) or verified chain time is well past (faucet). */
  const isDropped = (e: HistoryEntry): boolean => {
    if (e.kind === 'faucet') {
      const chainMs = client.sync.head.header.timestamp * 1000
      return chainMs - e.sentAtMs > FAUCET_TIMEOUT_EPOCHS * client.genesis.state.blockDelaySecs * 1000
    }
    const b = balances.get(e.from)
    return b?.verified === true && e.nonce !== null && b.nonce > e.nonce
  }
  /** A node that restarted forgot its pool: pending sends are offered again (same bytes, same CID). */
  const republish = (): void => {
    for (const e of history) {
      if (e.kind === 'send' && live(e.from).includes(e) && e.signed !== undefined) {
        void client.gossip.publish(messagesTopic(network), e.signed).catch(() => {})
      }
    }
  }

  let verifiedHeads = 0
  let refreshing = false
  let again = false
  const refresh = async (): Promise<void> => {
    if (refreshing) { again = true; return }
    refreshing = true
    try {
      do {
        again = false
        for (const address of new Set([...keys.map(k => k.address), ...watched])) balances.set(address, await verifyBalance(address))
        verifiedHeads++
        const recheck = verifiedHeads % RECHECK_DROPPED_EVERY_HEADS === 0
        for (const entry of history.filter(e => e.state === 'pending' || (recheck && e.state === 'dropped'))) {
          try {
            const found = await client.state.receipt(CidClass.parse(entry.cid))
            if (found === null) {
              if (entry.state === 'pending' && isDropped(entry)) { entry.state = 'dropped'; remember(entry) }
              continue
            }
            Object.assign(entry, {
              state: found.receipt.exitCode === 0 ? 'included' : 'failed',
              exitCode: found.receipt.exitCode,
              gasUsed: found.receipt.gasUsed,
              includedHeight: found.included.header.height,
              executedHeight: found.executed.header.height
            })
            remember(entry)
          } catch { /* not yet, or the peer lied (already reported): ask again next head */ }
        }
        if (verifiedHeads % REPUBLISH_EVERY_HEADS === 0) republish()
        changed()
      } while (again)
    } finally {
      refreshing = false
    }
  }
  client.onVerified(() => { void refresh() })

  const pendingCost = (from: string, verifiedNonce: number): bigint => live(from, verifiedNonce)
    .reduce((sum, e) => sum + BigInt(e.attoFil) + BigInt(e.gasLimit ?? SEND_GAS_LIMIT) * SEND_GAS_FEE_CAP, 0n)

  const publish = async (bytes: Uint8Array): Promise<void> => {
    const topic = messagesTopic(network)
    let lastErr: unknown
    // right after connecting, the node's subscription may not have reached us yet: retry briefly
    for (let i = 0; i < 20; i++) {
      try {
        if (await client.gossip.publish(topic, bytes) > 0) return
        lastErr = new Error('no peer takes messages yet')
      } catch (err) { lastErr = err }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    throw lastErr
  }

  const send = async (fromText: string, toText: string, amountText: string): Promise<string> => {
    const value = parseFil(amountText)
    if (value <= 0n) throw new RangeError('amount must be more than 0')
    return await sendMessage({ from: fromText, to: toText, value, method: METHOD_SEND, params: new Uint8Array(0) })
  }

  /** Signs and gossips any message from one of our keys (a transfer, or an actor call such as AddBalance). */
  const sendMessage = async (c: OutgoingMessage): Promise<string> => {
    if (!keystore.isUnlocked()) throw new WalletLockedError()
    const from = parseAddress(c.from, 't')
    const to = parseAddress(c.to, 't')
    if (c.value < 0n) throw new RangeError('a message cannot carry a negative value')
    const sender = await verifyBalance(c.from)
    if (!sender.verified) throw new Error(`cannot verify the sender's balance: ${sender.error.message}`)
    // after our own pending sends, never before the verified nonce: a lost or replaced one leaves no gap
    const mine = live(c.from, sender.nonce)
    const nonce = mine.length === 0 ? sender.nonce : Math.max(sender.nonce, ...mine.map(e => e.nonce! + 1))
    const unsigned: Message = {
      version: 0, to: to.bytes, from: from.bytes, nonce, value: c.value, gasLimit: 0, gasFeeCap: SEND_GAS_FEE_CAP,
      gasPremium: SEND_GAS_PREMIUM, method: c.method, params: c.params
    }
    const message = { ...unsigned, gasLimit: gasLimitFor(unsigned) }
    const needed = c.value + BigInt(message.gasLimit) * SEND_GAS_FEE_CAP + pendingCost(c.from, sender.nonce)
    if (needed > BigInt(sender.attoFil)) throw new InsufficientFundsError(needed, BigInt(sender.attoFil))
    const signed = keystore.sign(c.from, message)
    const cid = signedMessageCid(signed)
    const bytes = encodeSignedMessage(signed)
    await publish(bytes)
    const entry: HistoryEntry = {
      cid: cid.toString(), kind: 'send', from: c.from, to: addressToString(to.bytes, 't'), attoFil: c.value.toString(), nonce, sentAtMs: nowMs(), state: 'pending', signed: bytes, gasLimit: message.gasLimit,
      ...(c.method === METHOD_SEND ? {} : { method: c.label ?? `method ${c.method}` })
    }
    history.push(entry)
    remember(entry)
    if (c.method === METHOD_SEND) watch(addressToString(to.bytes, 't'))
    changed()
    return cid.toString()
  }

  const faucet = async (address: string): Promise<string> => {
    if (init.rpcUrl === undefined) throw new FaucetUnavailableError('this network has no faucet')
    parseAddress(address, 't')
    const res = await fetch(init.rpcUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Coffer.Faucet', params: [address] }),
      signal: AbortSignal.timeout(10_000)
    })
    const body = await res.json() as { result?: { '/': string }, error?: { message: string } }
    if (body.error !== undefined || body.result === undefined) throw new FaucetUnavailableError(body.error?.message ?? `faucet answered HTTP ${res.status}`)
    const cid: CID = CidClass.parse(body.result['/'])
    const entry: HistoryEntry = { cid: cid.toString(), kind: 'faucet', from: 'faucet', to: address, attoFil: '0', nonce: null, sentAtMs: nowMs(), state: 'pending' }
    history.push(entry)
    remember(entry)
    changed()
    return cid.toString()
  }

  const keyAdded = async (): Promise<void> => {
    keys = (await keystore.list()).map(k => ({ address: k.address, type: k.type }))
    void refresh()
  }

  let sendQueue: Promise<unknown> = Promise.resolve()
  /** One send at a time: a nonce is only taken once the previous send is in the history. */
  const queued = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = sendQueue.then(fn)
    sendQueue = run.catch(() => {})
    return await run
  }
  void refresh()
  return {
    view,
    message: async (c) => await queued(async () => await sendMessage(c)),
    call: async (c) => {
      switch (c.method) {
        // whoever just typed the passphrase to add a key means to use it: the wallet is left unlocked
        case 'create': { const k = await keystore.create(c.passphrase, c.keyType); await keystore.unlock(c.passphrase); await keyAdded(); return k.address }
        case 'import': { const k = await keystore.importLotus(c.hex, c.passphrase); await keystore.unlock(c.passphrase); await keyAdded(); return k.address }
        case 'unlock': await keystore.unlock(c.passphrase); changed(); return null
        case 'lock': keystore.lock(); changed(); return null
        case 'export': return await keystore.exportLotus(c.address, c.passphrase)
        case 'watch': watch(addressToString(parseAddress(c.address, 't').bytes, 't')); void refresh(); return null
        case 'faucet': return await faucet(c.address)
        case 'send': return await queued(async () => await send(c.from, c.to, c.amount))
      }
    }
  }
}
