// Every decoder that reads bytes, values or text someone else wrote (a peer, a message sender, an HTTP client, a
// file a user picked), for the fuzzer (fuzz-decoders.ts). What comes off the wire is `bytes`; what a state proof or
// message parameters hand on after CBOR decoding is `raw`; what a person or an HTTP request types is `text`.
import { CID } from 'multiformats/cid'
import * as core from '../../src/core'
import { decodeTabAnnouncement } from '../../src/net/tab-rendezvous'
import { decodeCertExchangeRequest, decodeCertExchangeResponse } from '../../src/net/cert-exchange'
import { decodeBeaconEntryMsg } from '../../src/net/beacon-gossip'
import { parseBootstrap } from '../../src/net/bootstrap'
import { parseLotusExport } from '../../src/light/lotus-key'
import { parseGatewayPath, parseDagScope, parseEntityBytes, parseRange as parseGatewayRange } from '../../src/node/provider/http-gateway/request'
import { decodeVoucherHeader } from '../../src/node/provider/http-gateway/server'
import { parseRange as parseCliRange } from '../../src/node/retrieve-cli'
import { parseStagingName } from '../../src/node/provider/provider-store'

export type DecoderTarget =
  | { name: string, input: 'bytes', decode: (b: Uint8Array) => unknown }
  | { name: string, input: 'raw', decode: (v: unknown) => unknown }
  | { name: string, input: 'text', decode: (s: string) => unknown }

/** A peer ID the tab announcements must name (any valid one: the decoder checks addresses against it). */
const AUTHOR = '12D3KooWGzh8r6u1rV3p9cmSKuVd4vmWiM4B3ZqzXx8w7ExJW1nZ'

const bytes = (name: string, decode: (b: Uint8Array) => unknown): DecoderTarget => ({ name, input: 'bytes', decode })
const raw = (name: string, decode: (v: unknown) => unknown): DecoderTarget => ({ name, input: 'raw', decode })
const text = (name: string, decode: (s: string) => unknown): DecoderTarget => ({ name, input: 'text', decode })

export const DECODER_TARGETS: DecoderTarget[] = [
  // chain wire: hello, chain exchange, gossip
  bytes('decodeHello', core.decodeHello),
  bytes('decodeExchangeRequest', core.decodeExchangeRequest),
  bytes('decodeExchangeResponse', b => core.decodeExchangeResponse(b)),
  bytes('decodeBlockMsg', core.decodeBlockMsg),
  bytes('decodeBlockMsgFull', core.decodeBlockMsgFull),
  bytes('decodeHeader', core.decodeHeader),
  bytes('decodeTipSetKey', core.decodeTipSetKey),
  bytes('decodeMessage', core.decodeMessage),
  bytes('decodeSignedMessage', core.decodeSignedMessage),
  bytes('decodeSignature', core.decodeSignature),
  bytes('decodeBigInt', core.decodeBigInt),
  bytes('decodeBeaconEntryMsg', decodeBeaconEntryMsg),
  bytes('decodeBeaconPublicKey', core.decodeBeaconPublicKey),
  bytes('decodeTabAnnouncement', b => decodeTabAnnouncement(b, AUTHOR)),
  // state proofs and the state objects they carry
  bytes('decodeStateRequest', core.decodeStateRequest),
  bytes('decodeStateResponse', core.decodeStateResponse),
  raw('decodeActor', core.decodeActor),
  raw('decodeReceipt', core.decodeReceipt),
  bytes('decodeInitState', core.decodeInitState),
  bytes('decodePowerState', core.decodePowerState),
  raw('decodeClaim', core.decodeClaim),
  bytes('decodeMarketState', core.decodeMarketState),
  raw('decodeDealState', core.decodeDealState),
  raw('decodeProofRecord', core.decodeProofRecord),
  bytes('decodeMinerState', core.decodeMinerState),
  bytes('decodeMinerInfo', core.decodeMinerInfo),
  bytes('decodeRewardState', core.decodeRewardState),
  bytes('decodePaychState', core.decodePaychState),
  raw('decodeLaneState', core.decodeLaneState),
  bytes('decodeProofSet', core.decodeProofSet),
  bytes('decodeGenesisState', core.decodeGenesisState),
  // message parameters and returns (anyone may send a message; its receipt's return is read back)
  bytes('decodeExecParams', core.decodeExecParams),
  bytes('decodeExecReturn', core.decodeExecReturn),
  raw('decodeUpdateChannelStateParams', core.decodeUpdateChannelStateParams),
  bytes('decodeAwardBlockRewardParams', core.decodeAwardBlockRewardParams),
  bytes('decodeThisEpochRewardReturn', core.decodeThisEpochRewardReturn),
  bytes('decodeCreateMinerReturn', core.decodeCreateMinerReturn),
  bytes('decodeWithdrawBalanceReturn', core.decodeWithdrawBalanceReturn),
  // the market, proofs of possession, audits, retrieval, payment
  bytes('decodeSignedStorageAsk', core.decodeSignedStorageAsk),
  bytes('decodeStageRequest', core.decodeStageRequest),
  bytes('decodeDealRequest', core.decodeDealRequest),
  bytes('decodeDealReply', core.decodeDealReply),
  bytes('decodePossessionProof', core.decodePossessionProof),
  bytes('decodeAuditRequest', core.decodeAuditRequest),
  bytes('decodeAuditReply', core.decodeAuditReply),
  bytes('decodeRetrievalRequest', core.decodeRetrievalRequest),
  bytes('decodeRetrievalReply', core.decodeRetrievalReply),
  bytes('decodeClientControl', core.decodeClientControl),
  bytes('decodeSignedVoucher', core.decodeSignedVoucher),
  // finality
  bytes('decodeCertificate', core.decodeCertificate),
  bytes('decodeF3Vote', core.decodeF3Vote),
  raw('decodeF3TipSet', v => core.decodeF3TipSet(v)),
  bytes('decodePowerTable', b => core.decodePowerTable(b)),
  bytes('decodeFinalityState', core.decodeFinalityState),
  bytes('decodeCertExchangeRequest', decodeCertExchangeRequest),
  bytes('decodeCertExchangeResponse', decodeCertExchangeResponse),
  bytes('decodeRlePlus', b => core.decodeRlePlus(b)),
  // what people and HTTP clients type
  text('parseAddress', s => core.parseAddress(s)),
  text('parseFil', core.parseFil),
  // the caller parses the CID (multiformats); what is fuzzed is the piece digest inside it
  text('parsePieceCidV2', s => { let cid: CID; try { cid = CID.parse(s) } catch { return undefined } return core.parsePieceCidV2(cid) }),
  // the caller parses the JSON (fetch's json()); what is fuzzed is the document's shape
  text('parseBootstrap', s => { let doc: unknown; try { doc = JSON.parse(s) } catch { return undefined } return parseBootstrap(doc) }),
  text('parseLotusExport', parseLotusExport),
  text('parseGatewayPath', parseGatewayPath),
  text('parseDagScope', s => parseDagScope(new URLSearchParams(s))),
  text('parseEntityBytes', s => parseEntityBytes(new URLSearchParams(s))),
  text('parseRange (gateway)', parseGatewayRange),
  text('decodeVoucherHeader', decodeVoucherHeader),
  text('parseRange (retrieve CLI)', parseCliRange),
  text('parseStagingName', parseStagingName)
]
