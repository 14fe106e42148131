import { describe, it, expect, beforeAll } from 'vitest'
import {
  createGenesis, produceHeader, validateHeader, sealHeader, idAddressBytes, blsPublicKey, blsSign, encodeHeader,
  unsealHeader, headerSigningBytes, chainCid, openGenesis, decodeHeader,
  type Genesis, type SealedHeader, type BlockHeader
} from '../../src/core'

const key = new Uint8Array(32).fill(7)
const otherKey = new Uint8Array(32).fill(9)
const T0 = 1_800_000_000
let genesis: Genesis
let h1: SealedHeader
let h2: SealedHeader

beforeAll(() => {
  genesis = createGenesis({ network: 'test', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, T0)
  h1 = produceHeader(genesis.header, genesis, key, T0 + 1)
  h2 = produceHeader(h1, genesis, key, T0 + 2)
})

/** Re-signs a modified header with `signer`, as a dishonest producer would. */
function resign (h: BlockHeader, signer = key): SealedHeader {
  const unsigned = { ...h, blockSig: null }
  return sealHeader({ ...unsigned, blockSig: blsSign(signer, headerSigningBytes(unsigned)) })
}

const NOW = T0 + 100

describe('header rules', () => {
  it('accepts an honest chain', () => {
    expect(() => validateHeader(h1, genesis.header, genesis.state, NOW)).not.toThrow()
    expect(() => validateHeader(h2, h1, genesis.state, NOW)).not.toThrow()
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
    ['secp signature type', () => sealHeader({ ...h2.header, blockSig: { type: 1, data: h2.header.blockSig!.data } }), () => h1, 'BadSignatureError']
  ]
  for (const [name, make, parent, expected] of cases) {
    it(`rejects: ${name}`, () => {
      const p = typeof parent === 'function' ? parent() : parent
      let caught: unknown
      try { validateHeader(make(), p, genesis.state, NOW) } catch (err) { caught = err }
      expect((caught as Error | undefined)?.name).toBe(expected)
    })
  }
})
