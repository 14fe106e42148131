// Well-formed inputs the fuzzer starts from and mutates (fuzz-decoders.ts): random bytes rarely get past a
// decoder's first layout check, a valid value with one field changed gets to its deepest one. Built once, from a
// genesis with a provider and a pre-sealed deal (its store holds every kind of actor state), real signatures, a
// certificate chain, and the texts a person or an HTTP client would type.
import * as dagCbor from '@ipld/dag-cbor'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createGenesis, idAddressBytes, blsPublicKey, blsAddressBytes, secpPublicKey, secpAddressBytes, signMessage, encodeSignedMessage, encodeMessage, encodeHello,
  encodeExchangeRequest, encodeBlockMsg, encodeTipSetKey, encodeRlePlus, encodeSignature, encodeF3Vote, encodeCertificate, encodePowerTable,
  encodeFinalityState, encodeBigInt, pieceCidV1, pieceCidV2, pieceDigest, ATTO_PER_FIL, addressToString, EXCHANGE_OPT_HEADERS, actorAddressBytes,
  signVoucher, encodeSignedVoucher, signDealProposal, encodeDealRequest, encodeDealReply, TRANSFER_ID_BYTES, signStorageAsk, encodeSignedStorageAsk,
  encodeAuditRequest, encodeAuditReply, encodeClientControl, encodeRetrievalReply, encodeExchangeResponse, encodeStateResponse, encodeReceipt,
  encodePaychState, encodeProofSet, encodePossessionProof, type Message
} from '../../src/core'
import { encodeTabAnnouncement } from '../../src/net/tab-rendezvous'
import { encodeCertExchangeRequest, encodeCertExchangeHeader } from '../../src/net/cert-exchange'
import { encodeBeaconEntryMsg } from '../../src/net/beacon-gossip'
import { TEST_BEACON, testBeaconEntry } from '../helpers/test-beacon'
import { testCertChain } from '../helpers/f3-certs'

export interface Seeds {
  /** CBOR blocks and wire messages, each also decoded to a value for the `raw` targets. */
  bytes: Uint8Array[]
  values: unknown[]
  texts: string[]
}

