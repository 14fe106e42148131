// The drand beacon: real quicknet rounds verify and every altered one is refused by name; a devnet key signs
// and verifies; Filecoin's round rules (Lotus) against mainnet's numbers and a real mainnet header.
import { describe, it, expect } from 'vitest'
import { bls12_381 } from '@noble/curves/bls12-381.js'
import quicknet from '../fixtures/drand-quicknet-rounds.json'
import mainnetBlock from '../fixtures/drand-quicknet-mainnet-block.json'
import {
  BEACON_DST, DRAND_QUICKNET, FILECOIN_MAINNET_QUICKNET_TIMING, GENESIS_BEACON_ENTRY, BEACON_ENTRY_SEARCH_LIMIT,
  beaconMessage, beaconPublicKey, signBeaconRound, verifyBeaconEntry, maxBeaconRoundForEpoch, beaconRoundsForBlock,
  validateBeaconEntries, latestBeaconEntry, verifyBeaconBatch, BeaconEntryError, VerifiedBeaconEntries, type BeaconTiming, type BeaconHeaderLike
} from '../../src/core/beacon'
import { sealHeader, type BeaconEntry, type BlockHeader } from '../../src/core/block-header'
import { idAddressBytes } from '../../src/core/address'
import { CID } from '../../src/core/cid'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map(b => parseInt(b, 16)))
const toHex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const b64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'base64'))

/** The error `fn` throws, so a test can assert its name and fields. */
function thrown (fn: () => unknown): Error & Record<string, unknown> {
  try { fn() } catch (err) { return err as Error & Record<string, unknown> }
  throw new Error('expected a throw')
}

const QN_KEY = DRAND_QUICKNET.publicKey
const rounds: BeaconEntry[] = quicknet.rounds.map(r => ({ round: r.round, data: hex(r.signature) }))
const round3 = rounds.find(r => r.round === 3)!
const round2 = rounds.find(r => r.round === 2)!

describe('drand quicknet constants', () => {
  it('match the chain info the fixture copied from Lotus', () => {
    expect(toHex(DRAND_QUICKNET.publicKey)).toBe(quicknet.chain.public_key)
    expect(DRAND_QUICKNET.periodSecs).toBe(quicknet.chain.period)
    expect(DRAND_QUICKNET.genesisTime).toBe(quicknet.chain.genesis_time)
    expect(DRAND_QUICKNET.chainHash).toBe(quicknet.chain.hash)
    expect(DRAND_QUICKNET.groupHash).toBe(quicknet.chain.groupHash)
    expect(DRAND_QUICKNET.schemeId).toBe(quicknet.chain.schemeID)
    expect(FILECOIN_MAINNET_QUICKNET_TIMING.beaconGenesisTime).toBe(DRAND_QUICKNET.genesisTime)
    expect(FILECOIN_MAINNET_QUICKNET_TIMING.beaconPeriodSecs).toBe(DRAND_QUICKNET.periodSecs)
  })

  it('hash to G1 with the RFC 9380 G1 tag drand/drand crypto/schemes.go gives this scheme', () => {
    expect(BEACON_DST).toBe('BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_')
  })

  it('sign sha256 of the round as 8 big-endian bytes', () => {
    // sha256(00 00 00 00 00 00 00 01), computed independently with `printf '\0\0\0\0\0\0\0\1' | sha256sum`
    expect(toHex(beaconMessage(1))).toBe('cd2662154e6d76b2b2b92e70c0cac3ccf534f9b74eb5b89819ec509083d00a50')
    expect(() => beaconMessage(-1)).toThrow(RangeError)
    expect(() => beaconMessage(2 ** 53)).toThrow(RangeError)
  })
})

