import { describe, it, expect, beforeAll } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import {
  createGenesis, produceHeader, validateHeader, signBeaconRound, decodeGenesisState, encodeGenesisState, GENESIS_BEACON_ENTRY, sealHeader, idAddressBytes, blsPublicKey, blsSign, encodeHeader,
  unsealHeader, headerSigningBytes, chainCid, openGenesis, decodeHeader,
  type Genesis, type SealedHeader, type BlockHeader
} from '../../src/core'
import { TEST_BEACON, testBeaconEntries, testBeaconEntry } from '../helpers/test-beacon'

const key = new Uint8Array(32).fill(7)
const otherKey = new Uint8Array(32).fill(9)
const T0 = 1_800_000_000
let genesis: Genesis
let h1: SealedHeader
let h2: SealedHeader

beforeAll(() => {
  genesis = createGenesis({ beacon: TEST_BEACON, network: 'test', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, T0)
  h1 = produceHeader(genesis.header, genesis, key, T0 + 1, testBeaconEntries(genesis.header, genesis))
  h2 = produceHeader(h1, genesis, key, T0 + 2, testBeaconEntries(h1, genesis))
})

/** Re-signs a modified header with `signer`, as a dishonest producer would. */
function resign (h: BlockHeader, signer = key): SealedHeader {
  const unsigned = { ...h, blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(signer, headerSigningBytes(unsigned)) })
}

const NOW = T0 + 100