export function buildSeeds (): Seeds {
  const workerKey = new Uint8Array(32).fill(9)
  const clientKey = new Uint8Array(32).fill(5)
  const worker = blsAddressBytes(blsPublicKey(workerKey))
  const payload = new Uint8Array(1000).map((_, i) => (i * 31 + 7) & 0xff)
  const digest = pieceDigest(payload)
  const genesis = createGenesis(
    { beacon: TEST_BEACON, network: 'fuzz', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_800_000_000,
    [{ address: worker, balance: 1000n * ATTO_PER_FIL }],
    [{ id: 1001, info: { owner: worker, worker, peerId: new Uint8Array([1, 2, 3]) }, preseal: { pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes } }]
  )
  const out: Uint8Array[] = []
  // every state block genesis made: init, power, market, reward, miner, account states, HAMT and AMT nodes
  for (const b of genesis.store!.blocks.values()) out.push(b)
  const m: Message = { version: 0, to: idAddressBytes(1001), from: secpAddressBytes(secpPublicKey(clientKey)), nonce: 3, value: 7n, gasLimit: 1_000_000, gasFeeCap: 300n, gasPremium: 100n, method: 2, params: dagCbor.encode([1, new Uint8Array(3)]) }
  const sm = signMessage(clientKey, m)
  out.push(encodeMessage(m), encodeSignedMessage(sm), encodeSignature(sm.signature))
  out.push(encodeHello({ heaviestTipSet: [genesis.header.cid], heaviestTipSetHeight: 0, heaviestTipSetWeight: 1n, genesisHash: genesis.header.cid }))
  out.push(encodeExchangeRequest({ head: [genesis.header.cid], length: 10, options: EXCHANGE_OPT_HEADERS }))
  out.push(encodeBlockMsg(genesis.header), genesis.header.bytes, encodeTipSetKey([genesis.header.cid, genesis.header.cid]))
  out.push(encodeRlePlus([0, 1, 2, 7, 300, 301]), encodeBigInt(123456789n), encodeBigInt(-5n))
  const chain = testCertChain('fuzz', 2)
  for (const c of chain.certs) out.push(encodeCertificate(c))
  out.push(encodePowerTable(chain.participants), encodeFinalityState(chain.start))
  const cert = chain.certs[0]!
  out.push(encodeF3Vote({ sender: 1001, instance: 0, ecChain: cert.ecChain, supplementalData: cert.supplementalData, signature: cert.signature }))
  out.push(encodeCertExchangeRequest({ firstInstance: 0, limit: 5, includePowerTable: true }))
  // a whole exchange answer: the header, then the certificates back to back
  const header = encodeCertExchangeHeader(2, chain.participants)
  const certs = chain.certs.map(encodeCertificate)
  out.push(Uint8Array.from([...header, ...certs.flatMap(c => [...c])]), encodeCertExchangeHeader(0, null))
  out.push(encodeBeaconEntryMsg(testBeaconEntry(7)))
  out.push(encodeTabAnnouncement([multiaddr('/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWA1vGd3ruBG1v5vUdnAF5LvPH7X16X7ekTwqxaX2ox9Zt/p2p-circuit/webrtc/p2p/12D3KooWGzh8r6u1rV3p9cmSKuVd4vmWiM4B3ZqzXx8w7ExJW1nZ')]))
  // the market, retrieval, audits and payment, as the client and provider write them
  const channel = actorAddressBytes(new Uint8Array(8).fill(1))
  const voucher = signVoucher(workerKey, worker, { channelAddr: channel, timeLockMin: 0, timeLockMax: 0, secretHash: new Uint8Array(0), extra: null, lane: 1, nonce: 2, amount: 500n, minSettleHeight: 0, merges: [{ lane: 2, nonce: 1 }], signature: null })
  const voucherBytes = encodeSignedVoucher(voucher)
  const pieceCid = pieceCidV1(digest.root)
  const proposal = signDealProposal(workerKey, { pieceCid, pieceSize: digest.paddedBytes, verifiedDeal: false, client: worker, provider: idAddressBytes(1001), label: 'fuzz', startEpoch: 10, endEpoch: 2000, storagePricePerEpoch: 1n, providerCollateral: 0n, clientCollateral: 0n })
  const transfer = new Uint8Array(TRANSFER_ID_BYTES).fill(4)
  out.push(
    voucherBytes,
    encodeDealRequest({ proposal, payloadBytes: 1000 }), encodeDealRequest({ proposal, payloadBytes: 1000, transfer, head: payload.slice(0, 100) }),
    encodeDealReply({ kind: 'accepted', offset: 5 }), encodeDealReply({ kind: 'published', dealId: 3, message: 'ok' }), encodeDealReply({ kind: 'rejected', code: 'PROPOSAL', message: 'no', earliestStart: 4 }),
    dagCbor.encode({ transfer }),
    encodeSignedStorageAsk(signStorageAsk(workerKey, worker, { pricePerGiBEpoch: 1n, verifiedPricePerGiBEpoch: 0n, minPieceSize: 256, maxPieceSize: 1 << 20, miner: idAddressBytes(1001), timestamp: 5, expiry: 500, seqNo: 1, freeBytes: 1 << 30, collateralPerGiB: 0n, retrievalPricePerGiB: 2n, paymentInterval: 1 << 20, paymentIntervalIncrease: 1 << 20, gatewayUrl: 'http://127.0.0.1:8080' })),
    encodeAuditRequest({ dealId: 0, pieceCid, leaves: [0, 3, 5], nonce: new Uint8Array(16).fill(2) }),
    encodeAuditReply({ kind: 'proof', nonce: new Uint8Array(16).fill(2), proof: new Uint8Array(64).fill(3) }), encodeAuditReply({ kind: 'rejected', code: 'NOT_FOUND', message: 'no' }),
    encodeClientControl({ kind: 'request', root: genesis.header.cid, range: { from: 0, to: 10 } }), encodeClientControl({ kind: 'voucher', voucher: voucherBytes }),
    encodeRetrievalReply({ kind: 'accepted', pricePerGiB: 5n, paymentInterval: 1 << 20, paymentIntervalIncrease: 1 << 20 }), encodeRetrievalReply({ kind: 'done', sent: 10 }),
    encodeRetrievalReply({ kind: 'owed', owed: 7n }), encodeRetrievalReply({ kind: 'rejected', code: 'UNPAID', message: 'pay', owed: 3n }),
    // chain exchange, state answers, message parameters and returns
    encodeExchangeResponse({ status: 0, errorMessage: '', chain: [[genesis.header]], messages: [{ bls: [m], blsIncludes: [[0]], secpk: [sm], secpkIncludes: [[0]] }] }),
    encodeExchangeResponse({ status: 201, errorMessage: 'not found', chain: [] }),
    dagCbor.encode({ kind: 'miners', at: genesis.header.cid }), dagCbor.encode({ kind: 'miner', address: idAddressBytes(1001), at: genesis.header.cid }),
    encodeStateResponse({ ok: true, blocks: [genesis.header.bytes], included: genesis.header.cid, executed: genesis.header.cid, includedTipSet: [genesis.header.cid], index: 0 }),
    dagCbor.encode(encodeReceipt({ exitCode: 0, return: new Uint8Array(2), gasUsed: 10, eventsRoot: null })),
    dagCbor.encode([5, null, false, encodeBigInt(1n), encodeBigInt(0n)]), dagCbor.encode([encodeBigInt(5n), 2]),
    encodePaychState({ from: worker, to: idAddressBytes(1001), toSend: 3n, settlingAt: 0, minSettleHeight: 0, laneStates: genesis.header.cid }),
    dagCbor.encode([genesis.header.cid, new Uint8Array(2)]), dagCbor.encode([idAddressBytes(1005), channel]),
    dagCbor.encode([dagCbor.decode(voucherBytes), new Uint8Array(0)]),
    dagCbor.encode([idAddressBytes(1001), encodeBigInt(0n), encodeBigInt(5n), 1]),
    dagCbor.encode([[encodeBigInt(1n), encodeBigInt(2n)], encodeBigInt(3n)]), dagCbor.encode(encodeBigInt(5n)),
    TEST_BEACON.publicKey,
    encodePossessionProof([{ piece: 0, leaf: 3, value: new Uint8Array(32).fill(1), path: [new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)] }, { piece: 1, leaf: 0, value: new Uint8Array(32), path: [] }]),
    encodeProofSet({ pieces: [{ pieceCid, paddedBytes: digest.paddedBytes }, { pieceCid, paddedBytes: 128 }] })
  )
  const values = out.map(b => { try { return dagCbor.decode(b) } catch { return undefined } }).filter(v => v !== undefined)
  const cid = genesis.header.cid.toString()
  const texts = [
    'f01000', 't01001', addressToString(worker), 'f3' + 'a'.repeat(84), '1', '1.5', '0.000000000000000001', '100 FIL',
    'bafkzcibcaapao7mm2t6uqxnaqmamfeqbvd6l5hcjeoftc3kbz5xxn2uydgumvvdq',
    JSON.stringify({ network: 'fuzz', genesis: cid, peers: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWA1vGd3ruBG1v5vUdnAF5LvPH7X16X7ekTwqxaX2ox9Zt'], providers: [] }),
    Buffer.from(JSON.stringify({ Type: 'bls', PrivateKey: Buffer.from(workerKey).toString('base64') })).toString('hex'),
    `/ipfs/${cid}`, `/ipfs/${cid}/a/b.txt`, `/piece/${cid}`, 'dag-scope=entity&entity-bytes=0:100', 'entity-bytes=-10:*', 'format=car&car-dups=y',
    'bytes=0-100', 'bytes=-5', 'bytes=10-', '0-1023', '5-6', Buffer.from(voucherBytes).toString('base64'),
    pieceCidV2(digest).toString(), pieceCid.toString(),
    `f1abc.${cid}.1000.part`
  ]
  return { bytes: out, values, texts }
}