describe('quicknet fixtures verify', () => {
  for (const entry of rounds) {
    it(`round ${entry.round}`, () => {
      expect(() => verifyBeaconEntry(QN_KEY, entry)).not.toThrow()
    })
  }

  it('all at once (verifyBeaconBatch: two pairings for the lot), and not with one of them altered', () => {
    const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff)
    expect(verifyBeaconBatch(QN_KEY, rounds, random)).toBe(true)
    expect(verifyBeaconBatch(QN_KEY, rounds.map(e => e === round3 ? { round: 3, data: round2.data } : e), random)).toBe(false)
    expect(verifyBeaconBatch(QN_KEY, rounds.map(e => e === round3 ? { round: 4, data: round3.data } : e), random)).toBe(false)
  })

  it('measures one verifyBeaconEntry', () => {
    for (const e of rounds) verifyBeaconEntry(QN_KEY, e) // warm noble's tables
    const n = 20
    const t0 = performance.now()
    for (let i = 0; i < n; i++) verifyBeaconEntry(QN_KEY, rounds[i % rounds.length]!)
    const ms = (performance.now() - t0) / n
    console.log(`verifyBeaconEntry: ${ms.toFixed(1)} ms each (mean of ${n}, @noble/curves, key decoded each call)`)
    expect(ms).toBeGreaterThan(0)
  })
})

describe('altered quicknet entries are refused by name', () => {
  const refusal = (entry: BeaconEntry, key = QN_KEY) => thrown(() => verifyBeaconEntry(key, entry))

  it('a flipped bit in the x coordinate: no longer a subgroup point', () => {
    const data = round3.data.slice()
    data[47]! ^= 1
    const err = refusal({ round: 3, data })
    expect(err.name).toBe('MalformedBeaconEntryError')
    expect(err).toBeInstanceOf(BeaconEntryError)
    expect(err.code).toBe('MALFORMED')
    expect(err.round).toBe(3)
  })

  it('the flipped sign bit: the negated point, well formed but not the signature', () => {
    const data = round3.data.slice()
    data[0]! ^= 0x20 // compressed-form flag for the sign of y (ZCash serialisation)
    const err = refusal({ round: 3, data })
    expect(err.name).toBe('BadBeaconSignatureError')
    expect(err.code).toBe('BAD_SIGNATURE')
  })

  it('the wrong round', () => {
    const err = refusal({ round: 4, data: round3.data })
    expect(err.name).toBe('BadBeaconSignatureError')
    expect(err.round).toBe(4)
  })

  it("another round's signature", () => {
    expect(refusal({ round: 3, data: round2.data }).name).toBe('BadBeaconSignatureError')
  })

  it('a truncated signature', () => {
    const err = refusal({ round: 3, data: round3.data.subarray(0, 47) })
    expect(err.name).toBe('MalformedBeaconEntryError')
    expect(String(err.reason)).toContain('47 bytes')
  })

  it('a G2-sized (96-byte) signature from a chained scheme', () => {
    expect(refusal({ round: 3, data: new Uint8Array(96) }).name).toBe('MalformedBeaconEntryError')
  })

  it('a point not on the curve', () => {
    // x = 1: 1³ + 4 = 5 has no square root mod p (noble: "Cannot find square root"), so no y exists
    const data = new Uint8Array(48)
    data[0] = 0x80
    data[47] = 1
    const err = refusal({ round: 3, data })
    expect(err.name).toBe('MalformedBeaconEntryError')
  })

  it('a point on the curve outside the prime-order subgroup', () => {
    // x = 0: y² = 4, y = ±2 is on the curve, but not in the r-torsion subgroup
    const data = new Uint8Array(48)
    data[0] = 0x80
    const err = refusal({ round: 3, data })
    expect(err.name).toBe('MalformedBeaconEntryError')
    expect(String(err.reason)).toContain('subgroup')
  })

  it('the point at infinity', () => {
    const data = new Uint8Array(48)
    data[0] = 0xc0
    expect(refusal({ round: 3, data }).name).toBe('MalformedBeaconEntryError')
  })

  it('a round that is not a uint64', () => {
    expect(refusal({ round: -1, data: round3.data }).name).toBe('MalformedBeaconEntryError')
    expect(refusal({ round: 1.5, data: round3.data }).name).toBe('MalformedBeaconEntryError')
  })

  it('a malformed public key', () => {
    const short = refusal(round3, QN_KEY.subarray(0, 48))
    expect(short.name).toBe('MalformedBeaconKeyError')
    expect(String(short.reason)).toContain('48 bytes, expected 96')
    const flipped = QN_KEY.slice()
    flipped[95]! ^= 1
    expect(refusal(round3, flipped).name).toBe('MalformedBeaconKeyError')
  })
})

