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
  askTopic, validateAskAnnouncement, AskBook, askTopicValidator, MAX_ASK_ANNOUNCEMENT_BYTES,
  AskSignerMismatchError, AskPeerMismatchError, AskUnknownMinerError, AskExpiredError, AskStaleError, AskRateLimitedError, AskTooLargeError, AskUnsignedError
} from '../../src/net/ask-gossip'

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
