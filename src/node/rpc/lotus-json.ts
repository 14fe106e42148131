// Core chain objects to and from the JSON Lotus's API speaks (encoding/json over lotus/chain/types), so a
// Filecoin tool reads Coffer's answers as it reads Lotus's; everything a tool sends is checked here first.
//
// Go's rules that shape the output: CIDs are {"/": "bafy…"}; big.Int is a decimal string; []byte is padded
// standard base64; structs keep field order. A slice decoded from CBOR by cbor-gen stays nil when the CBOR
// array or byte string is empty (`if extra > 0 { make(…) }` in chain/types/cbor_gen.go), and Go marshals a
// nil slice as `null`: so a stored header with no beacon entries says "BeaconEntries": null, a message with
// no params "Params": null, a receipt with no return value "Return": null. Parsers accept both forms.
import { base64pad } from 'multiformats/bases/base64'
import { base58btc } from 'multiformats/bases/base58'
import { decode as decodeDigest } from 'multiformats/hashes/digest'
import {
  CID, parseAddress, addressToString, InvalidAddressError, messageCid, signedMessageCid, TOTAL_FIL_ATTO,
  SIG_TYPE_BLS, SIG_TYPE_SECP256K1,
  type BlockHeader, type Message, type SignedMessage, type Signature, type Actor,
  type MessageReceipt, type Network, type MinerInfo, type Claim, type TipSet
} from '../../core'
import type { MsgLookup } from './backend'

export type LotusJsonErrorCode =
  | 'TYPE' | 'MISSING' | 'NUMBER' | 'BIGINT' | 'AMOUNT' | 'BYTES' | 'CID' | 'SIGNATURE' | 'TIPSET_KEY' | 'CID_MISMATCH' | 'VERSION'

/** Incoming JSON that is not what Lotus would accept (or that Coffer cannot act on); `field` says where. */
export class InvalidLotusJsonError extends Error {
  static override name = 'InvalidLotusJsonError'
  override name = 'InvalidLotusJsonError'
  constructor (readonly code: LotusJsonErrorCode, readonly field: string, message: string) { super(`${field}: ${message}`) }
}

export interface LotusCid { '/': string }
export interface LotusSignature { Type: number, Data: string }
export interface LotusTicket { VRFProof: string | null }
export interface LotusElectionProof { WinCount: number, VRFProof: string | null }
export interface LotusBeaconEntry { Round: number, Data: string | null }
export interface LotusPoStProof { PoStProof: number, ProofBytes: string | null }

/** chain/types/blockheader.go BlockHeader, fields in declaration order (encoding/json keeps it). */
export interface LotusBlockHeader {
  Miner: string
  Ticket: LotusTicket | null
  ElectionProof: LotusElectionProof | null
  BeaconEntries: LotusBeaconEntry[] | null
  WinPoStProof: LotusPoStProof[] | null
  Parents: LotusCid[] | null
  ParentWeight: string
  Height: number
  ParentStateRoot: LotusCid
  ParentMessageReceipts: LotusCid
  Messages: LotusCid
  BLSAggregate: LotusSignature | null
  Timestamp: number
  BlockSig: LotusSignature | null
  ForkSignaling: number
  ParentBaseFee: string
}

/** chain/types/tipset.go ExpTipSet. */
export interface LotusTipSet { Cids: LotusCid[], Blocks: LotusBlockHeader[], Height: number }

/** chain/types/message.go Message plus the CID its MarshalJSON adds. */
export interface LotusMessage {
  Version: number
  To: string
  From: string
  Nonce: number
  Value: string
  GasLimit: number
  GasFeeCap: string
  GasPremium: string
  Method: number
  Params: string | null
  CID: LotusCid
}

/** chain/types/signedmessage.go: the CID is the signed one for secp, the bare message's for BLS. */
export interface LotusSignedMessage { Message: LotusMessage, Signature: LotusSignature, CID: LotusCid }

/** chain/types/actor.go ActorV5. */
export interface LotusActor { Code: LotusCid, Head: LotusCid, Nonce: number, Balance: string, DelegatedAddress: string | null }

/** chain/types/message_receipt.go (its version field is unexported, so not in the JSON). */
export interface LotusReceipt { ExitCode: number, Return: string | null, GasUsed: number, EventsRoot: LotusCid | null }

