// A provider's CreateMiner across a crash (join.ts ensureMiner): the signed message is recorded before the push,
// so a process killed between the record and the push pushes the same message again on restart instead of
// waiting forever for a message no node has; one whose nonce another message took is named, not waited for.
// The chain here is a small stand-in for the few ProviderChain calls ensureMiner makes; the messages are
// executed by the real applyBlockMessages on a real genesis state.
import { describe, it, expect, beforeEach } from 'vitest'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createGenesis, executionContext, applyBlockMessages, packBlockMessages, getActor, signMessage, signedMessageCid, secpPublicKey, secpAddressBytes, blsPublicKey, idAddressBytes,
  ATTO_PER_FIL, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, type CID, type Genesis, type SignedMessage, type BlockGetter
} from '../../src/core'
import { ensureMiner, syncMinerInfo, workerAddress, CreateMinerSupersededError, type JoinInit } from '../../src/node/provider/join'
import { CREATE_MINER_FILE, MINER_FILE, ProviderFolderError } from '../../src/node/provider/provider-folder'
import type { ProviderChain } from '../../src/node/provider/storage-provider'
import type { ProviderKeys } from '../../src/node/provider/provider-keys'
import type { MsgLookup } from '../../src/node/rpc/backend'
import { TEST_BEACON } from '../helpers/test-beacon'

/** Executes what is pooled each time someone waits for the next head; drops a message whose nonce is not the sender's next, as a block producer would. */
class StandInChain {
  root: CID
  height = 1
  readonly pool = new Map<string, SignedMessage>()
  readonly pushed: string[] = []
  readonly executed = new Map<string, MsgLookup>()
  constructor (readonly genesis: Genesis) { this.root = genesis.header.header.parentStateRoot }
  private nonceOf (a: Uint8Array): number { return getActor(this.genesis.store!, this.root, a)?.nonce ?? 0 }
  readState<T> (read: (s: BlockGetter, r: CID) => T): T { return read(this.genesis.store!, this.root) }
  async mpoolNonce (a: Uint8Array): Promise<number> {
    const pooled = [...this.pool.values()].filter(sm => sm.message.from.join() === a.join()).map(sm => sm.message.nonce + 1)
    return Math.max(this.nonceOf(a), ...pooled)
  }
  async mpoolPush (sm: SignedMessage): Promise<CID> {
    if (sm.message.nonce < this.nonceOf(sm.message.from)) throw Object.assign(new Error('nonce too low'), { name: 'NonceError' })
    const cid = signedMessageCid(sm)
    this.pushed.push(cid.toString())
    this.pool.set(cid.toString(), sm)
    return cid
  }
  async searchMessage (cid: CID): Promise<MsgLookup | null> { return this.executed.get(cid.toString()) ?? null }
  async waitMessage (cid: CID): Promise<MsgLookup> {
    // a wait on a message this node never saw lasts forever on a real node: fail at once instead
    if (!this.pool.has(cid.toString()) && !this.executed.has(cid.toString())) throw new Error(`waiting for ${cid.toString()}, which no node has: this would never end`)
    while (!this.executed.has(cid.toString())) await this.nextHead()
    return this.executed.get(cid.toString())!
  }
  async nextHead (): Promise<void> {
    const msgs = [...this.pool.values()].sort((a, b) => a.message.nonce - b.message.nonce)
    this.pool.clear()
    for (const sm of msgs) {
      if (sm.message.nonce !== this.nonceOf(sm.message.from)) continue
      const packed = packBlockMessages([sm]) // the worker is a BLS key: its messages go in BlsMessages
      const out = applyBlockMessages(executionContext(this.genesis.store!, this.genesis.state, { ...this.genesis.header.header, height: this.height }, () => undefined), this.root, packed.messages, packed.blsAggregate)
      this.root = out.root
      this.executed.set(signedMessageCid(sm).toString(), { message: signedMessageCid(sm), receipt: out.receipts[0]!, executedIn: this.genesis.header })
    }
    this.height++
  }
}

let keys: ProviderKeys
let genesis: Genesis
let dir: string
const logs: string[] = []

beforeEach(async () => {
  keys = { worker: new Uint8Array(32).fill(0x51), peer: await generateKeyPair('Ed25519') }
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'join-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_700_000_000,
    [{ address: workerAddress(keys), balance: 100n * ATTO_PER_FIL }])
  dir = await mkdtemp(path.join(tmpdir(), 'coffer-join-'))
  logs.length = 0
})

const joinWith = (chain: Partial<ProviderChain>, signal = new AbortController().signal): JoinInit =>
  ({ chain: chain as ProviderChain, keys, dir, multiaddrs: ['/ip4/127.0.0.1/tcp/4001/ws'], log: (l: string) => { logs.push(l) }, signal })

