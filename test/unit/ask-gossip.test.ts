// Ask announcements on gossip: each refusal by name (junk, an unknown miner, a signature that is not the
// worker's, an author that is not the miner's peer, an expired or stale ask, a flood), the verdict gossipsub
// scores for each, and the one ask per miner the book keeps.
import { describe, it, expect } from 'vitest'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import {
  secpAddressBytes, secpPublicKey, idAddressBytes, parseFil, signStorageAsk, encodeSignedStorageAsk, InvalidAskError,
  type StorageAsk, type MinerInfo
} from '../../src/core'
import {
  askTopic, validateAskAnnouncement, AskBook, askTopicValidator, MAX_ASK_ANNOUNCEMENT_BYTES, ASK_RELAY_RATE,
  AskSignerMismatchError, AskPeerMismatchError, AskUnknownMinerError, AskExpiredError, AskStaleError, AskRateLimitedError, AskTooLargeError, AskUnsignedError,
  AskMinerNotIdError, AskRelayFloodError
} from '../../src/net/ask-gossip'
import { gossipScoreParams, ASK_TOPIC_SCORE } from '../../src/net/libp2p-node'

const workerKey = secp256k1.utils.randomSecretKey()
const worker = secpAddressBytes(secpPublicKey(workerKey))
const otherKey = secp256k1.utils.randomSecretKey()
const MINER = idAddressBytes(1004)
const minerPeer: PeerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const otherPeer: PeerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const info = { owner: worker, worker, peerId: minerPeer.toMultihash().bytes, multiaddrs: [] } as unknown as MinerInfo
const minerInfoOf = (m: Uint8Array): MinerInfo | null => m.length === MINER.length && m.every((b, i) => b === MINER[i]) ? info : null

const ask = (over: Partial<StorageAsk> = {}): StorageAsk => ({
  pricePerGiBEpoch: 1_000_000_000n, verifiedPricePerGiBEpoch: 1_000_000_000n, minPieceSize: 128, maxPieceSize: 2 ** 34, miner: MINER,
  timestamp: 10, expiry: 610, seqNo: 3, freeBytes: 2 ** 30, collateralPerGiB: parseFil('0.1'),
  retrievalPricePerGiB: 0n, paymentInterval: 2 ** 20, paymentIntervalIncrease: 2 ** 20, ...over
})
const announced = (over: Partial<StorageAsk> = {}, key = workerKey, signer = worker): Uint8Array => encodeSignedStorageAsk(signStorageAsk(key, signer, ask(over)))

describe('ask announcements', () => {
  it('are on /coffer/asks/<network>', () => {
    expect(askTopic('coffer-devnet')).toBe('/coffer/asks/coffer-devnet')
  })

  it('verify when the worker signed and the miner\'s own peer wrote them', async () => {
    const a = await validateAskAnnouncement(announced(), minerPeer, minerInfoOf, { epoch: 100 })
    expect(a.miner).toBe('t01004')
    expect(a.peer).toBe(minerPeer.toString())
    expect(a.signed.ask.seqNo).toBe(3)
    // a peer ID given as a string is the same check
    await expect(validateAskAnnouncement(announced(), minerPeer.toString(), minerInfoOf)).resolves.toBeDefined()
  })

  it('refuse each fault by name', async () => {
    // a fresh author is refused before the signature is checked (the byte compare first): whatever it carries
    await expect(validateAskAnnouncement(announced({}, otherKey, secpAddressBytes(secpPublicKey(otherKey))), otherPeer, minerInfoOf)).rejects.toBeInstanceOf(AskPeerMismatchError)
    // signed by a key that is not the on-chain worker (its own address signs, a valid signature of the wrong key)
    await expect(validateAskAnnouncement(announced({}, otherKey, secpAddressBytes(secpPublicKey(otherKey))), minerPeer, minerInfoOf)).rejects.toBeInstanceOf(AskSignerMismatchError)
    // the worker's genuine ask, re-published by another peer claiming to be the provider
    await expect(validateAskAnnouncement(announced(), otherPeer, minerInfoOf)).rejects.toBeInstanceOf(AskPeerMismatchError)
    await expect(validateAskAnnouncement(announced({ miner: idAddressBytes(1099) }), minerPeer, minerInfoOf)).rejects.toBeInstanceOf(AskUnknownMinerError)
    await expect(validateAskAnnouncement(announced({ expiry: 50 }), minerPeer, minerInfoOf, { epoch: 51 })).rejects.toBeInstanceOf(AskExpiredError)
    await expect(validateAskAnnouncement(new Uint8Array([1, 2, 3]), minerPeer, minerInfoOf)).rejects.toBeInstanceOf(InvalidAskError)
    await expect(validateAskAnnouncement(new Uint8Array(MAX_ASK_ANNOUNCEMENT_BYTES + 1), minerPeer, minerInfoOf)).rejects.toBeInstanceOf(AskTooLargeError)
    // the signature covers every field: one changed on the way no longer verifies
    const bytes = announced()
    const tampered = announced({ pricePerGiBEpoch: 1n })
    tampered.set(bytes.subarray(bytes.length - 66), tampered.length - 66) // the original signature on the cheaper ask
    await expect(validateAskAnnouncement(tampered, minerPeer, minerInfoOf)).rejects.toBeInstanceOf(AskSignerMismatchError)
  })
})

