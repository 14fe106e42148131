// The Lotus-compatible JSON-RPC server against a small real chain built here from core objects (genesis,
// signed headers, a message pool, message application): HTTP and WebSocket, every error code, Lotus's
// JSON shapes, and iso-filecoin's RPC client pushing a message that lands on the chain.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import http from 'node:http'
import * as dagCbor from '@ipld/dag-cbor'
import { base64pad } from 'multiformats/bases/base64'
import { RPC } from 'iso-filecoin/rpc'
import { Message as IsoMessage } from 'iso-filecoin/message'
import * as IsoWallet from 'iso-filecoin/wallet'
import { lotusCid } from 'iso-filecoin/utils'
import {
  CID, type BlockGetter, createGenesis, executionContext, produceHeader, sealHeader, applyBlockMessages, storeBlockMessages, getActor, proveActor,
  verifyActorProof, signMessage, signedMessageCid, messageCid, validateMessageFields, verifyMessageSignature,
  secpPublicKey, secpAddressBytes, blsPublicKey, idAddressBytes, addressToString, bytesEqual, ATTO_PER_FIL,
  ACCOUNT_ACTOR_CODE, BASE_FEE, TRANSFER_GAS, METHOD_SEND, NonceError, InsufficientFundsError,
  type Genesis, type SealedHeader, type BeaconEntry, type TipSet, makeTipSet, type SignedMessage, type Message, type Actor, type MemoryBlockStore,
  verifyBeaconEntry
} from '../../src/core'
import { FaucetLimitError } from '../../src/node/faucet'
import {
  startRpcServer, headerFromLotus, FULL_API_VERSION_V0, FULL_API_VERSION_V1,
  type RpcServer, type RpcBackend, type MsgLookup, type StateProofResult
} from '../../src/node/rpc'
import { HeadEvents } from '../../src/node/head-events'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const NETWORK = 'coffer-rpc-test'
const GENESIS_TIME = 1_700_000_000
const producerSecret = new Uint8Array(32).fill(7)
const userKey = new Uint8Array(32).fill(0x11)
const faucetKey = new Uint8Array(32).fill(0x22)
const strangerKey = new Uint8Array(32).fill(0x33)
const userAddress = secpAddressBytes(secpPublicKey(userKey))
const faucetAddress = secpAddressBytes(secpPublicKey(faucetKey))
const strangerAddress = secpAddressBytes(secpPublicKey(strangerKey))
const t = (bytes: Uint8Array): string => addressToString(bytes, 't')

/**
 * A chain as Coffer runs one: a block carries messages, and the next block's ParentStateRoot and
 * ParentMessageReceipts are the result of executing them. `produce()` makes the next block.
 */
class TestChain implements RpcBackend {
  readonly genesis: Genesis
  readonly store: MemoryBlockStore
  readonly waitSignals: AbortSignal[] = []
  private readonly chain: SealedHeader[] = []
  private readonly byCid = new Map<string, SealedHeader>()
  /** Messages in the head block: executed when the next block is produced. */
  private included: SignedMessage[] = []
  private pool: SignedMessage[] = []
  private readonly messages = new Map<string, Message>()
  private readonly lookups = new Map<string, MsgLookup>()
  private readonly heads = new HeadEvents()
  private readonly faucetPaid = new Set<string>()

  constructor () {
    this.genesis = createGenesis(
      { beacon: TEST_BEACON, network: NETWORK, producer: idAddressBytes(1000), producerKey: blsPublicKey(producerSecret), blockDelaySecs: 1 },
      GENESIS_TIME,
      [{ address: userAddress, balance: 100n * ATTO_PER_FIL }, { address: faucetAddress, balance: 1000n * ATTO_PER_FIL }]
    )
    this.store = this.genesis.store!
    this.append(this.genesis.header)
  }

  private append (h: SealedHeader): void {
    this.chain.push(h)
    this.byCid.set(h.cid.toString(), h)
  }

  produce (): SealedHeader {
    const head = this.head()
    const executed = applyBlockMessages(
      executionContext(this.store, this.genesis.state, head.header, () => undefined),
      head.header.parentStateRoot, { bls: [], secp: this.included }, null)
    const next = produceHeader(head, this.genesis, producerSecret, head.header.timestamp + 1, testBeaconEntries(head, this.genesis), {
      parentStateRoot: executed.root,
      parentMessageReceipts: executed.receiptsRoot,
      messages: storeBlockMessages(this.store, { bls: [], secp: this.pool }),
      blsAggregate: null
    })
    this.included.forEach((sm, i) => {
      const cid = signedMessageCid(sm)
      this.lookups.set(cid.toString(), { message: cid, receipt: executed.receipts[i]!, executedIn: next })
    })
    this.included = this.pool
    this.pool = []
    this.append(next)
    this.heads.moved()
    return next
  }