describe('header rules', () => {
  it('accepts an honest chain', () => {
    expect(() => validateHeader(h1, genesis.header, genesis, NOW)).not.toThrow()
    expect(() => validateHeader(h2, h1, genesis, NOW)).not.toThrow()
  })

  it('genesis carries Lotus\'s genesis beacon entry and the beacon\'s key; the first block builds on round 0', () => {
    expect(genesis.header.header.beaconEntries).toEqual([GENESIS_BEACON_ENTRY])
    expect(decodeGenesisState(genesis.stateBytes).beacon).toEqual(TEST_BEACON)
    // one round a second from the Unix epoch, one-second blocks: the block at T0 + 1 carries the round of its epoch
    expect(h1.header.beaconEntries.map(e => e.round)).toEqual([T0 + 1])
    expect(h2.header.beaconEntries.map(e => e.round)).toEqual([T0 + 2])
  })

  it('refuses a genesis without a beacon, with a malformed key, or with a beacon slower than its blocks', () => {
    const base = genesis.state
    const { beacon: _, ...noBeacon } = dagCbor.decode<Record<string, unknown>>(genesis.stateBytes)
    expect(() => decodeGenesisState(dagCbor.encode(noBeacon))).toThrow(/expected fields/)
    expect(() => decodeGenesisState(encodeGenesisState({ ...base, beacon: { ...TEST_BEACON, publicKey: new Uint8Array(48) } }))).toThrow(/expected fields/)
    expect(() => decodeGenesisState(encodeGenesisState({ ...base, beacon: { ...TEST_BEACON, periodSecs: 2 } }))).toThrow(/expected fields/)
    expect(() => createGenesis({ ...base, beacon: { ...TEST_BEACON, periodSecs: 2 } }, T0)).toThrow(RangeError)
    // 96 bytes that are no G2 point; a beacon that starts after the chain
    expect(() => decodeGenesisState(encodeGenesisState({ ...base, beacon: { ...TEST_BEACON, publicKey: new Uint8Array(96).fill(1) } }))).toThrow(/expected fields/)
    expect(() => createGenesis({ ...base, beacon: { ...TEST_BEACON, genesisTime: T0 + 1 } }, T0)).toThrow(/after the chain's genesis/)
    expect(decodeGenesisState(encodeGenesisState({ ...base, blockDelaySecs: 30, beacon: { ...TEST_BEACON, periodSecs: 3 } })).beacon.periodSecs).toBe(3)
  })

  it('CIDs are stable across encode/decode', () => {
    const again = unsealHeader(encodeHeader(decodeHeader(h2.bytes)))
    expect(again.cid.equals(h2.cid)).toBe(true)
    expect(chainCid(h2.bytes).toString()).toBe(h2.cid.toString())
  })

  it('opens a genesis only from bytes that hash to the trusted CID', () => {
    expect(openGenesis(genesis.header.cid, genesis.header.bytes, genesis.rootBytes, genesis.stateBytes, decodeHeader).state.network).toBe('test')
    expect(() => openGenesis(h1.cid, genesis.header.bytes, genesis.rootBytes, genesis.stateBytes, decodeHeader)).toThrow(/hashes to/)
    const otherState = createGenesis({ ...genesis.state, network: 'evil' }, T0)
    expect(() => openGenesis(genesis.header.cid, genesis.header.bytes, genesis.rootBytes, otherState.stateBytes, decodeHeader)).toThrow(/Info/)
  })

  const cases: Array<[string, () => SealedHeader, SealedHeader | (() => SealedHeader), string]> = [
    ['unknown parent', () => resign({ ...h2.header, parents: [genesis.header.cid] }), () => h1, 'UnknownParentError'],
    ['two parents', () => resign({ ...h2.header, parents: [h1.cid, h1.cid] }), () => h1, 'UnknownParentError'],
    ['height gap', () => resign({ ...h2.header, height: 3 }), () => h1, 'HeightGapError'],
    ['same height', () => resign({ ...h2.header, height: 1 }), () => h1, 'HeightGapError'],
    ['timestamp not increasing', () => resign({ ...h2.header, timestamp: h1.header.timestamp }), () => h1, 'TimestampError'],
    ['timestamp in the future', () => resign({ ...h2.header, timestamp: NOW + 60 }), () => h1, 'TimestampError'],
    ['wrong miner', () => resign({ ...h2.header, miner: idAddressBytes(1001) }), () => h1, 'WrongProducerError'],
    ['signed by another key', () => resign(h2.header, otherKey), () => h1, 'BadSignatureError'],
    ['unsigned', () => sealHeader({ ...h2.header, blockSig: null }), () => h1, 'BadSignatureError'],
    ['field changed after signing', () => sealHeader({ ...h2.header, parentWeight: 99n }), () => h1, 'BadSignatureError'],
    ['signature bytes flipped', () => {
      const data = h2.header.blockSig!.data.slice(); data[10]! ^= 1
      return sealHeader({ ...h2.header, blockSig: { type: 2, data } })
    }, () => h1, 'BadSignatureError'],
    ['secp signature type', () => sealHeader({ ...h2.header, blockSig: { type: 1, data: h2.header.blockSig!.data } }), () => h1, 'BadSignatureError'],
    // the beacon rules, each header re-signed by the true producer so only the beacon entry is wrong
    ['no beacon entry', () => resign({ ...h2.header, beaconEntries: [] }), () => h1, 'MissingBeaconEntriesError'],
    ['the parent\'s beacon round again', () => resign({ ...h2.header, beaconEntries: h1.header.beaconEntries }), () => h1, 'WrongBeaconRoundError'],
    ['a later beacon round', () => resign({ ...h2.header, beaconEntries: [testBeaconEntry(h2.header.beaconEntries[0]!.round + 1)] }), () => h1, 'WrongBeaconRoundError'],
    ['an extra beacon entry', () => resign({ ...h2.header, beaconEntries: [...h2.header.beaconEntries, testBeaconEntry(h2.header.beaconEntries[0]!.round + 1)] }), () => h1, 'UnexpectedBeaconEntriesError'],
    ['a beacon entry signed by another beacon key', () => {
      const round = h2.header.beaconEntries[0]!.round
      return resign({ ...h2.header, beaconEntries: [{ round, data: signBeaconRound(new Uint8Array(32).fill(5), round) }] })
    }, () => h1, 'BadBeaconSignatureError'],
    ['another round\'s beacon signature', () => {
      const round = h2.header.beaconEntries[0]!.round
      return resign({ ...h2.header, beaconEntries: [{ round, data: h1.header.beaconEntries[0]!.data }] })
    }, () => h1, 'BadBeaconSignatureError'],
    ['a beacon signature with a bit flipped', () => {
      const [e] = h2.header.beaconEntries; const data = e!.data.slice(); data[20]! ^= 1
      return resign({ ...h2.header, beaconEntries: [{ round: e!.round, data }] })
    }, () => h1, 'MalformedBeaconEntryError'],
    ['a beacon signature of the wrong length', () => resign({ ...h2.header, beaconEntries: [{ round: h2.header.beaconEntries[0]!.round, data: new Uint8Array(96) }] }), () => h1, 'MalformedBeaconEntryError']
  ]
  for (const [name, make, parent, expected] of cases) {
    it(`rejects: ${name}`, () => {
      const p = typeof parent === 'function' ? parent() : parent
      let caught: unknown
      try { validateHeader(make(), p, genesis, NOW) } catch (err) { caught = err }
      expect((caught as Error | undefined)?.name).toBe(expected)
    })
  }
})
