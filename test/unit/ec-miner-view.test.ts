// Expected Consensus over the chain's own state: a miner's view (worker key, power at the lookback, the consensus
// minimum, fee debt) read from genesis providers' state, a block mined and validated with it, and the three state
// roots Lotus reads for one block found on a chain with a null round.
import { describe, it, expect } from 'vitest'
import {
  createGenesis, makeTipSet, sealHeader, blsPublicKey, blsAddressBytes, idAddressBytes, pieceDigest, pieceCidV1, readPower, beaconTimingOf,
  GENESIS_BEACON_ENTRY, newAccountActor, secpAddressBytes, secpPublicKey, EMPTY_AMT_CID, EMPTY_TXMETA_CID, MemoryBlockStore, setActor, getActor, encodeMinerState, readMinerState, recordReads,
  type TipSet, type CID, type SealedHeader
} from '../../src/core'
import {
  readEcMinerView, ecStateRoots, workerKeyAt, WorkerKeyError, makeEcHeader, validateEcBlock, IneligibleMinerError, UnknownMinerError, type EcChainConfig
} from '../../src/core/consensus'
import { TEST_BEACON, testBeaconEntry } from '../helpers/test-beacon'

const secrets = [21, 22, 23].map(n => new Uint8Array(32).fill(n))
const workers = secrets.map(s => blsAddressBytes(blsPublicKey(s)))
const piece = (seed: number, bytes: number): { pieceCid: CID, pieceSize: number } => {
  const d = pieceDigest(new Uint8Array(bytes).map((_, i) => (i * seed + 1) & 0xff))
  return { pieceCid: pieceCidV1(d.root), pieceSize: d.paddedBytes }
}
// f01001 and f01002 hold pre-sealed pieces (4 KiB and 8 KiB of power from genesis); f01003 holds none
const genesis = createGenesis({ beacon: TEST_BEACON, network: 'ec-view', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 30 }, 1_800_000_010, [],
  [1001, 1002, 1003].map((id, i) => ({ id, info: { owner: workers[i]!, worker: workers[i]!, peerId: Uint8Array.of(0, 2, 0, i) }, ...(i === 2 ? {} : { preseal: piece(i + 3, 3000 * (i + 1)) }) })))
const store = genesis.store!
const g = makeTipSet([genesis.header])
const root0 = genesis.header.header.parentStateRoot
const config: EcChainConfig = { timing: beaconTimingOf(genesis), beaconPublicKey: TEST_BEACON.publicKey }
const [m1, m2, m3] = [1001, 1002, 1003].map(idAddressBytes) as [Uint8Array, Uint8Array, Uint8Array]
const noChain = { tipSetAtOrAbove: (): TipSet => { throw new Error('genesis lookback reads no other tipset') }, tipSetOf: (): TipSet => { throw new Error('unused') } }