/** api/api_full.go MsgLookup; TipSet is a TipSetKey, which marshals as its CID array. */
export interface LotusMsgLookup { Message: LotusCid, Receipt: LotusReceipt, ReturnDec: unknown, TipSet: LotusCid[], Height: number }

/** api/types.go MessageSendSpec (MsgUuid is accepted and ignored: Coffer has no message signing service). */
export interface MessageSendSpec { maxFee: bigint, maximizeFeeCap: boolean }

// ---- output ----

const b64 = (bytes: Uint8Array): string => base64pad.baseEncode(bytes)
/** A []byte cbor-gen decoded: nil (so `null`) when empty. */
const nilOrBase64 = (bytes: Uint8Array): string | null => bytes.length === 0 ? null : b64(bytes)
/** A slice cbor-gen decoded: nil (so `null`) when empty. */
const nilOrList = <T, U>(items: T[], f: (item: T) => U): U[] | null => items.length === 0 ? null : items.map(f)

export const cidToLotus = (cid: CID): LotusCid => ({ '/': cid.toString() })
export const addressToLotus = (bytes: Uint8Array, network: Network = 't'): string => addressToString(bytes, network)
export const signatureToLotus = (sig: Signature): LotusSignature => ({ Type: sig.type, Data: b64(sig.data) })

export function headerToLotus (h: BlockHeader, network: Network = 't'): LotusBlockHeader {
  return {
    Miner: addressToLotus(h.miner, network),
    Ticket: h.ticket === null ? null : { VRFProof: nilOrBase64(h.ticket) },
    ElectionProof: h.electionProof === null ? null : { WinCount: h.electionProof.winCount, VRFProof: nilOrBase64(h.electionProof.vrfProof) },
    BeaconEntries: nilOrList(h.beaconEntries, e => ({ Round: e.round, Data: nilOrBase64(e.data) })),
    WinPoStProof: nilOrList(h.winPoStProof, p => ({ PoStProof: p.postProof, ProofBytes: nilOrBase64(p.proofBytes) })),
    Parents: nilOrList(h.parents, cidToLotus),
    ParentWeight: h.parentWeight.toString(),
    Height: h.height,
    ParentStateRoot: cidToLotus(h.parentStateRoot),
    ParentMessageReceipts: cidToLotus(h.parentMessageReceipts),
    Messages: cidToLotus(h.messages),
    BLSAggregate: h.blsAggregate === null ? null : signatureToLotus(h.blsAggregate),
    Timestamp: h.timestamp,
    BlockSig: h.blockSig === null ? null : signatureToLotus(h.blockSig),
    ForkSignaling: h.forkSignaling,
    ParentBaseFee: h.parentBaseFee.toString()
  }
}

/** A Coffer tipset is one block, so its key is that block's CID. */
/** Lotus types.TipSet: every block of the tipset, in Lotus's order (under Expected Consensus a round may have several). */
export function tipSetToLotus (ts: TipSet, network: Network = 't'): LotusTipSet {
  return { Cids: ts.key.map(cidToLotus), Blocks: ts.blocks.map(b => headerToLotus(b.header, network)), Height: ts.height }
}

/**
 * `params` says how empty Params print: `null` for a message read from the chain (cbor-gen leaves it nil),
 * `''` when echoing a message whose JSON said "" (encoding/json decodes "" to an empty, non-nil slice).
 */
export function messageToLotus (m: Message, network: Network = 't', emptyParams: '' | null = null): LotusMessage {
  return {
    Version: m.version,
    To: addressToLotus(m.to, network),
    From: addressToLotus(m.from, network),
    Nonce: m.nonce,
    Value: m.value.toString(),
    GasLimit: m.gasLimit,
    GasFeeCap: m.gasFeeCap.toString(),
    GasPremium: m.gasPremium.toString(),
    Method: m.method,
    Params: m.params.length === 0 ? emptyParams : b64(m.params),
    CID: cidToLotus(messageCid(m))
  }
}

export function signedMessageToLotus (sm: SignedMessage, network: Network = 't'): LotusSignedMessage {
  return { Message: messageToLotus(sm.message, network), Signature: signatureToLotus(sm.signature), CID: cidToLotus(signedMessageCid(sm)) }
}

export function actorToLotus (a: Actor, network: Network = 't'): LotusActor {
  return {
    Code: cidToLotus(a.code),
    Head: cidToLotus(a.head),
    Nonce: a.nonce,
    Balance: a.balance.toString(),
    DelegatedAddress: a.delegatedAddress === null ? null : addressToLotus(a.delegatedAddress, network)
  }
}

