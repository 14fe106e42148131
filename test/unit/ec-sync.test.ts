// A full node's sync under Expected Consensus: tipsets (several blocks each) fetched from a peer's head down to one
// it holds, with their messages, answered from the peer's own chain store through the real wire codec; a node on a
// lighter fork reorganises to the peer's heavier chain; an answer whose tipset is not the one asked for is the
// peer's fault, by name.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import {
  idAddressBytes, secpAddressBytes, secpPublicKey, signMessage, ATTO_PER_FIL, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, unsealHeader, encodeExchangeResponse, decodeExchangeResponse, compactTipSetMessages,
  ExchangeStatus, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES, type SealedHeader, type ExchangeRequest, type ExchangeResponse, type CompactedMessages
} from '../../src/core'
import { ChainSync } from '../../src/node/full-node/chain-sync'
import { openEcNode, ecGenesis, mineRounds as mineOn, type EcNode } from '../helpers/ec-node'

const T0 = 1_800_000_000
const secrets = [61, 62, 63].map(n => new Uint8Array(32).fill(n))
const miners = [1001, 1002, 1003].map(idAddressBytes)
const payerKey = new Uint8Array(32).fill(0x66)
const payer = secpAddressBytes(secpPublicKey(payerKey))
const genesis = ecGenesis({ network: 'ec-sync', time: T0, blockDelaySecs: 1, secrets, payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 1)), allocations: [{ address: payer, balance: 10n * ATTO_PER_FIL }] })
const now = (): number => (T0 + 10_000) * 1000

const nodes: EcNode[] = []
afterAll(async () => { for (const n of nodes) await n.close() })
async function node (): Promise<EcNode> { const n = await openEcNode(genesis, now); nodes.push(n); return n }

/** Mines `rounds` rounds on `n`'s head with the miners `who`, each on the same base (null rounds where none wins). */
/** Mines `rounds` rounds on `n`'s head with the miners `who` (indexes), each on the same base. */
async function mineRounds (n: EcNode, rounds: number, who: number[]): Promise<void> {
  await mineOn(n, rounds, who.map(i => ({ miner: miners[i]!, workerSecretKey: secrets[i]! })))
}

/** A peer answering chain exchange from `n`'s chain store, as serveChainExchange does; `tamper` may change an answer. */
function servedBy (n: EcNode, tamper: (chain: SealedHeader[][]) => SealedHeader[][] = c => c) {
  return async (_peer: string, req: ExchangeRequest): Promise<ExchangeResponse> => {
    const run = await n.db.headerRun(req.head, req.length)
    if (run === null) return { status: ExchangeStatus.NotFound, errorMessage: 'unknown head', chain: [] }
    const chain: SealedHeader[][] = []
    for await (const batch of run.batches) for (const ts of batch) chain.push(ts.map(unsealHeader))
    const tampered = tamper(chain)
    const messages: CompactedMessages[] = tampered.map(blocks => compactTipSetMessages(blocks.map(b => n.chain.messagesOf(b)!)))
    const bytes = encodeExchangeResponse({ status: ExchangeStatus.Ok, errorMessage: '', chain: tampered, messages })
    return decodeExchangeResponse(bytes, MAX_EXCHANGE_MESSAGES_RESPONSE_BYTES)
  }
}

function syncOf (n: EcNode, request: ReturnType<typeof servedBy>): { sync: ChainSync, faults: Error[] } {
  const faults: Error[] = []
  const sync = new ChainSync({ chain: n.chain, request, nowSecs: () => Math.floor(now() / 1000), onPeerFault: (_p, err) => faults.push(err), onNetworkError: (_p, err) => faults.push(err) })
  return { sync, faults }
}

const keyOf = (n: EcNode): string => n.chain.headTipSet().key.map(String).join(',')
const offerHead = (sync: ChainSync, from: EcNode): void => {
  const head = from.chain.headTipSet()
  sync.offer({ peer: 'peer-a', cid: head.key[0]!, key: head.key, height: head.height })
}

describe('full node sync under Expected Consensus', () => {
  let a: EcNode
  beforeAll(async () => {
    a = await node()
    // miners 1 and 2 (two thirds of the power); miner 0 mines the lighter fork below, never on this chain (a miner
    // with blocks at one height on two chains equivocates)
    await mineRounds(a, 12, [1, 2])
    // some tipset of several blocks (each of the two wins in ~80 % of rounds)
    let several = false
    for (let h = 1; h <= a.chain.head().header.height; h++) several ||= ((await a.db.canonicalKey(h))?.length ?? 0) > 1
    expect(several).toBe(true)
  })

  it('takes a peer\'s chain of tipsets from genesis, each block validated and executed', async () => {
    const b = await node()
    const { sync, faults } = syncOf(b, servedBy(a))
    offerHead(sync, a)
    await sync.settled()
    expect(faults).toEqual([])
    expect(keyOf(b)).toBe(keyOf(a))
    expect(String(b.chain.head().header.parentStateRoot)).toBe(String(a.chain.head().header.parentStateRoot))
    for (let h = 1; h <= a.chain.head().header.height; h++) {
      expect(((await b.db.canonicalKey(h)) ?? []).map(String)).toEqual(((await a.db.canonicalKey(h)) ?? []).map(String))
    }
  })

  it('a node on a lighter fork (the third miner\'s blocks alone) reorganises to the peer\'s heavier chain', async () => {
    const c = await node()
    // a payment this node's pool gives to its own fork's blocks
    const pay = signMessage(payerKey, { version: 0, to: miners[0]!, from: payer, nonce: 0, value: 1n, gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0) })
    const paid = await c.chain.mpoolPush(pay, { local: true })
    await mineRounds(c, 12, [0])
    expect(await c.chain.searchMessage(paid)).not.toBeNull() // executed on the fork
    const forkKey = keyOf(c)
    expect(forkKey).not.toBe(keyOf(a))
    const { sync, faults } = syncOf(c, servedBy(a))
    offerHead(sync, a)
    await sync.settled()
    expect(faults).toEqual([])
    expect(keyOf(c)).toBe(keyOf(a))
    // its own blocks stay stored by CID, off the heaviest chain
    expect(await c.db.header(c.chain.headTipSet().key[0]!)).toBeDefined()
    // the payment the fork executed is not on the new chain: back in the pool (Lotus HeadChange), its nonce still taken
    expect(await c.chain.searchMessage(paid)).toBeNull()
    expect(c.chain.mpool.has(paid)).toBe(true)
    expect(await c.chain.mpoolNonce(payer)).toBe(1)
  })

  it('an answer whose tipset is not the one asked for (a block left out) is the peer\'s fault, nothing stored', async () => {
    const d = await node()
    const several = (chain: SealedHeader[][]): SealedHeader[][] => chain.map(ts => ts.length > 1 ? ts.slice(1) : ts)
    const { sync, faults } = syncOf(d, servedBy(a, several))
    offerHead(sync, a)
    await sync.settled()
    expect(faults.map(f => f.name)).toEqual(['CidMismatchError'])
    expect(d.chain.head().header.height).toBe(0)
  })
})
