// TipSetKey against Lotus's own test (filecoin-project/lotus chain/types/tipset_key_test.go, TestTipSetKey):
// the CIDs of "a", "b", "c" and the derived key CIDs it asserts; and Lotus's tipset rules.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  chainCid, tipSetKeyCid, encodeTipSetKey, decodeTipSetKey, makeTipSet, createGenesis, produceHeader, idAddressBytes, blsPublicKey
} from '../../src/core'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const [c1, c2, c3] = ['a', 'b', 'c'].map(s => chainCid(utf8(s))) as [ReturnType<typeof chainCid>, ReturnType<typeof chainCid>, ReturnType<typeof chainCid>]

describe('TipSetKey (Lotus vectors)', () => {
  it('derives the CIDs Lotus derives', () => {
    expect(c1.toString()).toBe('bafy2bzacecesrkxghscnq7vatble2hqdvwat6ed23vdu4vvo3uuggsoaya7ki')
    expect(c2.toString()).toBe('bafy2bzacebxfyh2fzoxrt6kcgc5dkaodpcstgwxxdizrww225vrhsizsfcg4g')
    expect(c3.toString()).toBe('bafy2bzacedwviarjtjraqakob5pslltmuo5n3xev3nt5zylezofkbbv5jclyu')
    expect(tipSetKeyCid([]).toString()).toBe('bafy2bzacea456askyutsf7uk4ta2q5aojrlcji4mhaqokbfalgvoq4ueeh4l2')
    expect(tipSetKeyCid([c1]).toString()).toBe('bafy2bzacealem6larzxhf7aggj3cozcefqez3jlksx2tuxehwdil27otcmy4q')
    expect(tipSetKeyCid([c1, c2, c3]).toString()).toBe('bafy2bzacecbnwngwfvxuciumcfudiaoqozisp3hus5im5lg4urrwlxbueissu')
  })

  it('round-trips key bytes and refuses a truncated key', () => {
    for (const key of [[], [c1], [c1, c2, c3], [c1, c1]]) {
      expect(decodeTipSetKey(encodeTipSetKey(key)).map(String)).toEqual(key.map(String))
    }
    expect(() => decodeTipSetKey(encodeTipSetKey([c1]).subarray(1))).toThrow(/TipSetKey/)
  })
})

describe('makeTipSet', () => {
  const key = bls12_381.longSignatures.keygen().secretKey
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 't', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
  const a = produceHeader(genesis.header, genesis, key, 1_800_000_001, testBeaconEntries(genesis.header, genesis))
  const b = produceHeader(genesis.header, genesis, key, 1_800_000_002, testBeaconEntries(genesis.header, genesis)) // same parent and height, another block
  const c = produceHeader(a, genesis, key, 1_800_000_003, testBeaconEntries(a, genesis))

  it('orders blocks canonically and keys the tipset by their CIDs', () => {
    const ts1 = makeTipSet([a, b])
    const ts2 = makeTipSet([b, a])
    expect(ts1.key.map(String)).toEqual(ts2.key.map(String))
    expect(ts1.height).toBe(1)
  })

  it('refuses blocks of different heights or parents, and an empty tipset', () => {
    expect(() => makeTipSet([a, c])).toThrow(/height/)
    expect(() => makeTipSet([])).toThrow(/at least one/)
  })
})