export function receiptToLotus (r: MessageReceipt): LotusReceipt {
  return { ExitCode: r.exitCode, Return: nilOrBase64(r.return), GasUsed: r.gasUsed, EventsRoot: r.eventsRoot === null ? null : cidToLotus(r.eventsRoot) }
}

/**
 * Lotus fills ReturnDec only for a successful receipt with return bytes; with no actor ABI to decode them
 * (its ErrMetadataNotFound case) it passes the raw bytes, which marshal as base64.
 */
export function msgLookupToLotus (l: MsgLookup): LotusMsgLookup {
  const returnDec = l.receipt.exitCode === 0 && l.receipt.return.length > 0 ? b64(l.receipt.return) : null
  return {
    Message: cidToLotus(l.message),
    Receipt: receiptToLotus(l.receipt),
    ReturnDec: returnDec,
    TipSet: (l.executedTipSet ?? [l.executedIn.cid]).map(cidToLotus),
    Height: l.executedIn.header.height
  }
}

/** Lotus api.MinerInfo (api/types.go), as StateModule.StateMinerInfo fills it (node/impl/full/state.go). */
export interface LotusMinerInfo {
  Owner: string
  Worker: string
  NewWorker: string
  ControlAddresses: string[] | null
  WorkerChangeEpoch: number
  PeerId: string | null
  Multiaddrs: string[] | null
  WindowPoStProofType: number
  SectorSize: number
  WindowPoStPartitionSectors: number
  ConsensusFaultElapsed: number
  PendingOwnerAddress: string | null
  Beneficiary: string
  BeneficiaryTerm: { Quota: string, UsedQuota: string, Expiration: number }
  PendingBeneficiaryTerm: { NewBeneficiary: string, NewQuota: string, NewExpiration: number, ApprovedByBeneficiary: boolean, ApprovedByNominee: boolean } | null
}

/** A peer ID's string form (base58btc of its multihash), or null when the bytes are no multihash (Lotus: peer.IDFromBytes fails → nil). */
export function peerIdToLotus (bytes: Uint8Array): string | null {
  try {
    decodeDigest(bytes)
    return base58btc.baseEncode(bytes)
  } catch {
    return null
  }
}

export function minerInfoToLotus (info: MinerInfo, network: Network = 't'): LotusMinerInfo {
  const a = (bytes: Uint8Array): string => addressToLotus(bytes, network)
  const pending = info.pendingBeneficiaryTerm
  return {
    Owner: a(info.owner),
    Worker: a(info.worker),
    // address.Undef marshals as "<empty>"; with no pending change Lotus reports epoch -1
    NewWorker: info.pendingWorkerKey === null ? '<empty>' : a(info.pendingWorkerKey.newWorker),
    ControlAddresses: nilOrList(info.controlAddresses, a),
    WorkerChangeEpoch: info.pendingWorkerKey === null ? -1 : info.pendingWorkerKey.effectiveAt,
    PeerId: peerIdToLotus(info.peerId),
    Multiaddrs: nilOrList(info.multiaddrs, b64),
    WindowPoStProofType: info.windowPoStProofType,
    SectorSize: info.sectorSize,
    WindowPoStPartitionSectors: info.windowPoStPartitionSectors,
    ConsensusFaultElapsed: info.consensusFaultElapsed,
    PendingOwnerAddress: info.pendingOwnerAddress === null ? null : a(info.pendingOwnerAddress),
    Beneficiary: a(info.beneficiary),
    BeneficiaryTerm: { Quota: info.beneficiaryTerm.quota.toString(), UsedQuota: info.beneficiaryTerm.usedQuota.toString(), Expiration: info.beneficiaryTerm.expiration },
    PendingBeneficiaryTerm: pending === null
      ? null
      : {
          NewBeneficiary: a(pending.newBeneficiary),
          NewQuota: pending.newQuota.toString(),
          NewExpiration: pending.newExpiration,
          ApprovedByBeneficiary: pending.approvedByBeneficiary,
          ApprovedByNominee: pending.approvedByNominee
        }
  }
}

/** Lotus power.Claim {RawBytePower, QualityAdjPower} (StoragePower: big.Int, a decimal string). */
export interface LotusClaim { RawBytePower: string, QualityAdjPower: string }

