// A message's receipt proven in a tipset of several blocks (tipset-inclusion.ts): payments mined by three miners on
// one base, so the same message is listed by several blocks of a tipset and executed once. The node's proof,
// through the state protocol's wire codec, replays under the light client's own headers to the node's receipt at
// the node's index; a proof missing a block, or checked against another tipset's receipts, proves nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import {
  idAddressBytes, secpAddressBytes, secpPublicKey, signMessage, signedMessageCid, verifyTipSetInclusion, ATTO_PER_FIL, TRANSFER_GAS_LIMIT, TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM,
  encodeStateRequest, decodeStateRequest, encodeStateResponse, decodeStateResponse, ExitCode, type CID
} from '../../src/core'
import { answerState } from '../../src/node/state-answers'
import { openEcNode, ecGenesis, type EcNode } from '../helpers/ec-node'
import { testBeaconEntry } from '../helpers/test-beacon'

const T0 = 1_800_000_000
const secrets = [51, 52, 53].map(n => new Uint8Array(32).fill(n))
const miners = [1001, 1002, 1003].map(idAddressBytes)
const payerKey = new Uint8Array(32).fill(0x57)
const payer = secpAddressBytes(secpPublicKey(payerKey))
const genesis = ecGenesis({ network: 'tipset-inclusion', time: T0, blockDelaySecs: 1, secrets, payloads: [3000, 3000, 3000].map((n, i) => new Uint8Array(n).fill(i + 1)), allocations: [{ address: payer, balance: 10n * ATTO_PER_FIL }] })
const now = (): number => (T0 + 10_000) * 1000
const beacon = { entry: async (r: number) => testBeaconEntry(r) }

let n: EcNode
const paid: CID[] = []
afterAll(async () => { await n.close() })

beforeAll(async () => {
  n = await openEcNode(genesis, now)
  for (let i = 0; i < 4; i++) {
    const sm = signMessage(payerKey, { version: 0, to: miners[i % 3]!, from: payer, nonce: i, value: BigInt(i + 1), gasLimit: TRANSFER_GAS_LIMIT, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params: new Uint8Array(0) })
    await n.chain.mpoolPush(sm, { local: true })
    paid.push(signedMessageCid(sm))
  }
  // every miner mines each round on the same base: the pool's messages go into each winner's block
  for (let h = 1; h <= 12; h++) {
    const base = n.chain.headTipSet()
    for (const [i, m] of miners.entries()) {
      const won = await n.chain.mine({ miner: m, workerSecretKey: secrets[i]!, height: h, beacon, base: base.key })
      if (won !== null) await n.chain.submit(won)
    }
  }
})

describe('a receipt proven in a tipset of several blocks', () => {
  it('replays under the tipset\'s own Messages and its child\'s receipts to the node\'s receipt, at its index', async () => {
    let several = false
    for (const cid of paid) {
      const req = decodeStateRequest(encodeStateRequest({ kind: 'lookup', message: cid, tipset: true }))
      const resp = decodeStateResponse(encodeStateResponse(await answerState(n.chain, req)))
      expect(resp.ok).toBe(true)
      const key = resp.includedTipSet!
      const tipset = (await n.db.tipSetAt((await n.db.header(key[0]!))!.header.height))!
      expect(tipset.key.map(String)).toEqual(key.map(String))
      const executed = (await n.db.header(resp.executed!))!
      expect(executed.header.parents.map(String).sort()).toEqual(key.map(String).sort())
      // the message listed by more than one block of its tipset: executed once, where the first lists it
      several ||= tipset.blocks.length > 1
      const trusted = { txMetas: tipset.blocks.map(b => b.header.messages), receipts: executed.header.parentMessageReceipts }
      const proven = verifyTipSetInclusion(trusted, cid, resp.blocks)
      expect(proven.index).toBe(resp.index)
      expect(proven.receipt.exitCode).toBe(ExitCode.Ok)
      expect(proven.receipt).toEqual((await n.chain.searchMessage(cid))!.receipt)
      // a block left out proves nothing; nor does another tipset's receipts root
      for (let j = 0; j < resp.blocks.length; j++) {
        expect(() => verifyTipSetInclusion(trusted, cid, resp.blocks.filter((_, k) => k !== j))).toThrow()
      }
      const other = (await n.db.tipSetAt(executed.header.height + 1)) ?? (await n.db.tipSetAt(executed.header.height + 2))!
      expect(() => verifyTipSetInclusion({ ...trusted, receipts: other.blocks[0]!.header.parentMessageReceipts }, cid, resp.blocks)).toThrow()
    }
    expect(several).toBe(true)
  })
})