describe('a devnet beacon key', () => {
  const secretKey = new Uint8Array(32).fill(7) // below the group order r = 0x73ed…
  const publicKey = beaconPublicKey(secretKey)

  it('signs rounds that verify: 96-byte key, 48-byte signatures', () => {
    expect(publicKey.length).toBe(96)
    for (const round of [1, 2, 3, 12040883]) {
      const data = signBeaconRound(secretKey, round)
      expect(data.length).toBe(48)
      expect(() => verifyBeaconEntry(publicKey, { round, data })).not.toThrow()
    }
  })

  it('signatures are deterministic and bound to the key', () => {
    expect(signBeaconRound(secretKey, 5)).toEqual(signBeaconRound(secretKey, 5))
    const other = beaconPublicKey(new Uint8Array(32).fill(8))
    expect(thrown(() => verifyBeaconEntry(other, { round: 5, data: signBeaconRound(secretKey, 5) })).name).toBe('BadBeaconSignatureError')
    expect(thrown(() => verifyBeaconEntry(publicKey, round3)).name).toBe('BadBeaconSignatureError')
  })

  it("a signature hashed with the G2 tag (drand's deprecated bls-unchained-on-g1) is refused", () => {
    const short = bls12_381.shortSignatures
    const wrongTag = short.sign(short.hash(beaconMessage(5), 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_'), secretKey)
    expect(thrown(() => verifyBeaconEntry(publicKey, { round: 5, data: short.Signature.toBytes(wrongTag) })).name)
      .toBe('BadBeaconSignatureError')
  })
})

describe('maxBeaconRoundForEpoch (Lotus maxBeaconRoundV2)', () => {
  const mainnet = FILECOIN_MAINNET_QUICKNET_TIMING
  // Each value by hand from Lotus's formula: ts = 1598306400 + (epoch - 1) * 30;
  // round = ts < 1692803367 ? 1 : floor((ts - 1692803367) / 3) + 1.
  const cases: Array<[number, number, string]> = [
    [3149899, 1, 'ts 1692803340 is before quicknet genesis'],
    [3149900, 2, 'ts 1692803370: 3 s after genesis'],
    [3149901, 12, 'ts 1692803400: 33 s after genesis'],
    [3547000, 3971002, 'FIP-0063 (filecoin-project/FIPs#914), also in ChainSafe/forest src/beacon/tests/drand.rs'],
    [3855480, 7055802, 'UpgradePhoenixHeight, the first epoch on quicknet (lotus params_mainnet.go)'],
    [4863282, 17133822, 'the null round below the mainnet block in the fixture'],
    [4863283, 17133832, 'the mainnet block in the fixture'],
    [6216200, 30663002, 'ChainSafe/forest src/beacon/tests/drand.rs, checked there against the live network']
  ]
  for (const [epoch, round, why] of cases) {
    it(`mainnet epoch ${epoch} → round ${round} (${why})`, () => {
      expect(maxBeaconRoundForEpoch(mainnet, epoch)).toBe(round)
    })
  }

  it('a mainnet epoch moves ten quicknet rounds', () => {
    expect(maxBeaconRoundForEpoch(mainnet, 4000001) - maxBeaconRoundForEpoch(mainnet, 4000000)).toBe(10)
  })

  it('a devnet whose beacon starts with the chain and ticks once per epoch uses round = epoch', () => {
    const devnet: BeaconTiming = { filGenesisTime: 1_800_000_000, filBlockDelaySecs: 1, beaconGenesisTime: 1_800_000_000, beaconPeriodSecs: 1 }
    expect([0, 1, 2, 3, 100].map(e => maxBeaconRoundForEpoch(devnet, e))).toEqual([1, 1, 2, 3, 100])
  })

  it('refuses an epoch that is not a height', () => {
    expect(() => maxBeaconRoundForEpoch(mainnet, -1)).toThrow(RangeError)
    expect(() => maxBeaconRoundForEpoch(mainnet, 1.5)).toThrow(RangeError)
  })
})

describe('beaconRoundsForBlock (Lotus BeaconEntriesForBlock, unchained)', () => {
  const mainnet = FILECOIN_MAINNET_QUICKNET_TIMING
  const entry = (round: number): BeaconEntry => ({ round, data: new Uint8Array(48) })

  it('one round for a block on the epoch before it', () => {
    expect(beaconRoundsForBlock(mainnet, 4863283, 4863282, entry(17133822))).toEqual([17133832])
  })

  it('one round per epoch after null rounds, oldest first', () => {
    expect(beaconRoundsForBlock(mainnet, 4863283, 4863281, entry(17133812))).toEqual([17133822, 17133832])
    expect(beaconRoundsForBlock(mainnet, 4863283, 4863279, entry(17133792)))
      .toEqual([17133802, 17133812, 17133822, 17133832])
  })

  it('none when the newest round is already the latest entry (maxRound == prev.Round)', () => {
    expect(beaconRoundsForBlock(mainnet, 4863283, 4863282, entry(17133832))).toEqual([])
    // the case Lotus's comment does not expect, and a devnet meets: blocks faster than the beacon
    const fastChain: BeaconTiming = { filGenesisTime: 1000, filBlockDelaySecs: 1, beaconGenesisTime: 1000, beaconPeriodSecs: 3 }
    expect(beaconRoundsForBlock(fastChain, 3, 2, entry(1))).toEqual([])
    expect(beaconRoundsForBlock(fastChain, 4, 3, entry(1))).toEqual([2])
  })

  it('the first block after genesis (prev.Round == 0) carries its epochs rounds', () => {
    const devnet: BeaconTiming = { filGenesisTime: 1000, filBlockDelaySecs: 1, beaconGenesisTime: 1000, beaconPeriodSecs: 1 }
    expect(beaconRoundsForBlock(devnet, 1, 0, GENESIS_BEACON_ENTRY)).toEqual([1])
    expect(beaconRoundsForBlock(devnet, 3, 0, GENESIS_BEACON_ENTRY)).toEqual([1, 2, 3])
    // a beacon slower than the chain: Lotus's loop lists a shared round once per epoch
    const fastChain: BeaconTiming = { ...devnet, beaconPeriodSecs: 3 }
    expect(beaconRoundsForBlock(fastChain, 3, 0, GENESIS_BEACON_ENTRY)).toEqual([1, 1, 1])
  })

  it('refuses a block that does not follow its parent', () => {
    expect(() => beaconRoundsForBlock(mainnet, 10, 10, entry(1))).toThrow(RangeError)
  })
})

describe('validateBeaconEntries (Lotus ValidateBlockValues, unchained)', () => {
  it('accepts the real mainnet block at 4863283 on a parent at 4863281', () => {
    const block = mainnetBlock.tipset.Blocks[0]!
    const header = lotusJsonHeader(block)
    // the fixture is the real header, unaltered: it hashes to the CID Lotus lists for it
    expect(sealHeader(header).cid.toString()).toBe(mainnetBlock.tipset.Cids[0]!['/'])
    expect(header.beaconEntries.map(e => e.round)).toEqual([17133822, 17133832])
    const prev = { round: maxBeaconRoundForEpoch(FILECOIN_MAINNET_QUICKNET_TIMING, 4863281), data: new Uint8Array(48) }
    expect(() => validateBeaconEntries(FILECOIN_MAINNET_QUICKNET_TIMING, QN_KEY, header, 4863281, prev)).not.toThrow()
    // on a parent at 4863282 it would carry one entry too many
    const err = thrown(() => validateBeaconEntries(FILECOIN_MAINNET_QUICKNET_TIMING, QN_KEY, header, 4863282, header.beaconEntries[0]!))
    expect(err.name).toBe('UnexpectedBeaconEntriesError')
  })

  // a devnet: beacon from the chain's genesis, one round per 1 s epoch, so round = epoch
  const devnet: BeaconTiming = { filGenesisTime: 1000, filBlockDelaySecs: 1, beaconGenesisTime: 1000, beaconPeriodSecs: 1 }
  const sk = new Uint8Array(32).fill(9)
  const pk = beaconPublicKey(sk)
  const signed = (round: number): BeaconEntry => ({ round, data: signBeaconRound(sk, round) })
  const block = (height: number, beaconEntries: BeaconEntry[]): BeaconHeaderLike => ({ height, beaconEntries })
  const check = (h: BeaconHeaderLike, parentEpoch: number, prevRound: number) => () =>
    validateBeaconEntries(devnet, pk, h, parentEpoch, prevRound === 0 ? GENESIS_BEACON_ENTRY : signed(prevRound))

  it('accepts exactly the rounds since the parent, signed', () => {
    expect(check(block(5, [signed(3), signed(4), signed(5)]), 2, 2)).not.toThrow()
    expect(check(block(1, [signed(1)]), 0, 0)).not.toThrow()
  })

  it('refuses a missing entry', () => {
    const err = thrown(check(block(5, [signed(3), signed(5)]), 2, 2))
    expect(err.name).toBe('MissingBeaconEntriesError')
    expect(err.code).toBe('MISSING_ENTRIES')
    expect(thrown(check(block(5, []), 2, 2)).name).toBe('MissingBeaconEntriesError')
  })

  it('refuses an extra entry', () => {
    const err = thrown(check(block(5, [signed(3), signed(4), signed(5), signed(6)]), 2, 2))
    expect(err.name).toBe('UnexpectedBeaconEntriesError')
    expect(err.round).toBe(6)
    expect(thrown(check(block(5, [signed(2), signed(3), signed(4), signed(5)]), 2, 2)).name).toBe('UnexpectedBeaconEntriesError')
  })

  it('refuses entries when none are due (maxRound == prev.Round)', () => {
    const fastChain: BeaconTiming = { ...devnet, beaconPeriodSecs: 3 }
    const err = thrown(() => validateBeaconEntries(fastChain, pk, block(3, [signed(1)]), 2, signed(1)))
    expect(err.name).toBe('UnexpectedBeaconEntriesError')
    expect(() => validateBeaconEntries(fastChain, pk, block(3, []), 2, signed(1))).not.toThrow()
  })

  it('refuses reordered entries', () => {
    const err = thrown(check(block(5, [signed(4), signed(3), signed(5)]), 2, 2))
    expect(err.name).toBe('WrongBeaconRoundError')
    expect(err.code).toBe('WRONG_ROUND')
    expect(err.expected).toBe(3)
    expect(err.index).toBe(0)
  })

  it('refuses a stale round in the right place', () => {
    expect(thrown(check(block(3, [signed(2)]), 2, 2)).name).toBe('WrongBeaconRoundError')
  })

  it('refuses a bad signature among the right rounds', () => {
    const forged = { round: 4, data: signBeaconRound(new Uint8Array(32).fill(10), 4) }
    const err = thrown(check(block(5, [signed(3), forged, signed(5)]), 2, 2))
    expect(err.name).toBe('BadBeaconSignatureError')
    expect(err.round).toBe(4)
    expect(thrown(check(block(5, [signed(3), { round: 4, data: new Uint8Array(47) }, signed(5)]), 2, 2)).name)
      .toBe('MalformedBeaconEntryError')
  })
})

describe('latestBeaconEntry (Lotus GetLatestBeaconEntry)', () => {
  type H = BeaconHeaderLike & { parent?: H }
  const chain = (entriesAt: Record<number, BeaconEntry[]>, height: number): H => {
    let h: H = { height: 0, beaconEntries: entriesAt[0] ?? [] }
    for (let i = 1; i <= height; i++) h = { height: i, beaconEntries: entriesAt[i] ?? [], parent: h }
    return h
  }
  const e = (round: number): BeaconEntry => ({ round, data: new Uint8Array(48).fill(round) })
  const parentOf = (h: H) => h.parent

  it('the last entry of the head when it has any', () => {
    expect(latestBeaconEntry(chain({ 5: [e(4), e(5)] }, 5), parentOf).round).toBe(5)
  })

  it('walks back over blocks without entries', () => {
    expect(latestBeaconEntry(chain({ 2: [e(2)] }, 6), parentOf).round).toBe(2)
  })

  it("stops at genesis: Lotus's genesis entry, or a named error without it", () => {
    expect(latestBeaconEntry(chain({ 0: [GENESIS_BEACON_ENTRY] }, 3), parentOf)).toBe(GENESIS_BEACON_ENTRY)
    const err = thrown(() => latestBeaconEntry(chain({}, 3), parentOf))
    expect(err.name).toBe('NoBeaconEntryError')
    expect(err.code).toBe('REACHED_GENESIS')
  })

  it(`looks at no more than ${BEACON_ENTRY_SEARCH_LIMIT} tipsets`, () => {
    expect(latestBeaconEntry(chain({ 11: [e(11)] }, 30), parentOf).round).toBe(11) // the 20th from the head
    const err = thrown(() => latestBeaconEntry(chain({ 10: [e(10)] }, 30), parentOf)) // the 21st
    expect(err.name).toBe('NoBeaconEntryError')
    expect(err.code).toBe('SEARCH_LIMIT')
  })

  it('names an unknown parent', () => {
    const err = thrown(() => latestBeaconEntry(chain({}, 3), h => (h.height === 3 ? undefined : h.parent)))
    expect(err.name).toBe('NoBeaconEntryError')
    expect(err.code).toBe('UNKNOWN_PARENT')
  })
})

interface LotusBlock {
  Miner: string, Ticket: { VRFProof: string }, ElectionProof: { WinCount: number, VRFProof: string }
  BeaconEntries: Array<{ Round: number, Data: string }>, WinPoStProof: Array<{ PoStProof: number, ProofBytes: string }>
  Parents: Array<{ '/': string }>, ParentWeight: string, Height: number, ParentStateRoot: { '/': string }
  ParentMessageReceipts: { '/': string }, Messages: { '/': string }, BLSAggregate: { Type: number, Data: string }
  Timestamp: number, BlockSig: { Type: number, Data: string }, ForkSignaling: number, ParentBaseFee: string
}

/** A Lotus-JSON header (ChainGetBlock's form) as our BlockHeader. */
function lotusJsonHeader (b: LotusBlock): BlockHeader {
  return {
    miner: idAddressBytes(BigInt(b.Miner.slice(2))),
    ticket: b64(b.Ticket.VRFProof),
    electionProof: { winCount: b.ElectionProof.WinCount, vrfProof: b64(b.ElectionProof.VRFProof) },
    beaconEntries: b.BeaconEntries.map(e => ({ round: e.Round, data: b64(e.Data) })),
    winPoStProof: b.WinPoStProof.map(p => ({ postProof: p.PoStProof, proofBytes: b64(p.ProofBytes) })),
    parents: b.Parents.map(p => CID.parse(p['/'])),
    parentWeight: BigInt(b.ParentWeight),
    height: b.Height,
    parentStateRoot: CID.parse(b.ParentStateRoot['/']),
    parentMessageReceipts: CID.parse(b.ParentMessageReceipts['/']),
    messages: CID.parse(b.Messages['/']),
    blsAggregate: { type: b.BLSAggregate.Type, data: b64(b.BLSAggregate.Data) },
    timestamp: b.Timestamp,
    blockSig: { type: b.BlockSig.Type, data: b64(b.BlockSig.Data) },
    forkSignaling: b.ForkSignaling,
    parentBaseFee: BigInt(b.ParentBaseFee)
  }
}

describe('VerifiedBeaconEntries', () => {
  it('hits only for the same round and bytes, and keeps the last `limit` rounds added', () => {
    const entry = (round: number, fill: number): BeaconEntry => ({ round, data: new Uint8Array(48).fill(fill) })
    const cache = new VerifiedBeaconEntries(2)
    cache.add([entry(1, 1), entry(2, 2)])
    expect(cache.has(entry(1, 1))).toBe(true)
    expect(cache.has(entry(1, 2))).toBe(false)
    expect(cache.unverified([entry(1, 1), entry(2, 9), entry(3, 3)]).map(e => e.round)).toEqual([2, 3])
    cache.add([entry(3, 3)])
    expect(cache.size).toBe(2)
    expect(cache.has(entry(1, 1))).toBe(false)
    expect(cache.has(entry(3, 3))).toBe(true)
  })
})

describe('mcl-wasm checks beacon signatures as noble does (mclBeaconCheck, the tab\'s gossip judge)', async () => {
  const { mclBeaconCheck } = await import('../../src/core/finality/mcl-bls')
  const check = await mclBeaconCheck()
  const secretKey = new Uint8Array(32).fill(7)
  const devnetKey = beaconPublicKey(secretKey)
  const altered = (data: Uint8Array, at: number, bit: number): Uint8Array => { const d = data.slice(); d[at]! ^= bit; return d }

  it('real quicknet rounds and devnet-signed rounds verify', () => {
    for (const e of rounds) expect(check(QN_KEY, beaconMessage(e.round), e.data)).toBe(true)
    for (const round of [1, 2, 12040883]) expect(check(devnetKey, beaconMessage(round), signBeaconRound(secretKey, round))).toBe(true)
  })

  it('every altered one fails: another round, key, sign, x coordinate, length, the G2 tag, the point at infinity', () => {
    expect(check(QN_KEY, beaconMessage(4), round3.data)).toBe(false)
    expect(check(devnetKey, beaconMessage(3), round3.data)).toBe(false)
    expect(check(QN_KEY, beaconMessage(3), altered(round3.data, 0, 0x20))).toBe(false)
    expect(check(QN_KEY, beaconMessage(3), altered(round3.data, 47, 1))).toBe(false)
    expect(check(QN_KEY, beaconMessage(3), round3.data.subarray(0, 47))).toBe(false)
    expect(check(QN_KEY.subarray(0, 95), beaconMessage(3), round3.data)).toBe(false)
    expect(check(altered(QN_KEY, 95, 1), beaconMessage(3), round3.data)).toBe(false)
    const short = bls12_381.shortSignatures
    const wrongTag = short.Signature.toBytes(short.sign(short.hash(beaconMessage(5), 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_'), secretKey))
    expect(check(devnetKey, beaconMessage(5), wrongTag)).toBe(false)
    expect(check(devnetKey, beaconMessage(5), Uint8Array.of(0xc0, ...new Uint8Array(47)))).toBe(false)
  })

  it('a cache using it still refuses a bad entry by noble\'s name, and a check that says no never refuses a good one', () => {
    const cache = new VerifiedBeaconEntries()
    cache.useCheck(check)
    expect(() => { cache.verify(QN_KEY, round3) }).not.toThrow()
    expect(thrown(() => { cache.verify(QN_KEY, { round: 3, data: altered(round3.data, 0, 0x20) }) }).name).toBe('BadBeaconSignatureError')
    expect(thrown(() => { cache.verify(QN_KEY, { round: 3, data: altered(round3.data, 47, 1) }) }).name).toBe('MalformedBeaconEntryError')
    expect(thrown(() => { cache.verify(QN_KEY, { round: -1, data: round3.data }) }).name).toBe('MalformedBeaconEntryError')
    const sceptic = new VerifiedBeaconEntries()
    sceptic.useCheck(() => false)
    expect(() => { sceptic.verify(QN_KEY, round2) }).not.toThrow()
  })
})