export const claimToLotus = (c: Pick<Claim, 'rawBytePower' | 'qualityAdjPower'>): LotusClaim =>
  ({ RawBytePower: c.rawBytePower.toString(), QualityAdjPower: c.qualityAdjPower.toString() })

// ---- input ----

/** Far above any chain value (attoFIL supply is 28 digits); stops a huge digit string from reaching BigInt(). */
const MAX_BIGINT_DIGITS = 80
const MAX_CID_CHARS = 200
const BASE64_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

type JsonObject = Record<string, unknown>

function object (v: unknown, field: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidLotusJsonError('TYPE', field, `expected an object, got ${describe(v)}`)
  return v as JsonObject
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return v.length > 40 ? `a ${v.length}-character string` : JSON.stringify(v)
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`
}

function required (o: JsonObject, key: string, field: string): unknown {
  if (!(key in o) || o[key] === undefined) throw new InvalidLotusJsonError('MISSING', `${field}.${key}`, 'is required')
  return o[key]
}

/** JSON numbers above 2^53 have already lost digits in JSON.parse, so only safe integers are believed. */
export function uintFromLotus (v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidLotusJsonError('NUMBER', field, `expected a non-negative integer below 2^53, got ${describe(v)}`)
  }
  return v
}

/** A Go big.Int: a JSON string of decimal digits (a JSON number is refused, as encoding/json refuses it). */
export function bigIntFromLotus (v: unknown, field: string): bigint {
  if (typeof v !== 'string') throw new InvalidLotusJsonError('BIGINT', field, `expected a decimal string, got ${describe(v)}`)
  if (!/^-?[0-9]+$/.test(v)) throw new InvalidLotusJsonError('BIGINT', field, `${describe(v)} is not a decimal integer`)
  if (v.length > MAX_BIGINT_DIGITS) throw new InvalidLotusJsonError('BIGINT', field, `${v.length} digits is too long`)
  return BigInt(v)
}

/** attoFIL: a big int in 0..total supply (Lotus's ValidForBlockInclusion bounds). */
export function amountFromLotus (v: unknown, field: string): bigint {
  const n = bigIntFromLotus(v, field)
  if (n < 0n) throw new InvalidLotusJsonError('AMOUNT', field, 'amount is negative')
  if (n > TOTAL_FIL_ATTO) throw new InvalidLotusJsonError('AMOUNT', field, `${n} attoFIL exceeds Filecoin's total supply`)
  return n
}

/** []byte: padded standard base64, `null` (a nil slice) or "" for no bytes. */
export function bytesFromLotus (v: unknown, field: string): Uint8Array {
  if (v === null || v === '') return new Uint8Array(0)
  if (typeof v !== 'string' || !BASE64_PADDED.test(v)) throw new InvalidLotusJsonError('BYTES', field, `expected padded standard base64, got ${describe(v)}`)
  return base64pad.baseDecode(v)
}

export function cidFromLotus (v: unknown, field: string): CID {
  const o = object(v, field)
  const text = o['/']
  if (typeof text !== 'string') throw new InvalidLotusJsonError('CID', field, 'expected {"/": "<cid>"}')
  if (text.length > MAX_CID_CHARS) throw new InvalidLotusJsonError('CID', field, `CID of ${text.length} characters is too long`)
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidLotusJsonError('CID', field, `${describe(text)} is not a CID (${(err as Error).message})`)
  }
}

/** An address string of `network`; failures stay InvalidAddressErrors (code NETWORK, CHECKSUM, …). */
export function addressFromLotus (v: unknown, field: string, network: Network = 't'): Uint8Array {
  if (typeof v !== 'string') throw new InvalidLotusJsonError('TYPE', field, `expected an address string, got ${describe(v)}`)
  if (v.length > 200) throw new InvalidAddressError('PAYLOAD', `${field}: address of ${v.length} characters is too long`)
  try {
    return parseAddress(v, network).bytes
  } catch (err) {
    if (err instanceof InvalidAddressError) throw new InvalidAddressError(err.code, `${field}: ${err.message}`)
    throw err
  }
}

/** More blocks than any tipset holds (Expected Consensus expects 5 a round; a key this long names none). */
const MAX_TIPSET_KEY_CIDS = 64

/**
 * A TipSetKey: `null` or `[]` (Lotus's EmptyTSK) means the head, answered as null here; else its block CIDs
 * (an Expected Consensus tipset may have several; a single producer's has one).
 */
