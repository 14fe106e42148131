// The devnet's beacon hands out a round only once it is due, signed under the key genesis names; the gossip
// validator (judgeBlock) rejects a block whose beacon entry is forged, before it is relayed.
import { describe, it, expect } from 'vitest'
import {
  beaconPublicKey, verifyBeaconEntry, createGenesis, produceHeader, idAddressBytes, blsPublicKey, encodeBlockMsg,
  signBeaconRound, beaconEntryForEpoch, challengeSeed, drawRandomness, FILECOIN_MAINNET_QUICKNET_TIMING, maxBeaconRoundForEpoch
} from '../../src/core'
import * as dagCbor from '@ipld/dag-cbor'
import { DevnetBeacon, BeaconRoundNotReadyError } from '../../src/node/devnet-beacon'
import { judgeBlock } from '../../src/net/gossip-validation'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

describe('the devnet beacon', () => {
  const secret = new Uint8Array(32).fill(41)
  const config = { publicKey: beaconPublicKey(secret), genesisTime: 1_800_000_000, periodSecs: 2 }

  it('signs a round once it is due (round 1 at genesis time, then one a period), never before', async () => {
    let now = 1_800_000_000_000 + 2 * 2000 - 1 // 1 ms before round 3
    const beacon = new DevnetBeacon(secret, config, () => now)
    const two = await beacon.entry(2)
    expect(() => verifyBeaconEntry(config.publicKey, two)).not.toThrow()
    const early = await beacon.entry(3).then(() => null, (e: Error) => e)
    expect(early).toBeInstanceOf(BeaconRoundNotReadyError)
    expect((early as BeaconRoundNotReadyError).readyInMs).toBe(1)
    now += 1
    expect((await beacon.entry(3)).data).toEqual(signBeaconRound(secret, 3))
    await expect(beacon.entry(0)).rejects.toThrow(RangeError)
  })
})

describe('judgeBlock and beacon entries', () => {
  const key = new Uint8Array(32).fill(8)
  const T0 = 1_800_000_000
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 'judge', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, T0)
  const init = { genesis: genesis.state, head: () => genesis.header, nowSecs: () => T0 + 10 }
  const msg = (entries: Array<{ round: number, data: Uint8Array }>): Uint8Array =>
    encodeBlockMsg(produceHeader(genesis.header, genesis, key, T0 + 1, entries))

  it('accepts a block whose entries the beacon signed', () => {
    expect(judgeBlock(msg(testBeaconEntries(genesis.header, genesis)), init).verdict).toBe('accept')
  })
  it('rejects one whose entry another key signed, though the producer signed the block', () => {
    const round = testBeaconEntries(genesis.header, genesis)[0]!.round
    const v = judgeBlock(msg([{ round, data: signBeaconRound(new Uint8Array(32).fill(5), round) }]), init)
    expect(v.verdict).toBe('reject')
    expect(v.verdict === 'reject' && v.error.name).toBe('BadBeaconSignatureError')
  })
  it('leaves which rounds a block carries to the node that holds its parent', () => {
    expect(judgeBlock(msg([]), init).verdict).toBe('accept')
  })
})

describe('challenge seeds from the beacon', () => {
  const timing = FILECOIN_MAINNET_QUICKNET_TIMING
  it('take the entry of the epoch\'s round from the block at the epoch, or from the first block after a null round', () => {
    const entry = (epoch: number): { round: number, data: Uint8Array } => ({ round: maxBeaconRoundForEpoch(timing, epoch), data: new Uint8Array(48).fill(epoch & 0xff) })
    const E = 4_800_000 // mainnet in the quicknet era: ten rounds an epoch
    expect(beaconEntryForEpoch(timing, E, { height: E, beaconEntries: [entry(E)] })).toEqual(entry(E))
    // epochs E+1 and E+2 were null rounds: the block at E+3 carries one entry per epoch since its parent at E
    const after = { height: E + 3, beaconEntries: [entry(E + 1), entry(E + 2), entry(E + 3)] }
    expect(beaconEntryForEpoch(timing, E + 1, after)).toEqual(entry(E + 1))
    expect(beaconEntryForEpoch(timing, E + 2, after)).toEqual(entry(E + 2))
    expect(beaconEntryForEpoch(timing, E, after)).toBeUndefined()
  })
  it('are Lotus\'s beacon randomness: blake2b of the entry\'s Data, WindowPoSt tag 4, the epoch, the deal ID as entropy', () => {
    const a = { round: 7, data: new Uint8Array(48).fill(1) }
    const b = { round: 7, data: new Uint8Array(48).fill(2) }
    expect(challengeSeed(a, 140, 9)).toEqual(drawRandomness(a.data, 4, 140, dagCbor.encode(9)))
    expect(challengeSeed(a, 140, 9)).not.toEqual(challengeSeed(b, 140, 9))
    expect(challengeSeed(a, 140, 9)).not.toEqual(challengeSeed(a, 140, 10))
  })
})