describe('AskBook', () => {
  const book = (nowMs: () => number = () => 0): AskBook => new AskBook({ minerInfoOf, nowMs, epoch: () => 100 })

  it('keeps one ask per miner: the highest SeqNo; an older one is stale, the same one a liveness beat', async () => {
    let now = 0
    const b = book(() => now)
    await b.admit(announced({ seqNo: 5 }), minerPeer)
    now += 2000
    await expect(b.admit(announced({ seqNo: 4 }), minerPeer)).rejects.toBeInstanceOf(AskStaleError)
    // another ask under the SeqNo already kept
    await expect(b.admit(announced({ seqNo: 5, pricePerGiBEpoch: 7n }), minerPeer)).rejects.toBeInstanceOf(AskStaleError)
    now += 2000
    await b.admit(announced({ seqNo: 5 }), minerPeer) // re-announced as it was: accepted, heard again
    expect(b.latest('t01004')?.heardAtMs).toBe(4000)
    await b.admit(announced({ seqNo: 6, pricePerGiBEpoch: 9n }), minerPeer)
    expect(b.all()).toHaveLength(1)
    expect(b.latest('t01004')?.signed.ask.pricePerGiBEpoch).toBe(9n)
  })

  it('bounds a flood per author before any state read, and keeps nothing from a refusal', async () => {
    let reads = 0
    const b = new AskBook({ minerInfoOf: (m) => { reads++; return minerInfoOf(m) }, nowMs: () => 0 })
    const results = await Promise.allSettled(Array.from({ length: 50 }, async (_, i) => await b.admit(announced({ seqNo: 100 + i }), otherPeer)))
    const names = results.map(r => r.status === 'rejected' ? (r.reason as Error).name : 'ok')
    expect(names.filter(n => n === 'AskRateLimitedError')).toHaveLength(45)
    expect(names.filter(n => n === 'AskPeerMismatchError')).toHaveLength(5)
    expect(reads).toBe(5)
    expect(b.all()).toHaveLength(0)
    // another author is not held back by the flooder's bucket
    await expect(b.admit(announced(), minerPeer)).resolves.toBeDefined()
    await expect(b.admit(announced(), undefined)).rejects.toBeInstanceOf(AskUnsignedError)
    expect(new AskRateLimitedError('x', 1).name).toBe('AskRateLimitedError')
  })
})

describe('askTopicValidator', () => {
  const msg = (data: Uint8Array, from?: PeerId): Parameters<ReturnType<typeof askTopicValidator>>[1] => (from === undefined
    ? { type: 'unsigned', topic: askTopic('n'), data }
    : { type: 'signed', from, topic: askTopic('n'), data, sequenceNumber: 1n, signature: new Uint8Array(), key: from.publicKey! })

  it('accepts a verified ask, rejects what is bad on any state, ignores what may be fine elsewhere', async () => {
    const heard: string[] = []
    const refused: string[] = []
    const v = askTopicValidator({ minerInfoOf, nowMs: () => 0, epoch: () => 100, onAsk: a => heard.push(a.miner), onRefused: e => refused.push(e.name) })
    expect(await v(otherPeer, msg(announced({ seqNo: 8 }), minerPeer))).toBe(TopicValidatorResult.Accept)
    expect(heard).toEqual(['t01004'])
    expect(await v(otherPeer, msg(announced({ seqNo: 9 }), otherPeer))).toBe(TopicValidatorResult.Reject)
    expect(await v(otherPeer, msg(announced({ seqNo: 9 }, otherKey, secpAddressBytes(secpPublicKey(otherKey))), minerPeer))).toBe(TopicValidatorResult.Reject)
    expect(await v(otherPeer, msg(new Uint8Array([0xff]), minerPeer))).toBe(TopicValidatorResult.Reject)
    expect(await v(otherPeer, msg(announced({ seqNo: 9 })))).toBe(TopicValidatorResult.Reject)
    expect(await v(otherPeer, msg(announced({ seqNo: 7 }), minerPeer))).toBe(TopicValidatorResult.Ignore)
    expect(await v(otherPeer, msg(announced({ seqNo: 9, miner: idAddressBytes(1099) }), minerPeer))).toBe(TopicValidatorResult.Ignore)
    expect(refused).toEqual(['AskPeerMismatchError', 'AskSignerMismatchError', 'InvalidAskError', 'AskUnsignedError', 'AskStaleError', 'AskUnknownMinerError'])
  })
})

