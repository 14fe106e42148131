// What a node does with an entry on the beacon topic: the beacon's own rounds are taken; anything malformed or
// not the beacon's signature is rejected (its relay penalised); a round not due yet by our clock, or older than
// the rounds kept, is ignored without a pairing.
import { describe, it, expect } from 'vitest'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import * as dagCbor from '@ipld/dag-cbor'
import { beaconPublicKey, signBeaconRound, currentBeaconRound, beaconRoundTime, VerifiedBeaconEntries } from '../../src/core'
import { mclBeaconCheck } from '../../src/core/finality/mcl-bls'
import { judgeBeaconEntry, encodeBeaconEntryMsg, decodeBeaconEntryMsg, BEACON_KEEP_ROUNDS } from '../../src/net/beacon-gossip'

const secret = new Uint8Array(32).fill(61)
const beacon = { publicKey: beaconPublicKey(secret), genesisTime: 1_800_000_000, periodSecs: 3 }
const nowMs = (): number => 1_800_000_000_000 + 3000 * 99 + 1500 // between rounds 100 and 101
const entry = (round: number, key = secret): { round: number, data: Uint8Array } => ({ round, data: signBeaconRound(key, round) })
const judge = (data: Uint8Array): ReturnType<typeof judgeBeaconEntry> => judgeBeaconEntry(data, { beacon, nowMs })
const nameOf = (v: ReturnType<typeof judgeBeaconEntry>): string | undefined => v.result === TopicValidatorResult.Reject ? v.error.name : undefined

describe('beacon gossip', () => {
  it('round trips [Round, Data]', () => {
    const e = entry(100)
    expect(decodeBeaconEntryMsg(encodeBeaconEntryMsg(e))).toEqual(e)
    expect(currentBeaconRound(beacon, Math.floor(nowMs() / 1000))).toBe(100)
    expect(beaconRoundTime(beacon, 101) * 1000).toBeGreaterThan(nowMs())
  })
  it('takes the beacon\'s current round and recent ones', () => {
    expect(judge(encodeBeaconEntryMsg(entry(100))).result).toBe(TopicValidatorResult.Accept)
    expect(judge(encodeBeaconEntryMsg(entry(100 - BEACON_KEEP_ROUNDS))).result).toBe(TopicValidatorResult.Accept)
  })
  it('rejects by name what no beacon made: another key\'s signature, another round\'s, junk bytes, a short signature', () => {
    expect(nameOf(judge(encodeBeaconEntryMsg(entry(100, new Uint8Array(32).fill(5)))))).toBe('BadBeaconSignatureError')
    expect(nameOf(judge(encodeBeaconEntryMsg({ round: 100, data: entry(99).data })))).toBe('BadBeaconSignatureError')
    expect(nameOf(judge(Uint8Array.of(0x83, 1, 2)))).toBe('MalformedBeaconEntryError')
    expect(nameOf(judge(dagCbor.encode([100, new Uint8Array(47)])))).toBe('MalformedBeaconEntryError')
    expect(nameOf(judge(dagCbor.encode(['100', entry(100).data])))).toBe('MalformedBeaconEntryError')
    expect(nameOf(judge(new Uint8Array(4096)))).toBe('MalformedBeaconEntryError')
  })
  it('with the chain\'s cache and mcl-wasm\'s check: a round taken is recorded (its blocks then pay no pairing), a forged one is refused by the same name and not recorded', async () => {
    const verified = new VerifiedBeaconEntries()
    verified.useCheck(await mclBeaconCheck())
    const judgeCached = (data: Uint8Array): ReturnType<typeof judgeBeaconEntry> => judgeBeaconEntry(data, { beacon, nowMs, verified })
    expect(judgeCached(encodeBeaconEntryMsg(entry(100))).result).toBe(TopicValidatorResult.Accept)
    expect(verified.has(entry(100))).toBe(true)
    const forged = { round: 99, data: entry(98).data }
    expect(nameOf(judgeCached(encodeBeaconEntryMsg(forged)))).toBe('BadBeaconSignatureError')
    expect(verified.has(forged)).toBe(false)
    expect(nameOf(judgeCached(dagCbor.encode([99, new Uint8Array(47)])))).toBe('MalformedBeaconEntryError')
    expect(verified.size).toBe(1)
  })
  it('ignores a round not due yet (even a real one: it cannot be) and a stale one, without checking the signature', () => {
    // round 103 is due 7.5 s from now, past the 5 s of clock drift allowed
    expect(judge(encodeBeaconEntryMsg({ round: 103, data: new Uint8Array(48) })).result).toBe(TopicValidatorResult.Ignore)
    expect(judge(encodeBeaconEntryMsg({ round: 100 - BEACON_KEEP_ROUNDS - 1, data: new Uint8Array(48) })).result).toBe(TopicValidatorResult.Ignore)
  })
})
