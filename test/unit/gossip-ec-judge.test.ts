// The gossip verdict on an Expected Consensus block (src/net/gossip-validation.ts judgeEcBlock) with the caller's
// cache of verified beacon entries: a good entry is verified once and kept, a forged one is rejected and never kept,
// and a kept entry is not verified again (the round's next block costs no beacon pairing).
import { describe, it, expect, beforeAll } from 'vitest'
import { judgeBlock } from '../../src/net/gossip-validation'
import { encodeBlockMsg, VerifiedBeaconEntries, signBeaconRound, type GenesisState, type SealedHeader } from '../../src/core'
import { config, genesis, tipsets, forge, mineSyntheticChain, GENESIS_TIME } from '../helpers/ec-chain'

beforeAll(() => { mineSyntheticChain() }, 120_000)

describe('judging a gossiped Expected Consensus block with a cache of verified beacon entries', () => {
  it('verifies each entry once, keeps only good ones, and takes a kept one without a pairing', () => {
    const state: GenesisState = { ...genesis.state, consensus: 'expected', beacon: { ...genesis.state.beacon, publicKey: config.beaconPublicKey } }
    const block: SealedHeader = tipsets[1]!.blocks[0]!
    const judge = (b: SealedHeader, verifiedBeacon: VerifiedBeaconEntries): ReturnType<typeof judgeBlock> =>
      judgeBlock(encodeBlockMsg(b), { genesis: state, head: () => genesis.header, nowSecs: () => GENESIS_TIME + 100_000, verifiedBeacon })
    const cache = new VerifiedBeaconEntries()
    const entries = block.header.beaconEntries
    const forged = forge(block, { beaconEntries: entries.map(e => ({ round: e.round, data: signBeaconRound(new Uint8Array(32).fill(9), e.round) })) })

    expect(judge(forged, cache).verdict).toBe('reject')
    expect(cache.size).toBe(0)
    expect(judge(block, cache).verdict).toBe('accept')
    expect(entries.every(e => cache.has(e))).toBe(true)
    // with the genuine entries kept, the forged ones still differ in their bytes: verified, and rejected
    expect(judge(forged, cache).verdict).toBe('reject')
    // a kept entry is taken as verified: planted forgeries (only a test plants) pass, so the check was skipped
    cache.add(forged.header.beaconEntries)
    expect(judge(forged, cache).verdict).toBe('accept')
  })
})