/** Fresh gossip authors: keys anyone makes for nothing. */
const freshPeers = async (n: number): Promise<PeerId[]> => await Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
const names = (results: Array<PromiseSettledResult<unknown>>): string[] => results.map(r => r.status === 'rejected' ? (r.reason as Error).name : 'ok')
const count = (xs: string[], x: string): number => xs.filter(n => n === x).length

/** The chain's reads as a node makes them, counted. */
function countedReads (miners: Uint8Array[] = [MINER]): { reads: { infos: number, lists: number }, minerInfoOf: (m: Uint8Array) => MinerInfo | null, minersOf: () => Uint8Array[] } {
  const reads = { infos: 0, lists: 0 }
  return { reads, minerInfoOf: (m) => { reads.infos++; return minerInfoOf(m) }, minersOf: () => { reads.lists++; return miners } }
}

describe('AskBook flood bounds (relay and miner list)', () => {
  it('reads the miner list once per head: an unknown miner costs a set lookup, never a miner read', async () => {
    const r = countedReads()
    let head = 'h1'
    const b = new AskBook({ ...r, headKey: () => head, nowMs: () => 0 })
    const authors = await freshPeers(60)
    // each from its own fresh author (the author bound never bites) and with no relay bound: only the list stops them
    const res = await Promise.allSettled(authors.map(async (a, i) => await b.admit(announced({ miner: idAddressBytes(5000 + i) }), a)))
    expect(count(names(res), 'AskUnknownMinerError')).toBe(60)
    expect(r.reads).toEqual({ infos: 0, lists: 1 })
    head = 'h2'
    await expect(b.admit(announced({ miner: idAddressBytes(7000) }), authors[0]!)).rejects.toBeInstanceOf(AskUnknownMinerError)
    expect(r.reads).toEqual({ infos: 0, lists: 2 })
  })

  it('reads a listed miner\'s record once per head, however many fresh authors claim it', async () => {
    const r = countedReads()
    const b = new AskBook({ ...r, headKey: () => 'h1', nowMs: () => 0, epoch: () => 100 })
    const res = await Promise.allSettled((await freshPeers(40)).map(async (a, i) => await b.admit(announced({ seqNo: 10 + i }), a)))
    expect(count(names(res), 'AskPeerMismatchError')).toBe(40)
    expect(r.reads).toEqual({ infos: 1, lists: 1 })
    // the miner's own announcement is served from the same reads
    await expect(b.admit(announced({ seqNo: 99 }), minerPeer)).resolves.toBeDefined()
    expect(r.reads).toEqual({ infos: 1, lists: 1 })
  })

  it('a failed read is not kept: the next announcement reads again', async () => {
    let fail = true
    let lists = 0
    const b = new AskBook({ minerInfoOf, minersOf: () => { lists++; if (fail) throw new Error('no peer'); return [MINER] }, headKey: () => 'h', nowMs: () => 0 })
    await expect(b.admit(announced(), minerPeer)).rejects.toThrow('no peer')
    fail = false
    await expect(b.admit(announced(), minerPeer)).resolves.toBeDefined()
    expect(lists).toBe(2)
  })

  it('bounds what one relay hands over from many fresh authors: past its burst, what does not verify is a relay flood', async () => {
    const r = countedReads()
    const relay = otherPeer
    const b = new AskBook({ ...r, headKey: () => 'h1', nowMs: () => 0 })
    const authors = await freshPeers(50)
    const res: string[] = []
    for (const [i, a] of authors.entries()) res.push(...names(await Promise.allSettled([b.admit(announced({ miner: idAddressBytes(5000 + i) }), a, relay)])))
    expect(res.slice(0, ASK_RELAY_RATE.burst)).toEqual(Array(ASK_RELAY_RATE.burst).fill('AskUnknownMinerError'))
    expect(res.slice(ASK_RELAY_RATE.burst)).toEqual(Array(50 - ASK_RELAY_RATE.burst).fill('AskRelayFloodError'))
    expect(r.reads).toEqual({ infos: 0, lists: 1 })
    // another relay is not held to the flooder's bound
    await expect(b.admit(announced({ miner: idAddressBytes(6000) }), authors[0]!, minerPeer)).rejects.toBeInstanceOf(AskUnknownMinerError)
    const e = new AskRelayFloodError('p', new AskUnknownMinerError('t05000'))
    expect([e.name, e.cause.name]).toEqual(['AskRelayFloodError', 'AskUnknownMinerError'])
  })

  it('a relay past its bound causes no state read: what needs one is ignored, what the head\'s reads already answer is judged', async () => {
    const r = countedReads()
    let head = 'h1'
    const b = new AskBook({ ...r, headKey: () => head, nowMs: () => 0, epoch: () => 100 })
    const flooder = otherPeer
    for (const a of await freshPeers(ASK_RELAY_RATE.burst)) await b.admit(announced({ miner: idAddressBytes(5000) }), a, flooder).catch(() => {})
    head = 'h2' // nothing read at this head yet
    const fresh = (await freshPeers(1))[0]!
    const e = await b.admit(announced({ miner: idAddressBytes(5001) }), fresh, flooder).catch((err: Error) => err)
    expect(e).toBeInstanceOf(AskRateLimitedError)
    expect((e as AskRateLimitedError).by).toBe('relay')
    expect(r.reads).toEqual({ infos: 0, lists: 1 })
    // once an honest relay's announcement has the head read, the flooder's copy of a genuine ask is accepted, not rejected
    await b.admit(announced({ seqNo: 20 }), minerPeer, minerPeer)
    expect(r.reads).toEqual({ infos: 1, lists: 2 })
    await expect(b.admit(announced({ seqNo: 21 }), minerPeer, flooder)).resolves.toBeDefined()
    await expect(b.admit(announced({ miner: idAddressBytes(5002) }), fresh, flooder)).rejects.toBeInstanceOf(AskRelayFloodError)
    await expect(b.admit(announced({ seqNo: 22 }), fresh, flooder)).rejects.toBeInstanceOf(AskPeerMismatchError)
    expect(r.reads).toEqual({ infos: 1, lists: 2 })
  })

  it('an honest relay is never held back: a verified announcement gives its token back', async () => {
    let now = 0
    const b = new AskBook({ ...countedReads(), headKey: () => 'h', nowMs: () => now, epoch: () => 100 })
    for (let i = 0; i < 4 * ASK_RELAY_RATE.burst; i++) {
      now += 1000 // the miner's own author bound: one a second
      await b.admit(announced({ seqNo: 100 + i }), minerPeer, otherPeer)
    }
    expect(b.latest('t01004')?.signed.ask.seqNo).toBe(100 + 4 * ASK_RELAY_RATE.burst - 1)
  })

  it('refuses an ask whose miner is not an ID address, before any read', async () => {
    const r = countedReads()
    const b = new AskBook({ ...r, headKey: () => 'h', nowMs: () => 0 })
    await expect(b.admit(announced({ miner: worker }), minerPeer)).rejects.toBeInstanceOf(AskMinerNotIdError)
    expect(r.reads).toEqual({ infos: 0, lists: 0 })
  })
})