export function tipSetKeyFromLotus (v: unknown, field = 'TipSetKey'): CID[] | null {
  if (v === null || v === undefined) return null
  if (!Array.isArray(v)) throw new InvalidLotusJsonError('TIPSET_KEY', field, `expected an array of CIDs or null, got ${describe(v)}`)
  if (v.length === 0) return null
  if (v.length > MAX_TIPSET_KEY_CIDS) throw new InvalidLotusJsonError('TIPSET_KEY', field, `a tipset key of ${v.length} CIDs names no tipset (at most ${MAX_TIPSET_KEY_CIDS})`)
  return v.map((c, i) => cidFromLotus(c, `${field}[${i}]`))
}

export function signatureFromLotus (v: unknown, field: string): Signature {
  const o = object(v, field)
  const type = required(o, 'Type', field)
  const data = bytesFromLotus(required(o, 'Data', field), `${field}.Data`)
  if (type === SIG_TYPE_SECP256K1) {
    if (data.length !== 65) throw new InvalidLotusJsonError('SIGNATURE', `${field}.Data`, `a secp256k1 signature is 65 bytes, got ${data.length}`)
  } else if (type === SIG_TYPE_BLS) {
    if (data.length !== 96) throw new InvalidLotusJsonError('SIGNATURE', `${field}.Data`, `a BLS signature is 96 bytes, got ${data.length}`)
  } else {
    throw new InvalidLotusJsonError('SIGNATURE', `${field}.Type`, `signature type must be 1 (secp256k1) or 2 (BLS), got ${describe(type)}`)
  }
  return { type, data }
}

/**
 * A Message as a tool sends it. Absent numeric fields are zero, as encoding/json leaves them; To, From and
 * Value are required (Lotus refuses a nil Value). A CID field, if sent, must be this message's CID:
 * a mismatch means the tool and Coffer disagree about the encoding, which is worth an error, not a guess.
 */
export function messageFromLotus (v: unknown, field = 'Message', network: Network = 't'): Message {
  const o = object(v, field)
  const f = (key: string): string => `${field}.${key}`
  const uintOr0 = (key: string): number => o[key] === undefined ? 0 : uintFromLotus(o[key], f(key))
  const amountOr0 = (key: string): bigint => o[key] === undefined ? 0n : amountFromLotus(o[key], f(key))
  const version = uintOr0('Version')
  if (version !== 0) throw new InvalidLotusJsonError('VERSION', f('Version'), `only message version 0 exists, got ${version}`)
  const m: Message = {
    version,
    to: addressFromLotus(required(o, 'To', field), f('To'), network),
    from: addressFromLotus(required(o, 'From', field), f('From'), network),
    nonce: uintOr0('Nonce'),
    value: amountFromLotus(required(o, 'Value', field), f('Value')),
    gasLimit: uintOr0('GasLimit'),
    gasFeeCap: amountOr0('GasFeeCap'),
    gasPremium: amountOr0('GasPremium'),
    method: uintOr0('Method'),
    params: o.Params === undefined ? new Uint8Array(0) : bytesFromLotus(o.Params, f('Params'))
  }
  if (o.CID !== undefined && o.CID !== null) {
    const claimed = cidFromLotus(o.CID, f('CID'))
    const actual = messageCid(m)
    if (!claimed.equals(actual)) throw new InvalidLotusJsonError('CID_MISMATCH', f('CID'), `message encodes to ${actual}, not ${claimed}`)
  }
  return m
}

/** MpoolPush's SignedMessage; the signature is checked by the node, not here. */
export function signedMessageFromLotus (v: unknown, field = 'SignedMessage', network: Network = 't'): SignedMessage {
  const o = object(v, field)
  const sm: SignedMessage = {
    message: messageFromLotus(required(o, 'Message', field), `${field}.Message`, network),
    signature: signatureFromLotus(required(o, 'Signature', field), `${field}.Signature`)
  }
  if (o.CID !== undefined && o.CID !== null) {
    const claimed = cidFromLotus(o.CID, `${field}.CID`)
    const actual = signedMessageCid(sm)
    if (!claimed.equals(actual)) throw new InvalidLotusJsonError('CID_MISMATCH', `${field}.CID`, `signed message encodes to ${actual}, not ${claimed}`)
  }
  return sm
}