  networkName (): string { return NETWORK }
  blockDelaySecs (): number { return 1 }
  head (): SealedHeader { return this.chain[this.chain.length - 1]! }
  async headerAt (height: number): Promise<SealedHeader | undefined> { return this.chain[height] }
  // a single producer's chain: a block at every height, the epoch's round last
  headTipSet (): TipSet { return makeTipSet([this.head()]) }
  async tipSetAt (height: number): Promise<TipSet | undefined> { const h = this.chain[height]; return h === undefined ? undefined : makeTipSet([h]) }
  async headerAtOrBelow (height: number): Promise<SealedHeader | undefined> { return this.chain[Math.min(height, this.chain.length - 1)] }
  async beaconEntryAt (epoch: number): Promise<BeaconEntry | undefined> { return this.chain[epoch]?.header.beaconEntries.at(-1) }
  async headerByCid (cid: CID): Promise<SealedHeader | undefined> { return this.byCid.get(cid.toString()) }
  async getMessage (cid: CID): Promise<Message | undefined> { return this.messages.get(cid.toString()) }
  async getActor (address: Uint8Array, at?: SealedHeader): Promise<Actor | null> {
    return getActor(this.store, (at ?? this.head()).header.parentStateRoot, address)
  }

  async mpoolNonce (address: Uint8Array): Promise<number> {
    const pending = [...this.included, ...this.pool].filter(sm => bytesEqual(sm.message.from, address)).length
    return ((await this.getActor(address))?.nonce ?? 0) + pending
  }

  async mpoolPush (sm: SignedMessage): Promise<CID> {
    const m = sm.message
    validateMessageFields(m)
    verifyMessageSignature(sm)
    const expected = await this.mpoolNonce(m.from)
    if (m.nonce !== expected) throw new NonceError(expected, m.nonce)
    const balance = (await this.getActor(m.from))?.balance ?? 0n
    const needed = m.value + BigInt(m.gasLimit) * m.gasFeeCap
    if (needed > balance) throw new InsufficientFundsError(needed, balance)
    const cid = signedMessageCid(sm)
    this.messages.set(cid.toString(), m)
    this.messages.set(messageCid(m).toString(), m)
    this.pool.push(sm)
    return cid
  }

  async searchMessage (cid: CID): Promise<MsgLookup | null> { return this.lookups.get(cid.toString()) ?? null }

  async waitMessage (cid: CID, signal: AbortSignal): Promise<MsgLookup> {
    this.waitSignals.push(signal)
    for (;;) {
      signal.throwIfAborted()
      const found = this.lookups.get(cid.toString())
      if (found !== undefined) return found
      await this.heads.next(signal)
    }
  }

  async nextHead (signal: AbortSignal): Promise<void> { await this.heads.next(signal) }

  async stateProof (address: Uint8Array, at?: SealedHeader): Promise<StateProofResult> {
    const header = at ?? this.head()
    const root = header.header.parentStateRoot
    return { header, actor: getActor(this.store, root, address), proof: proveActor(this.store, root, address) }
  }

  readState<T> (read: (store: BlockGetter, root: CID) => T, at?: SealedHeader): T {
    return read(this.store, (at ?? this.head()).header.parentStateRoot)
  }

  async faucet (address: Uint8Array): Promise<CID> {
    if (this.faucetPaid.has(t(address))) throw new FaucetLimitError(60_000)
    this.faucetPaid.add(t(address))
    return await this.mpoolPush(signMessage(faucetKey, transfer(faucetAddress, address, 10n * ATTO_PER_FIL, await this.mpoolNonce(faucetAddress))))
  }
}

function transfer (from: Uint8Array, to: Uint8Array, value: bigint, nonce: number): Message {
  return {
    version: 0, to, from, nonce, value, gasLimit: Math.trunc(TRANSFER_GAS * 1.25), gasFeeCap: BASE_FEE * 2n + 100_000n,
    gasPremium: 100_000n, method: METHOD_SEND, params: new Uint8Array(0)
  }
}

interface RpcReply { jsonrpc: string, id: unknown, result?: any, error?: { code: number, message: string, data?: any } }

let chain: TestChain
let server: RpcServer
const logs: string[] = []

beforeAll(async () => {
  chain = new TestChain()
  chain.produce()
  chain.produce()
  server = await startRpcServer({ backend: chain, port: 0, log: line => logs.push(line) })
})
afterAll(async () => { await server.close() })

const v0 = (): string => server.url.replace('/rpc/v1', '/rpc/v0')