/** A run killed after create-miner.json was written and before its push reached any node. */
async function runKilledBeforePush (): Promise<string> {
  const chain = new StandInChain(genesis)
  let reached!: () => void
  const atPush = new Promise<void>(resolve => { reached = resolve })
  const killed = Object.assign(chain, { mpoolPush: async (): Promise<CID> => { reached(); return await new Promise<CID>(() => {}) } })
  void ensureMiner(joinWith(killed))
  await atPush
  return (JSON.parse(await readFile(path.join(dir, CREATE_MINER_FILE), 'utf8')) as { message: string }).message
}

/** A signed send from the worker with `nonce` (another message of the worker's). */
const otherMessage = (nonce: number): SignedMessage => signMessage(keys.worker, {
  version: 0, to: secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(9))), from: workerAddress(keys), nonce, value: 1n, gasLimit: 2_000_000,
  gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0)
})

describe('ensureMiner after a crash', () => {
  it('killed between the record and the push: the restart pushes the same signed CreateMiner again and the miner is created once', async () => {
    const recorded = await runKilledBeforePush()
    const chain = new StandInChain(genesis) // a fresh node: no pool has the message
    const miner = await ensureMiner(joinWith(chain))
    expect(chain.pushed).toEqual([recorded])
    expect(miner).toMatchObject({ address: 't01001', created: true })
    expect(JSON.parse(await readFile(path.join(dir, MINER_FILE), 'utf8'))).toEqual({ address: 't01001' })
    expect(existsSync(path.join(dir, CREATE_MINER_FILE))).toBe(false)
    expect(logs.some(l => l.includes(`pushing again the CreateMiner sent before a restart (${recorded})`))).toBe(true)
  })

  it('its nonce taken by another message while it is waited for: CreateMinerSupersededError, the record cleared, no wait forever', async () => {
    const recorded = await runKilledBeforePush()
    const chain = new StandInChain(genesis)
    await chain.mpoolPush(otherMessage(0)) // lands first and takes nonce 0
    const err = await ensureMiner(joinWith(chain)).catch((e: Error) => e)
    expect(err).toBeInstanceOf(CreateMinerSupersededError)
    expect(err).toMatchObject({ name: 'CreateMinerSupersededError', messageCid: recorded, nonce: 0, workerNonce: 1 })
    expect(existsSync(path.join(dir, CREATE_MINER_FILE))).toBe(false)
    // the next run sends a new CreateMiner with the next nonce
    const miner = await ensureMiner(joinWith(chain))
    expect(miner.created).toBe(true)
    expect(chain.pushed.at(-1)).not.toBe(recorded)
  })

  it('its nonce already taken at restart: named in the log, a new CreateMiner sent', async () => {
    const recorded = await runKilledBeforePush()
    const chain = new StandInChain(genesis)
    await chain.mpoolPush(otherMessage(0))
    await chain.nextHead()
    const miner = await ensureMiner(joinWith(chain))
    expect(miner).toMatchObject({ address: 't01001', created: true })
    expect(chain.pushed).not.toContain(recorded)
    expect(logs.some(l => l.startsWith('CreateMinerSupersededError: '))).toBe(true)
  })

  it('a record whose signed message is not the recorded CID is refused by name (ProviderFolderError), nothing sent', async () => {
    await runKilledBeforePush()
    const file = path.join(dir, CREATE_MINER_FILE)
    const rec = JSON.parse(await readFile(file, 'utf8')) as { message: string, nonce: number, signed: string }
    await writeFile(file, JSON.stringify({ ...rec, nonce: 1 }))
    const chain = new StandInChain(genesis)
    await expect(ensureMiner(joinWith(chain))).rejects.toBeInstanceOf(ProviderFolderError)
    await writeFile(file, JSON.stringify({ message: rec.message, nonce: rec.nonce }))
    await expect(ensureMiner(joinWith(chain))).rejects.toThrow(/is not \{ message, nonce, signed \}/)
    expect(chain.pushed).toEqual([])
  })
})

describe('a worker message after a restart', () => {
  it('its nonce taken by a message the worker sent before the crash (in another node\'s pool, not this one\'s): signed again with the next nonce and landed, not waited on for ever', async () => {
    const chain = new StandInChain(genesis)
    const { id } = await ensureMiner(joinWith(chain))
    // this node's pool knows nothing of what the worker sent before the crash: its nonce is the chain's
    const restarted = Object.assign(chain, { mpoolNonce: async (a: Uint8Array) => getActor(genesis.store!, chain.root, a)?.nonce ?? 0 })
    const before = await restarted.mpoolNonce(workerAddress(keys))
    // the pre-crash message (still in another node's pool) lands first, at the same nonce
    chain.pool.set('pre-crash', otherMessage(before))
    const changed = await syncMinerInfo({ ...joinWith(restarted), multiaddrs: ['/ip4/127.0.0.1/tcp/4999/ws'] }, id)
    expect(changed).toEqual(['multiaddrs'])
    expect(logs.some(l => l.startsWith(`the ChangeMultiaddrs `) && l.includes(`(nonce ${before}) will never land`))).toBe(true)
    expect(getActor(genesis.store!, chain.root, workerAddress(keys))?.nonce).toBe(before + 2)
  })
})