describe('a miner\'s EcMinerView from state', () => {
  it('reads worker key, power at the lookback, the consensus minimum, fee debt and the consensus-fault mark', () => {
    const roots = ecStateRoots(1, g, noChain)
    expect(roots).toEqual({ lookback: root0, lookbackParent: root0, parent: root0 })
    const v1 = readEcMinerView(store, roots, m1)!
    expect(v1.workerKey).toEqual(blsPublicKey(secrets[0]!))
    expect(v1.lookback.claim!.qualityAdjPower).toBe(4096n)
    expect(v1.lookback.totalQualityAdjPower).toBe(4096n + 8192n)
    expect(v1.hasMinPower).toBe(true)
    expect(v1.parent).toEqual({ claim: v1.lookback.claim, feeDebt: 0n, consensusFaultElapsed: -1 })
    const v3 = readEcMinerView(store, roots, m3)!
    expect(v3.lookback.claim!.qualityAdjPower).toBe(0n)
    expect(v3.hasMinPower).toBe(false)
    // no miner actor at all (an account, an unknown ID)
    expect(readEcMinerView(store, roots, idAddressBytes(1000))).toBeNull()
    expect(readEcMinerView(store, roots, idAddressBytes(4242))).toBeNull()
    // the read is a proof: replayed over the blocks it touched alone, it answers the same
    const blocks = recordReads(store, s => readEcMinerView(s, roots, m1))
    const only = new MemoryBlockStore()
    for (const b of blocks) only.put(b)
    expect(readEcMinerView(only, roots, m1)).toEqual(v1)
  })

  it('a worker named by ID resolves through its account actor; anything but a BLS key is WorkerKeyError', () => {
    // ID-addressed workers: one account holding a BLS key, one holding a secp256k1 key
    let root = setActor(store, root0, idAddressBytes(2001), newAccountActor(store, workers[2]!))
    root = setActor(store, root, idAddressBytes(2002), newAccountActor(store, secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(9)))))
    expect(workerKeyAt(store, root, idAddressBytes(2001))).toEqual(blsPublicKey(secrets[2]!))
    expect(() => workerKeyAt(store, root, idAddressBytes(2002))).toThrow(WorkerKeyError)
    expect(() => workerKeyAt(store, root0, idAddressBytes(4242))).toThrow(WorkerKeyError)
    expect(workerKeyAt(store, root0, workers[1]!)).toEqual(blsPublicKey(secrets[1]!))
    expect(() => workerKeyAt(store, root0, idAddressBytes(1000))).toThrow(WorkerKeyError) // the producer: a system actor
  })

  it('a block mined with the view from state validates with the view from state; a powerless miner cannot mine, and its forged block is refused by name', () => {
    const roots = ecStateRoots(1, g, noChain)
    const parentTotalPower = readPower(store, root0, m1).totalQualityAdjPower
    const body = { parentStateRoot: root0, parentMessageReceipts: EMPTY_AMT_CID, messages: EMPTY_TXMETA_CID, blsAggregate: null }
    const mine = (i: number, height: number): SealedHeader | null => makeEcHeader({
      workerSecretKey: secrets[i]!, miner: [m1, m2, m3][i]!, parent: g, height, config, prevBeaconEntry: GENESIS_BEACON_ENTRY,
      parentTotalPower, view: readEcMinerView(store, roots, [m1, m2, m3][i]!)!, beaconEntry: testBeaconEntry, body
    })
    const ctx = (b: SealedHeader): Parameters<typeof validateEcBlock>[2] => ({
      config, now: b.header.timestamp, prevBeaconEntry: GENESIS_BEACON_ENTRY, parentTotalPower,
      minerView: (miner) => readEcMinerView(store, ecStateRoots(b.header.height, g, noChain), miner)
    })
    // λ = 5 over two miners holding all the power: some height within a few has a winner
    let won: SealedHeader | null = null
    for (let height = 1; won === null && height < 20; height++) won = mine(0, height) ?? mine(1, height)
    expect(won).not.toBeNull()
    validateEcBlock(won!, g, ctx(won!))
    expect(mine(2, 1)).toBeNull()
    // f01003's worker signs a copy of the winner as its own: no power, refused before any signature is checked
    const forged = sealHeader({ ...won!.header, miner: m3 })
    expect(() => validateEcBlock(forged, g, ctx(forged))).toThrow(IneligibleMinerError)
    const stranger = sealHeader({ ...won!.header, miner: idAddressBytes(4242) })
    expect(() => validateEcBlock(stranger, g, ctx(stranger))).toThrow(UnknownMinerError)
    // fee debt in the parent state makes the miner ineligible
    const actor = getActor(store, root0, won!.header.miner)!
    const indebted = setActor(store, root0, won!.header.miner, { ...actor, head: store.put(encodeMinerState({ ...readMinerState(store, actor.head), feeDebt: 1n })) })
    const debtCtx = { ...ctx(won!), minerView: (miner: Uint8Array) => readEcMinerView(store, { ...roots, parent: indebted }, miner) }
    expect(() => validateEcBlock(won!, g, debtCtx)).toThrow(IneligibleMinerError)
  })
})

describe('the state roots one block reads', () => {
  // a chain g ← 1 ← 2 ← … ← 7 ← (8 null) ← 9 whose tipsets carry distinct ParentStateRoots
  const rootFor = (h: number): CID => sealHeader({ ...genesis.header.header, height: 10_000 + h }).cid
  const chain: TipSet[] = [g]
  for (let h = 1; h <= 9; h++) {
    if (h === 8) continue
    chain.push(makeTipSet([sealHeader({ ...genesis.header.header, height: h, parents: chain.at(-1)!.key, parentStateRoot: rootFor(h) })]))
  }
  const access = {
    tipSetAtOrAbove: (h: number): TipSet => chain.find(ts => ts.height >= h)!,
    tipSetOf: (key: CID[]): TipSet => chain.find(ts => ts.key.map(String).join() === key.map(String).join())!
  }
  const parent = chain.at(-1)!

  it('reads the state after the lookback round (the first tipset above it, past a null round) and its parent\'s for the minimum', () => {
    // height 10, lookback 3: round 7; the first tipset at or above 8 is 9 (8 is null): lbst = 9's ParentStateRoot, lbts = 7
    expect(ecStateRoots(10, parent, access, 3)).toEqual({ lookback: rootFor(9), lookbackParent: rootFor(7), parent: rootFor(9) })
    // lookback 5: round 5, the tipset at 6 names the state after 5
    expect(ecStateRoots(10, parent, access, 5)).toEqual({ lookback: rootFor(6), lookbackParent: rootFor(5), parent: rootFor(9) })
    // a round at or above a parent other than genesis is refused (Lotus, past network version 3)
    expect(() => ecStateRoots(10, parent, access, 0)).toThrow()
  })
})