async function post (body: unknown, url = server.url, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

async function call (method: string, params?: unknown[], url = server.url): Promise<RpcReply> {
  const res = await post({ jsonrpc: '2.0', id: 1, method, ...(params === undefined ? {} : { params }) }, url)
  expect(res.status).toBe(200)
  return await res.json() as RpcReply
}

async function result (method: string, params?: unknown[], url = server.url): Promise<any> {
  const reply = await call(method, params, url)
  expect(reply.error).toBeUndefined()
  return reply.result
}

async function failure (method: string, params?: unknown[]): Promise<{ code: number, message: string, data?: any }> {
  const reply = await call(method, params)
  expect(reply.result).toBeUndefined()
  expect(reply.error).toBeDefined()
  return reply.error!
}

const LOTUS_HEADER_FIELDS = ['Miner', 'Ticket', 'ElectionProof', 'BeaconEntries', 'WinPoStProof', 'Parents', 'ParentWeight', 'Height',
  'ParentStateRoot', 'ParentMessageReceipts', 'Messages', 'BLSAggregate', 'Timestamp', 'BlockSig', 'ForkSignaling', 'ParentBaseFee']
const LOTUS_MESSAGE_FIELDS = ['Version', 'To', 'From', 'Nonce', 'Value', 'GasLimit', 'GasFeeCap', 'GasPremium', 'Method', 'Params', 'CID']

const cidJson = (cid: CID): { '/': string } => ({ '/': cid.toString() })

function wsClient (url: string): Promise<{ send: (req: unknown) => void, reply: (id: unknown) => Promise<RpcReply>, answered: (id: unknown) => boolean, close: () => void }> {
  const ws = new WebSocket(url)
  const replies = new Map<unknown, RpcReply>()
  const waiting = new Map<unknown, (r: RpcReply) => void>()
  ws.onmessage = (ev) => {
    const r = JSON.parse(String(ev.data)) as RpcReply
    const wake = waiting.get(r.id)
    if (wake !== undefined) { waiting.delete(r.id); wake(r) } else replies.set(r.id, r)
  }
  return new Promise((resolve, reject) => {
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`))
    ws.onopen = () => resolve({
      send: (req) => ws.send(JSON.stringify(req)),
      reply: async (id) => {
        const r = replies.get(id)
        if (r !== undefined) { replies.delete(id); return r }
        return await new Promise(resolve => waiting.set(id, resolve))
      },
      answered: (id) => replies.has(id),
      close: () => ws.close()
    })
  })
}

describe('Lotus JSON-RPC server', () => {
  it('answers StateGetBeaconEntry with the epoch\'s round from the chain, and waits for an epoch still to come', async () => {
    const head = chain.head()
    const now = await result('Filecoin.StateGetBeaconEntry', [head.header.height])
    expect(Object.keys(now)).toEqual(['Round', 'Data'])
    expect(now.Round).toBe(head.header.beaconEntries.at(-1)!.round)
    expect(() => verifyBeaconEntry(TEST_BEACON.publicKey, { round: now.Round, data: base64pad.baseDecode(now.Data) })).not.toThrow()
    const later = result('Filecoin.StateGetBeaconEntry', [head.header.height + 1])
    await new Promise(resolve => setTimeout(resolve, 50))
    const next = chain.produce()
    expect((await later).Round).toBe(next.header.beaconEntries.at(-1)!.round)
    expect((await result('Filecoin.StateGetBeaconEntry', [0])).Round).toBe(0) // the genesis entry
  })

  it('answers Version, StateNetworkName and ChainHead as Lotus shapes them, on v1 and v0', async () => {
    const version = await result('Filecoin.Version')
    expect(Object.keys(version)).toEqual(['Version', 'APIVersion', 'BlockDelay'])
    expect(version.Version).toBe(`coffer/0.1.0+${NETWORK}`)
    expect(version.APIVersion).toBe(FULL_API_VERSION_V1)
    expect(FULL_API_VERSION_V1).toBe(131840) // Lotus 2.3.0
    expect(version.BlockDelay).toBe(1)
    expect((await result('Filecoin.Version', [], v0())).APIVersion).toBe(FULL_API_VERSION_V0)
    expect(await result('Filecoin.StateNetworkName')).toBe(NETWORK)

    const head = chain.head()
    const ts = await result('Filecoin.ChainHead')
    expect(Object.keys(ts)).toEqual(['Cids', 'Blocks', 'Height'])
    expect(ts.Cids).toEqual([cidJson(head.cid)])
    expect(ts.Height).toBe(head.header.height)
    const block = ts.Blocks[0]
    expect(Object.keys(block)).toEqual(LOTUS_HEADER_FIELDS)
    expect(block).toMatchObject({
      Miner: 't01000',
      Ticket: null,
      ElectionProof: null,
      BeaconEntries: head.header.beaconEntries.map(e => ({ Round: e.round, Data: base64pad.baseEncode(e.data) })),
      WinPoStProof: null,
      Parents: [cidJson(head.header.parents[0]!)],
      ParentWeight: String(head.header.height),
      Height: head.header.height,
      ParentStateRoot: cidJson(head.header.parentStateRoot),
      Timestamp: head.header.timestamp,
      BLSAggregate: null,
      ForkSignaling: 0,
      ParentBaseFee: '100'
    })
    expect(block.BlockSig.Type).toBe(2)
    expect(block.BlockSig.Data).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(base64pad.baseDecode(block.BlockSig.Data)).toHaveLength(96)
    // the JSON carries every field: re-encoding it gives back the block's CID
    expect(sealHeader(headerFromLotus(block)).cid.equals(head.cid)).toBe(true)

    const genesis = (await result('Filecoin.ChainGetTipSetByHeight', [0, null])).Blocks[0]
    expect(genesis).toMatchObject({ Miner: 't00', Parents: null, BlockSig: null, Height: 0, ParentWeight: '0' })
    expect(sealHeader(headerFromLotus(genesis)).cid.equals(chain.genesis.header.cid)).toBe(true)
  })

  it('resolves tipset keys of one CID; refuses keys of several and reports unknown blocks', async () => {
    const head = chain.head()
    const one = await chain.headerAt(1)
    expect((await result('Filecoin.ChainGetTipSetByHeight', [1, null])).Cids).toEqual([cidJson(one!.cid)])
    expect((await result('Filecoin.ChainGetTipSetByHeight', [1, [cidJson(head.cid)]])).Height).toBe(1)
    expect((await result('Filecoin.ChainGetTipSet', [[cidJson(one!.cid)]])).Height).toBe(1)
    expect((await result('Filecoin.ChainGetTipSet', [[]])).Height).toBe(head.header.height) // EmptyTSK is the head
    expect(await result('Filecoin.ChainGetBlock', [cidJson(one!.cid)])).toEqual((await result('Filecoin.ChainGetTipSet', [[cidJson(one!.cid)]])).Blocks[0])

    const above = await failure('Filecoin.ChainGetTipSetByHeight', [head.header.height + 5, null])
    expect(above.code).toBe(1)
    expect(above.data).toMatchObject({ name: 'TipSetHeightError', code: 'HEIGHT' })

    const two = await failure('Filecoin.ChainGetTipSet', [[cidJson(head.cid), cidJson(one!.cid)]])
    expect(two.code).toBe(-32602)
    expect(two.data).toMatchObject({ name: 'InvalidLotusJsonError', code: 'TIPSET_KEY' })
    expect(two.message).toMatch(/make no tipset: tipset blocks differ in height/)

    const unknown = await failure('Filecoin.ChainGetBlock', [cidJson(chain.genesis.stateCid)])
    expect(unknown).toMatchObject({ code: 1, data: { name: 'BlockNotFoundError', code: 'NOT_FOUND' } })
    expect(unknown.message).toContain(chain.genesis.stateCid.toString())

    const notCid = await failure('Filecoin.ChainGetBlock', [{ '/': 'bafynotacid' }])
    expect(notCid).toMatchObject({ code: -32602, data: { name: 'InvalidLotusJsonError', code: 'CID' } })
    expect((await failure('Filecoin.ChainGetBlock', [head.cid.toString()])).data.code).toBe('TYPE')
  })

  it('answers actor, balance, nonce and account-key queries', async () => {
    const actor = await result('Filecoin.StateGetActor', [t(userAddress), null])
    expect(Object.keys(actor)).toEqual(['Code', 'Head', 'Nonce', 'Balance', 'DelegatedAddress'])
    expect(actor).toMatchObject({ Code: cidJson(ACCOUNT_ACTOR_CODE), Nonce: 0, Balance: (100n * ATTO_PER_FIL).toString(), DelegatedAddress: null })
    expect(await result('Filecoin.WalletBalance', [t(userAddress)])).toBe('100000000000000000000')
    expect(await result('Filecoin.WalletBalance', [t(strangerAddress)])).toBe('0')
    expect(await result('Filecoin.MpoolGetNonce', [t(userAddress)])).toBe(0)

    const missing = await failure('Filecoin.StateGetActor', [t(strangerAddress), null])
    expect(missing).toMatchObject({ code: 1, data: { name: 'ActorNotFoundError', code: 'NOT_FOUND', address: t(strangerAddress) } })

    expect(await result('Filecoin.StateAccountKey', [t(userAddress), null])).toBe(t(userAddress))
    expect((await failure('Filecoin.StateAccountKey', ['t099', null])).data).toMatchObject({ name: 'NotAnAccountError' })
    expect((await failure('Filecoin.StateAccountKey', ['t0123456', null])).data).toMatchObject({ name: 'ActorNotFoundError' })
  })

  it('refuses bad addresses, numbers, amounts, bytes and signatures as invalid params, naming the error', async () => {
    const mainnet = 'f' + t(userAddress).slice(1)
    expect(await failure('Filecoin.WalletBalance', [mainnet])).toMatchObject({ code: -32602, data: { name: 'InvalidAddressError', code: 'NETWORK' } })
    const text = t(userAddress)
    const badChecksum = text.slice(0, -1) + (text.endsWith('a') ? 'b' : 'a')
    expect(await failure('Filecoin.MpoolGetNonce', [badChecksum])).toMatchObject({ code: -32602, data: { name: 'InvalidAddressError', code: 'CHECKSUM' } })
    expect((await failure('Filecoin.WalletBalance', [42])).data).toMatchObject({ name: 'InvalidLotusJsonError', code: 'TYPE' })

    for (const height of ['1', -1, 1.5, 2 ** 53]) {
      expect((await failure('Filecoin.ChainGetTipSetByHeight', [height, null])).data).toMatchObject({ code: 'NUMBER' })
    }

    const msg = { Version: 0, To: t(strangerAddress), From: t(userAddress), Nonce: 0, Value: '1', GasLimit: 0, GasFeeCap: '0', GasPremium: '0', Method: 0, Params: '' }
    const estimate = async (m: Record<string, unknown>): Promise<any> => (await failure('Filecoin.GasEstimateMessageGas', [{ ...msg, ...m }, null, null]))
    expect((await estimate({ Value: '1.5' })).data).toMatchObject({ code: 'BIGINT', field: 'Message.Value' })
    expect((await estimate({ Value: 5 })).data).toMatchObject({ code: 'BIGINT' })
    expect((await estimate({ Value: '-1' })).data).toMatchObject({ code: 'AMOUNT' })
    const aboveSupply = await estimate({ GasFeeCap: (2_000_000_000n * ATTO_PER_FIL + 1n).toString() })
    expect(aboveSupply.data).toMatchObject({ name: 'InvalidLotusJsonError', code: 'AMOUNT', field: 'Message.GasFeeCap' })
    expect(aboveSupply.message).toMatch(/total supply/)
    expect((await estimate({ Params: 'not base64!' })).data).toMatchObject({ code: 'BYTES' })
    expect((await estimate({ Params: 'AQID' + 'BA' })).data).toMatchObject({ code: 'BYTES' }) // unpadded
    expect((await estimate({ Version: 1 })).data).toMatchObject({ code: 'VERSION' })
    expect((await estimate({ To: undefined })).data).toMatchObject({ code: 'MISSING', field: 'Message.To' })
    expect((await estimate({ CID: cidJson(chain.genesis.stateCid) })).data).toMatchObject({ code: 'CID_MISMATCH' })

    const signed = { Message: { ...msg, GasLimit: 1_250_000, GasFeeCap: '100200', GasPremium: '100000' }, Signature: { Type: 3, Data: base64pad.baseEncode(new Uint8Array(65)) } }
    expect((await failure('Filecoin.MpoolPush', [signed])).data).toMatchObject({ code: 'SIGNATURE', field: 'SignedMessage.Signature.Type' })
    expect((await failure('Filecoin.MpoolPush', [{ ...signed, Signature: { Type: 1, Data: 'AAAA' } }])).data).toMatchObject({ code: 'SIGNATURE' })

    expect((await failure('Filecoin.ChainHead', [1])).code).toBe(-32602)
    expect((await failure('Filecoin.WalletBalance', [])).code).toBe(-32602)
    const named = await post({ jsonrpc: '2.0', id: 1, method: 'Filecoin.WalletBalance', params: { address: t(userAddress) } })
    expect(((await named.json()) as RpcReply).error!.code).toBe(-32602)
  })

  it('speaks JSON-RPC 2.0: parse errors, invalid requests, unknown methods, batches and notifications', async () => {
    const parse = await (await post('{"jsonrpc": "2.0", "method": ')).json() as RpcReply
    expect(parse).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } })
    const notUtf8 = await (await fetch(server.url, { method: 'POST', body: new Uint8Array([0x7b, 0xff, 0x7d]) })).json() as RpcReply
    expect(notUtf8.error!.code).toBe(-32700)

    const wrongVersion = await (await post({ jsonrpc: '1.0', id: 7, method: 'Filecoin.ChainHead' })).json() as RpcReply
    expect(wrongVersion).toMatchObject({ id: 7, error: { code: -32600 } })
    expect(await (await post({ jsonrpc: '2.0', id: { no: 1 }, method: 'Filecoin.ChainHead' })).json()).toMatchObject({ id: null, error: { code: -32600 } })
    expect(await (await post({ jsonrpc: '2.0', id: 1, method: 5 })).json()).toMatchObject({ error: { code: -32600 } })
    expect(await (await post([])).json()).toMatchObject({ id: null, error: { code: -32600 } })
    expect(await (await post(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'Filecoin.StateNetworkName' })))).json())
      .toMatchObject({ error: { code: -32600 } })

    const unknown = await failure('Filecoin.ChainNotify')
    expect(unknown.code).toBe(-32601)
    expect(unknown.message).toContain('Filecoin.ChainNotify')

    const batch = await (await post([
      { jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead' },
      { jsonrpc: '2.0', id: 'b', method: 'Filecoin.StateNetworkName', params: [] },
      { jsonrpc: '2.0', id: 3, method: 'Filecoin.Nope' },
      { jsonrpc: '2.0', method: 'Filecoin.StateNetworkName' }, // a notification: no reply
      42
    ])).json() as RpcReply[]
    expect(batch.map(r => r.id)).toEqual([1, 'b', 3, null])
    expect(batch[0]!.result.Height).toBe(chain.head().header.height)
    expect(batch[1]!.result).toBe(NETWORK)
    expect(batch[2]!.error!.code).toBe(-32601)
    expect(batch[3]!.error!.code).toBe(-32600)

    const onlyNotification = await post({ jsonrpc: '2.0', method: 'Filecoin.StateNetworkName' })
    expect(onlyNotification.status).toBe(204)
    expect(await onlyNotification.text()).toBe('')
  })

  it('caps request bodies, answers CORS preflights from any origin, and refuses other paths and verbs', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.StateNetworkName', params: ['x'.repeat(2 * 1024 * 1024)] })
    const declared = await post(big)
    expect(declared.status).toBe(413)
    expect(await declared.json()).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/exceeds 1048576 bytes/) } })

    // chunked, so the size is only known while reading
    const streamed = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = http.request(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, res => {
        let body = ''
        res.on('data', (c: Buffer) => { body += c.toString() })
        res.on('end', () => resolve({ status: res.statusCode!, body }))
      })
      req.on('error', reject)
      const chunk = 'x'.repeat(600 * 1024)
      req.write(chunk)
      req.write(chunk)
      req.end()
    })
    expect(streamed.status).toBe(413)
    expect(JSON.parse(streamed.body).error.code).toBe(-32600)

    const preflight = await fetch(server.url, {
      method: 'OPTIONS',
      headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,authorization' }
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type,authorization')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    const cors = await post({ jsonrpc: '2.0', id: 1, method: 'Filecoin.StateNetworkName' }, server.url, { Origin: 'https://example.org' })
    expect(cors.headers.get('access-control-allow-origin')).toBe('*')

    expect((await fetch(server.url)).status).toBe(405)
    expect((await post({ jsonrpc: '2.0', id: 1, method: 'Filecoin.ChainHead' }, server.url.replace('/rpc/v1', '/rpc/v2'))).status).toBe(404)
  })

  it('estimates gas as Lotus fills it, and caps the fee cap by MaxFee', async () => {
    const msg = { Version: 0, To: t(strangerAddress), From: t(userAddress), Nonce: 0, Value: '1', GasLimit: 0, GasFeeCap: '0', GasPremium: '0', Method: 0, Params: '' }
    const filled = await result('Filecoin.GasEstimateMessageGas', [msg, { MaxFee: '0' }, null])
    expect(Object.keys(filled)).toEqual(LOTUS_MESSAGE_FIELDS)
    expect(filled).toMatchObject({ GasLimit: 1_250_000, GasPremium: '100000', GasFeeCap: (BASE_FEE * 2n + 100_000n).toString(), Params: '' })
    const asMessage: Message = {
      version: 0, to: strangerAddress, from: userAddress, nonce: 0, value: 1n, gasLimit: 1_250_000, gasFeeCap: BASE_FEE * 2n + 100_000n,
      gasPremium: 100_000n, method: 0, params: new Uint8Array(0)
    }
    expect(filled.CID).toEqual(cidJson(messageCid(asMessage)))

    const { Params: _, ...noParams } = msg
    expect((await result('Filecoin.GasEstimateMessageGas', [noParams, null, null])).Params).toBeNull()
    const capped = await result('Filecoin.GasEstimateMessageGas', [msg, { MaxFee: '62500000000' }, [cidJson(chain.head().cid)]])
    expect(capped).toMatchObject({ GasLimit: 1_250_000, GasFeeCap: '50000', GasPremium: '50000' })
    const kept = await result('Filecoin.GasEstimateMessageGas', [{ ...msg, GasLimit: 2_000_000, GasPremium: '7' }, null, null])
    expect(kept).toMatchObject({ GasLimit: 2_000_000, GasPremium: '7', GasFeeCap: '207' })
  })

  it('pushes a signed message, reports rejections with their names, and waits for it over WebSocket', async () => {
    const nonce = await result('Filecoin.MpoolGetNonce', [t(userAddress)])
    const m = transfer(userAddress, strangerAddress, 5n * ATTO_PER_FIL, nonce)
    const sm = signMessage(userKey, m)
    const json = {
      Message: { Version: 0, To: t(m.to), From: t(m.from), Nonce: m.nonce, Value: m.value.toString(), GasLimit: m.gasLimit, GasFeeCap: m.gasFeeCap.toString(), GasPremium: m.gasPremium.toString(), Method: 0, Params: null },
      Signature: { Type: 1, Data: base64pad.baseEncode(sm.signature.data) },
      CID: cidJson(signedMessageCid(sm))
    }
    const cid = signedMessageCid(sm)

    const replay = signMessage(userKey, { ...m, nonce: nonce + 5 })
    const gap = await failure('Filecoin.MpoolPush', [{ ...json, Message: { ...json.Message, Nonce: nonce + 5 }, Signature: { Type: 1, Data: base64pad.baseEncode(replay.signature.data) }, CID: undefined }])
    expect(gap).toMatchObject({ code: 1, data: { name: 'NonceError', code: 'NONCE', expected: nonce, actual: nonce + 5 } })
    const forged = await failure('Filecoin.MpoolPush', [{ ...json, Message: { ...json.Message, Value: '6000000000000000000' }, CID: undefined }])
    expect(forged.data).toMatchObject({ name: 'MessageSignatureError', code: 'BAD_SIGNATURE' })
    const tooMuch = signMessage(userKey, { ...m, value: 1000n * ATTO_PER_FIL })
    const broke = await failure('Filecoin.MpoolPush', [{ ...json, Message: { ...json.Message, Value: tooMuch.message.value.toString() }, Signature: { Type: 1, Data: base64pad.baseEncode(tooMuch.signature.data) }, CID: undefined }])
    expect(broke.data).toMatchObject({ name: 'InsufficientFundsError', code: 'FUNDS', balance: (100n * ATTO_PER_FIL).toString() })

    expect(await result('Filecoin.MpoolPush', [json])).toEqual(cidJson(cid))
    expect(await result('Filecoin.MpoolGetNonce', [t(userAddress)])).toBe(nonce + 1)
    const stored = await result('Filecoin.ChainGetMessage', [cidJson(cid)])
    expect(Object.keys(stored)).toEqual(LOTUS_MESSAGE_FIELDS)
    expect(stored).toMatchObject({ To: t(strangerAddress), From: t(userAddress), Value: '5000000000000000000', Params: null, CID: cidJson(messageCid(m)) })
    expect(await result('Filecoin.StateSearchMsg', [cidJson(cid)])).toBeNull() // not executed yet
    expect((await failure('Filecoin.ChainGetMessage', [cidJson(chain.genesis.stateCid)])).data).toMatchObject({ name: 'MessageNotFoundError' })

    const ws = await wsClient(server.url.replace('http://', 'ws://'))
    try {
      ws.send({ jsonrpc: '2.0', id: 'wait', method: 'Filecoin.StateWaitMsg', params: [cidJson(cid), 1, -1, true] })
      ws.send({ jsonrpc: '2.0', id: 'head', method: 'Filecoin.ChainHead' })
      // a pending wait does not hold up later calls on the same connection
      expect((await ws.reply('head')).result.Height).toBe(chain.head().header.height)
      chain.produce() // includes the message
      const executedIn = chain.produce() // executes it: its receipt is in this block's ParentMessageReceipts
      await new Promise(resolve => setTimeout(resolve, 300))
      expect(ws.answered('wait')).toBe(false) // confidence 1: one more block first
      chain.produce()
      const waited = await ws.reply('wait')
      expect(waited.error).toBeUndefined()
      const lookup = waited.result
      expect(Object.keys(lookup)).toEqual(['Message', 'Receipt', 'ReturnDec', 'TipSet', 'Height'])
      expect(lookup).toEqual({
        Message: cidJson(cid),
        Receipt: { ExitCode: 0, Return: null, GasUsed: TRANSFER_GAS, EventsRoot: null },
        ReturnDec: null,
        TipSet: [cidJson(executedIn.cid)],
        Height: executedIn.header.height
      })
      expect(await result('Filecoin.StateSearchMsg', [cidJson(cid)], v0())).toEqual(lookup)
      expect(await result('Filecoin.StateSearchMsg', [null, cidJson(cid), -1, true])).toEqual(lookup)
      // searching back from before it executed, or less far back than it lies, finds nothing
      expect(await result('Filecoin.StateSearchMsg', [[cidJson(executedIn.header.parents[0]!)], cidJson(cid), -1, true])).toBeNull()
      expect(await result('Filecoin.StateSearchMsg', [null, cidJson(cid), 0, true])).toBeNull()
      expect(await result('Filecoin.StateSearchMsg', [null, cidJson(chain.genesis.stateCid), -1, true])).toBeNull()
      expect(await result('Filecoin.WalletBalance', [t(strangerAddress)])).toBe('5000000000000000000')
    } finally {
      ws.close()
    }

    const ws0 = await wsClient(v0().replace('http://', 'ws://'))
    ws0.send([{ jsonrpc: '2.0', id: 1, method: 'Filecoin.Version' }, { jsonrpc: '2.0', id: 2, method: 'Filecoin.Nope' }])
    const batchReply = await ws0.reply(undefined) as unknown as RpcReply[] // a batch reply is an array, so it has no id
    expect(batchReply[0]!.result.APIVersion).toBe(FULL_API_VERSION_V0)
    expect(batchReply[1]!.error!.code).toBe(-32601)
    ws0.close()
    await expect(wsClient(server.url.replace('http://', 'ws://').replace('/rpc/v1', '/elsewhere'))).rejects.toThrow(/failed/)
  })

  it('stops a StateWaitMsg when its HTTP client or WebSocket goes away', async () => {
    const before = chain.waitSignals.length
    const controller = new AbortController()
    const pending = fetch(server.url, {
      method: 'POST',
      signal: controller.signal,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Filecoin.StateWaitMsg', params: [cidJson(chain.genesis.stateCid), 0, -1, true] })
    })
    const end = Date.now() + 5000
    while (chain.waitSignals.length === before && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
    const signal = chain.waitSignals[before]!
    expect(signal.aborted).toBe(false)
    controller.abort()
    await expect(pending).rejects.toThrow()
    while (!signal.aborted && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).name).toBe('RequestAbortedError')

    const ws = await wsClient(server.url.replace('http://', 'ws://'))
    ws.send({ jsonrpc: '2.0', id: 1, method: 'Filecoin.StateWaitMsg', params: [cidJson(chain.genesis.stateCid), 0, -1, true] })
    while (chain.waitSignals.length === before + 1 && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
    const wsSignal = chain.waitSignals[before + 1]!
    ws.close()
    while (!wsSignal.aborted && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
    expect((wsSignal.reason as Error).name).toBe('RequestAbortedError')
  })

  it('proves an actor against the header it names (Coffer.StateProof) and pays from the faucet once (Coffer.Faucet)', async () => {
    const proof = await result('Coffer.StateProof', [t(userAddress), null])
    expect(Object.keys(proof)).toEqual(['Header', 'HeaderCid', 'StateRoot', 'Actor', 'Proof'])
    const header = sealHeader(headerFromLotus(proof.Header))
    expect(cidJson(header.cid)).toEqual(proof.HeaderCid)
    expect(proof.HeaderCid).toEqual(cidJson(chain.head().cid))
    expect(proof.StateRoot).toEqual(proof.Header.ParentStateRoot)
    const blocks = (proof.Proof as string[]).map(b => base64pad.baseDecode(b))
    const proven = verifyActorProof(header.header.parentStateRoot, userAddress, blocks)
    expect(proven).not.toBeNull()
    expect(proof.Actor).toMatchObject({ Balance: proven!.balance.toString(), Nonce: proven!.nonce, Head: cidJson(proven!.head) })

    const atOne = await result('Coffer.StateProof', [t(strangerAddress), [cidJson((await chain.headerAt(1))!.cid)]])
    expect(atOne.Actor).toBeNull()
    expect(verifyActorProof(CID.parse(atOne.StateRoot['/']), strangerAddress, (atOne.Proof as string[]).map(b => base64pad.baseDecode(b)))).toBeNull()

    const newcomer = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(0x44)))
    const paid = await result('Coffer.Faucet', [t(newcomer)])
    expect(CID.parse(paid['/']).equals(CID.parse(paid['/']))).toBe(true)
    expect(await chain.getMessage(CID.parse(paid['/']))).toMatchObject({ value: 10n * ATTO_PER_FIL })
    const again = await failure('Coffer.Faucet', [t(newcomer)])
    expect(again.code).toBe(1)
    expect(again.data).toMatchObject({ name: 'FaucetLimitError', retryAfterMs: 60_000 })
    expect(again.message).toMatch(/faucet/)
  })

  it("serves iso-filecoin's RPC client: version, networkName, chainHead, nonce, balance, gasEstimate and pushMessage", async () => {
    const rpc = new RPC({ api: server.url, network: 'testnet' })
    const version = await rpc.version()
    expect(version.error).toBeUndefined()
    expect(version.result!.APIVersion).toBe(FULL_API_VERSION_V1)
    expect((await rpc.networkName()).result).toBe(NETWORK)
    const head = await rpc.chainHead()
    expect(head.result!.Height).toBe(chain.head().header.height)
    expect(head.result!.Cids[0]).toEqual(cidJson(chain.head().cid))

    const account = IsoWallet.accountFromPrivateKey(userKey, 'SECP256K1', 'testnet')
    expect(account.address.toString()).toBe(t(userAddress))
    const nonce = await rpc.nonce(account.address.toString())
    expect(nonce.result).toBe(await chain.mpoolNonce(userAddress))
    expect((await rpc.balance(account.address.toString())).result).toBe(((await chain.getActor(userAddress))!.balance).toString())

    const recipient = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(0x55)))
    const gas = await rpc.gasEstimate({ msg: { from: t(userAddress), to: t(recipient), value: '1000' } })
    expect(gas.error).toBeUndefined()
    expect(gas.result).toMatchObject({ GasLimit: 1_250_000, GasPremium: '100000', GasFeeCap: '100200' })

    const msg = await new IsoMessage({ from: t(userAddress), to: t(recipient), value: '1000' }).prepare(rpc)
    expect(msg.nonce).toBe(nonce.result)
    expect(msg.gasLimit).toBe(1_250_000)
    const signature = IsoWallet.signMessage(account.privateKey, 'SECP256K1', msg)
    const pushed = await rpc.pushMessage({ msg, signature })
    expect(pushed.error).toBeUndefined()

    // iso-filecoin's own bytes for the SignedMessage tuple, hashed as Lotus hashes it
    const signedBytes = dagCbor.encode([dagCbor.decode(msg.serialize()), Uint8Array.of(1, ...signature.data)])
    const theirCid = CID.decode(lotusCid(signedBytes))
    expect(pushed.result).toEqual(cidJson(theirCid))
    const stored = await result('Filecoin.ChainGetMessage', [pushed.result])
    expect(stored.CID).toEqual(cidJson(CID.decode(msg.cidBytes())))

    chain.produce()
    chain.produce()
    const waited = await rpc.waitMsg({ cid: pushed.result!, confidence: 0 })
    expect(waited.error).toBeUndefined()
    expect((waited.result as any).Receipt.ExitCode).toBe(0)
    expect((await rpc.balance(t(recipient))).result).toBe('1000')
  })

  it('reports a port in use as PortInUseError', async () => {
    await expect(startRpcServer({ backend: chain, port: server.port })).rejects.toMatchObject({ name: 'PortInUseError', port: server.port })
  })

  it('logged nothing unexpected', () => {
    expect(logs).toEqual([])
  })
})