describe('ask topic scoring', () => {
  it('scores the ask topic, so a Reject counts against the relay (a topic without parameters scores nothing)', () => {
    const p = gossipScoreParams({ network: 'n' })
    expect(p.topics[askTopic('n')]).toBe(ASK_TOPIC_SCORE)
    expect(ASK_TOPIC_SCORE.invalidMessageDeliveriesWeight * ASK_TOPIC_SCORE.topicWeight).toBe(-100)
    expect(ASK_TOPIC_SCORE.firstMessageDeliveriesWeight).toBe(0)
  })

  it('a flooding relay\'s surplus is Rejected; a relay past its bound asking for a read is Ignored', async () => {
    const r = countedReads()
    const v = askTopicValidator({ ...r, headKey: () => 'h', nowMs: () => 0, epoch: () => 100 })
    const m = (data: Uint8Array, from: PeerId): Parameters<typeof v>[1] => ({ type: 'signed', from, topic: askTopic('n'), data, sequenceNumber: 1n, signature: new Uint8Array(), key: from.publicKey! })
    const verdicts: TopicValidatorResult[] = []
    for (const [i, a] of (await freshPeers(ASK_RELAY_RATE.burst + 3)).entries()) verdicts.push(await v(otherPeer, m(announced({ miner: idAddressBytes(5000 + i) }), a)))
    expect(verdicts).toEqual([...Array(ASK_RELAY_RATE.burst).fill(TopicValidatorResult.Ignore), ...Array(3).fill(TopicValidatorResult.Reject)])
    expect(await v(otherPeer, m(announced({ miner: worker }), minerPeer))).toBe(TopicValidatorResult.Reject)
  })
})
