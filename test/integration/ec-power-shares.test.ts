// 300 rounds of Expected Consensus over three genesis providers of different power (4, 8 and 16 KiB pre-sealed),
// mined round by round on one node that holds all three workers' keys (each miner's election on the same base, as
// Lotus's mineOne takes it), with every provider proving its deal each period through real messages: each one's
// share of the won blocks is its share of the power within statistical bounds; the largest stops proving, loses its
// power when the missed period settles and wins nothing after; the block rewards paid are the wins to the attoFIL.
// (Blocks are stored by the node that mines them, unchecked; the three-node producers test checks blocks across nodes.)
// Fixed keys and a fixed beacon make every election the same on every run: the statistical bound is the claim the test
// makes, and a change to the election or the power rules that moves the figures past it fails here.
import { describe, it, expect, afterAll } from 'vitest'
import {
  createGenesis, blsPublicKey, blsAddressBytes, idAddressBytes, pieceDigest, pieceCidV1, ATTO_PER_FIL, beaconTimingOf, maxBeaconRoundForEpoch,
  provePossession, dealProofSet, challengeSeed, encodeSubmitPossessionProofs, readDeal, signMessage, gasLimitFor, rewardStateAt, readPower,
  MarketMethod, STORAGE_MARKET_ADDRESS, loadBlockMessages, tipSetExecutionOrder, BASE_FEE,
  ExitCode, type Message, type TipSet, type CID
} from '../../src/core'
import { openEcNode } from '../helpers/ec-node'
import { TEST_BEACON, testBeaconEntry } from '../helpers/test-beacon'

const ROUNDS = 300
const P = 30 // the market's proving period (DEFAULT_MARKET_PARAMS)
/** The round from which the largest provider no longer proves: the period opening at 150 goes unproven, settled at 180. */
const STOPS_AT = 150
const secrets = [51, 52, 53].map(n => new Uint8Array(32).fill(n))
const workers = secrets.map(s => blsAddressBytes(blsPublicKey(s)))
const miners = [1001, 1002, 1003].map(idAddressBytes)
const payloads = [3000, 6000, 12000].map((n, i) => new Uint8Array(n).map((_, j) => (j * (i + 7) + 3) & 0xff))

let cleanup = async (): Promise<void> => {}
afterAll(async () => { await cleanup() })