export function sendSpecFromLotus (v: unknown, field = 'MessageSendSpec'): MessageSendSpec {
  if (v === null || v === undefined) return { maxFee: 0n, maximizeFeeCap: false }
  const o = object(v, field)
  const maxFee = o.MaxFee === undefined || o.MaxFee === null ? 0n : amountFromLotus(o.MaxFee, `${field}.MaxFee`)
  const maximize = o.MaximizeFeeCap ?? false
  if (typeof maximize !== 'boolean') throw new InvalidLotusJsonError('TYPE', `${field}.MaximizeFeeCap`, `expected a boolean, got ${describe(maximize)}`)
  return { maxFee, maximizeFeeCap: maximize }
}

const nullableSig = (v: unknown, field: string): Signature | null => v === null || v === undefined ? null : signatureFromLotus(v, field)
const list = (v: unknown, field: string): unknown[] => {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v)) throw new InvalidLotusJsonError('TYPE', field, `expected an array or null, got ${describe(v)}`)
  return v
}

/**
 * A BlockHeader from Lotus JSON, for a client that wants the header's CID: re-encode it with
 * `sealHeader` and compare with the CID it was asked for (the JSON itself proves nothing).
 */
export function headerFromLotus (v: unknown, field = 'BlockHeader', network: Network = 't'): BlockHeader {
  const o = object(v, field)
  const f = (key: string): string => `${field}.${key}`
  const ticket = o.Ticket === null || o.Ticket === undefined ? null : bytesFromLotus(object(o.Ticket, f('Ticket')).VRFProof ?? null, f('Ticket.VRFProof'))
  let electionProof: BlockHeader['electionProof'] = null
  if (o.ElectionProof !== null && o.ElectionProof !== undefined) {
    const e = object(o.ElectionProof, f('ElectionProof'))
    const winCount = e.WinCount
    if (typeof winCount !== 'number' || !Number.isSafeInteger(winCount)) throw new InvalidLotusJsonError('NUMBER', f('ElectionProof.WinCount'), `expected an integer, got ${describe(winCount)}`)
    electionProof = { winCount, vrfProof: bytesFromLotus(e.VRFProof ?? null, f('ElectionProof.VRFProof')) }
  }
  const weight = bigIntFromLotus(required(o, 'ParentWeight', field), f('ParentWeight'))
  if (weight < 0n) throw new InvalidLotusJsonError('BIGINT', f('ParentWeight'), 'weight is negative')
  return {
    miner: addressFromLotus(required(o, 'Miner', field), f('Miner'), network),
    ticket,
    electionProof,
    beaconEntries: list(o.BeaconEntries, f('BeaconEntries')).map((e, i) => {
      const b = object(e, f(`BeaconEntries[${i}]`))
      return { round: uintFromLotus(b.Round, f(`BeaconEntries[${i}].Round`)), data: bytesFromLotus(b.Data ?? null, f(`BeaconEntries[${i}].Data`)) }
    }),
    winPoStProof: list(o.WinPoStProof, f('WinPoStProof')).map((p, i) => {
      const w = object(p, f(`WinPoStProof[${i}]`))
      return { postProof: uintFromLotus(w.PoStProof, f(`WinPoStProof[${i}].PoStProof`)), proofBytes: bytesFromLotus(w.ProofBytes ?? null, f(`WinPoStProof[${i}].ProofBytes`)) }
    }),
    parents: list(o.Parents, f('Parents')).map((c, i) => cidFromLotus(c, f(`Parents[${i}]`))),
    parentWeight: weight,
    height: uintFromLotus(required(o, 'Height', field), f('Height')),
    parentStateRoot: cidFromLotus(required(o, 'ParentStateRoot', field), f('ParentStateRoot')),
    parentMessageReceipts: cidFromLotus(required(o, 'ParentMessageReceipts', field), f('ParentMessageReceipts')),
    messages: cidFromLotus(required(o, 'Messages', field), f('Messages')),
    blsAggregate: nullableSig(o.BLSAggregate, f('BLSAggregate')),
    timestamp: uintFromLotus(required(o, 'Timestamp', field), f('Timestamp')),
    blockSig: nullableSig(o.BlockSig, f('BlockSig')),
    forkSignaling: o.ForkSignaling === undefined ? 0 : uintFromLotus(o.ForkSignaling, f('ForkSignaling')),
    parentBaseFee: amountFromLotus(required(o, 'ParentBaseFee', field), f('ParentBaseFee'))
  }
}