describe('power elects: shares, a fault, rewards', { timeout: 300_000 }, () => {
  it(`over ${ROUNDS} rounds each provider wins in proportion to its power, a faulted one stops winning, rewards equal wins`, async () => {
    const T0 = 1_800_000_000
    const genesis = createGenesis(
      { beacon: TEST_BEACON, network: 'ec-shares', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1, consensus: 'expected' }, T0,
      workers.map(address => ({ address, balance: 100n * ATTO_PER_FIL })),
      miners.map((_, i) => {
        const d = pieceDigest(payloads[i]!)
        return { id: 1001 + i, info: { owner: workers[i]!, worker: workers[i]!, peerId: Uint8Array.of(0, 2, 0, i) }, preseal: { pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes } }
      }))
    let round = 0
    const { chain, db, store, close } = await openEcNode(genesis, () => (T0 + round) * 1000 + 500)
    cleanup = close
    const timing = beaconTimingOf(genesis)
    const beacon = { entry: async (r: number) => testBeaconEntry(r) }
    const power0 = miners.map(m => readPower(store, genesis.header.header.parentStateRoot, m).claim!.qualityAdjPower)
    expect(power0).toEqual([4096n, 8192n, 16384n])

    /** The worker's SubmitPossessionProofs for its pre-sealed deal (deal ID = provider index) for the period opening at `c`. */
    async function proofMessage (i: number, c: number): Promise<ReturnType<typeof signMessage>> {
      const proposal = readDeal(store, chain.head().header.parentStateRoot, i)!.proposal
      const seed = challengeSeed(testBeaconEntry(maxBeaconRoundForEpoch(timing, c)), c, i)
      const proof = await provePossession(dealProofSet(proposal), () => [payloads[i]!], seed, genesis.state.market.challengesPerPeriod)
      const m: Message = {
        version: 0, to: STORAGE_MARKET_ADDRESS, from: workers[i]!, nonce: await chain.mpoolNonce(workers[i]!), value: 0n, gasLimit: 0, gasFeeCap: 300n, gasPremium: 100n,
        method: MarketMethod.SubmitPossessionProofs, params: encodeSubmitPossessionProofs([{ dealId: i, challengeEpoch: c, proof }])
      }
      return signMessage(secrets[i]!, { ...m, gasLimit: gasLimitFor(m) })
    }

    const pushed: CID[] = []
    const wins = [0, 0, 0]
    const winsAfterFault = [0, 0, 0]
    let faultSettled: number | null = null
    for (round = 1; round <= ROUNDS; round++) {
      const c = round - 1
      // in the round after a period opens, each provider that still proves pushes its proof for it
      if (c >= P && c % P === 0) {
        for (const i of [0, 1, 2]) if (!(i === 2 && c >= STOPS_AT)) pushed.push(await chain.mpoolPush(await proofMessage(i, c), { local: true }))
      }
      const base = chain.headTipSet()
      for (const i of [0, 1, 2]) {
        const won = await chain.mine({ miner: miners[i]!, workerSecretKey: secrets[i]!, height: round, beacon, base: base.key })
        if (won !== null) await chain.submit(won)
      }
      if (faultSettled === null && (readPower(store, chain.head().header.parentStateRoot, miners[2]!).claim?.qualityAdjPower ?? 0n) === 0n) faultSettled = chain.head().header.height
    }

    // the heaviest chain's tipsets, and each miner's wins on it
    const tipsets: TipSet[] = []
    for (let h = 1; h <= chain.head().header.height; h++) { const ts = await db.tipSetAt(h); if (ts !== undefined) tipsets.push(ts) }
    let tips = [0n, 0n, 0n]
    for (const ts of tipsets.slice(0, -1)) { // the head's own execution is not in the state it names
      const seen = new Set<string>()
      for (const b of ts.blocks) {
        const i = miners.findIndex(m => String(m) === String(b.header.miner))
        wins[i]! += b.header.electionProof!.winCount
        if (faultSettled !== null && b.header.height > faultSettled) winsAfterFault[i]! += b.header.electionProof!.winCount
        // each message's tip goes to the first block carrying it (executed once per tipset)
        for (const { message, cid } of tipSetExecutionOrder([{ messages: loadBlockMessages(store, b.header.messages) }])) {
          if (seen.has(String(cid))) continue
          seen.add(String(cid))
          tips[i] = tips[i]! + BigInt(message.gasLimit) * (message.gasPremium < message.gasFeeCap - BASE_FEE ? message.gasPremium : message.gasFeeCap - BASE_FEE)
        }
      }
    }
    const total = wins.reduce((a, b) => a + b, 0)
    console.log(`${ROUNDS} rounds: ${tipsets.length} tipsets, ${tipsets.reduce((n, ts) => n + ts.blocks.length, 0)} blocks, win counts ${wins.join('/')} (power 4/8/16 KiB); the 16 KiB provider's fault settled at ${faultSettled}, wins after ${winsAfterFault.join('/')}`)

    // the fault: power gone once the unproven period settled (at 180), and no block of that miner above it
    expect(faultSettled).not.toBeNull()
    expect(faultSettled!).toBeGreaterThanOrEqual(STOPS_AT + P)
    expect(faultSettled!).toBeLessThanOrEqual(STOPS_AT + P + 2)
    expect(winsAfterFault[2]).toBe(0)
    expect(winsAfterFault[0]! + winsAfterFault[1]!).toBeGreaterThan(0)

    // shares before the fault: λ = 5 × power / total (the lookback state: genesis power for the first 900 rounds)
    const before = tipsets.filter(ts => ts.height <= faultSettled!).flatMap(ts => ts.blocks)
    const rounds = faultSettled!
    for (const [i, share] of [1 / 7, 2 / 7, 4 / 7].entries()) {
      const won = before.filter(b => String(b.header.miner) === String(miners[i])).reduce((n, b) => n + b.header.electionProof!.winCount, 0)
      const expected = 5 * share * rounds
      // Poisson: within 4.5 standard deviations (a false alarm about once in 150,000 runs per miner)
      expect(Math.abs(won - expected), `miner ${i}: ${won} wins, ${expected.toFixed(1)} expected`).toBeLessThanOrEqual(4.5 * Math.sqrt(expected) + 1)
    }

    // every proof was executed, and is found by the message index with its receipt (tipsets of several blocks, null rounds between)
    expect(pushed.length).toBe(9 * 2 + 4)
    for (const cid of pushed) {
      const found = await chain.searchMessage(cid)
      if (found === null) continue // the last period's proofs may still be in the pool or the head's own tipset
      expect(found.receipt.exitCode, String(cid)).toBe(ExitCode.Ok)
    }
    expect((await Promise.all(pushed.map(async cid => await chain.searchMessage(cid)))).filter(f => f !== null).length).toBeGreaterThanOrEqual(pushed.length - 2)

    // rewards: the reward actor paid exactly 1 FIL per win, and each miner holds its wins plus its blocks' tips
    const head = chain.head().header.parentStateRoot
    expect(rewardStateAt(store, head)!.totalStoragePowerReward).toBe(BigInt(total) * ATTO_PER_FIL)
    for (const i of [0, 1, 2]) expect((await chain.getActor(miners[i]!))!.balance).toBe(BigInt(wins[i]!) * ATTO_PER_FIL + tips[i]!)
  })
})
