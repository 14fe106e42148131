// Finality certificates and power tables in Lotus's JSON (what Filecoin.F3GetCertificate and
// F3GetPowerTable answer, go-f3's MarshalJSON): CIDs as {"/": …}, a tipset key as its CIDs, bytes as
// base64, big integers as decimal strings, and Signers as go-bitfield's JSON — run lengths alternating
// unset/set, starting with an unset run.
import { base64pad } from 'multiformats/bases/base64'
import { CID } from '../cid'
import { decodeRlePlus, encodeRlePlus } from '../rle-plus'
import type { FinalityCertificate } from './certificate'
import { tipSetKeyBytes, tipSetKeyCids, type F3TipSet } from './ec-chain'
import { CertificateError } from './finality-errors'
import type { PowerEntry } from './power-table'

export interface LotusCidJson { '/': string }
export interface LotusF3TipSetJson { Key: LotusCidJson[], Commitments: string, Epoch: number, PowerTable: LotusCidJson }
export interface LotusCertificateJson {
  GPBFTInstance: number
  ECChain: LotusF3TipSetJson[] | null
  SupplementalData: { Commitments: string, PowerTable: LotusCidJson }
  Signers: number[]
  Signature: string
  PowerTableDelta?: Array<{ ParticipantID: number, PowerDelta: string, SigningKey: string | null }> | null
}
export interface LotusPowerEntryJson { ID: number, Power: string, PubKey: string }

// Go's encoding/json writes []byte as padded standard base64
const toB64 = (b: Uint8Array): string => base64pad.baseEncode(b)
const fromB64 = (s: string | null | undefined): Uint8Array => s == null || s === '' ? new Uint8Array(0) : base64pad.baseDecode(s)

/** go-bitfield's JSON: the run lengths of an index set, the first run unset (0 when index 0 is set). */
export function bitfieldRuns (indexes: readonly number[]): number[] {
  const runs: number[] = []
  let at = 0
  for (let i = 0; i < indexes.length;) {
    let j = i
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j]! + 1) j++
    runs.push(indexes[i]! - at, j - i + 1)
    at = indexes[j]! + 1
    i = j + 1
  }
  return runs
}

export function bitfieldFromRuns (runs: readonly number[]): number[] {
  const out: number[] = []
  let at = 0
  for (const [i, r] of runs.entries()) {
    if (!Number.isSafeInteger(r) || r < 0 || at + r > 2 ** 40) throw new CertificateError('MALFORMED', undefined, 'Signers is not a list of run lengths')
    if (i % 2 === 1) for (let j = 0; j < r; j++) out.push(at + j)
    at += r
  }
  return out
}

function cidOf (v: LotusCidJson | undefined, what: string, instance?: number): CID {
  try { return CID.parse(v?.['/'] ?? '') } catch { throw new CertificateError('MALFORMED', instance, `${what} is not a CID`) }
}

export function certificateFromLotusJson (j: LotusCertificateJson): FinalityCertificate {
  const instance = j.GPBFTInstance
  if (!Number.isSafeInteger(instance) || instance < 0) throw new CertificateError('MALFORMED', undefined, 'GPBFTInstance is not an integer')
  return {
    instance,
    ecChain: (j.ECChain ?? []).map((t): F3TipSet => ({
      epoch: t.Epoch,
      key: tipSetKeyBytes(t.Key.map(k => cidOf(k, 'a tipset key', instance))),
      powerTable: cidOf(t.PowerTable, 'a tipset power table', instance),
      commitments: fromB64(t.Commitments)
    })),
    supplementalData: { commitments: fromB64(j.SupplementalData.Commitments), powerTable: cidOf(j.SupplementalData.PowerTable, 'SupplementalData.PowerTable', instance) },
    signers: encodeRlePlus(bitfieldFromRuns(j.Signers)),
    signature: fromB64(j.Signature),
    powerTableDelta: (j.PowerTableDelta ?? []).map(d => ({ participantId: d.ParticipantID, powerDelta: BigInt(d.PowerDelta), signingKey: fromB64(d.SigningKey) }))
  }
}

export function certificateToLotusJson (c: FinalityCertificate): LotusCertificateJson {
  return {
    GPBFTInstance: c.instance,
    ECChain: c.ecChain.map(t => ({ Key: tipSetKeyCids(t.key).map(k => ({ '/': k.toString() })), Commitments: toB64(t.commitments), Epoch: t.epoch, PowerTable: { '/': t.powerTable.toString() } })),
    SupplementalData: { Commitments: toB64(c.supplementalData.commitments), PowerTable: { '/': c.supplementalData.powerTable.toString() } },
    Signers: bitfieldRuns(decodeRlePlus(c.signers)),
    Signature: toB64(c.signature),
    PowerTableDelta: c.powerTableDelta.map(d => ({ ParticipantID: d.participantId, PowerDelta: d.powerDelta.toString(), SigningKey: d.signingKey.length === 0 ? null : toB64(d.signingKey) }))
  }
}

export function powerTableFromLotusJson (rows: readonly LotusPowerEntryJson[]): PowerEntry[] {
  return rows.map(r => ({ id: r.ID, power: BigInt(r.Power), pubKey: fromB64(r.PubKey) }))
}

export function powerTableToLotusJson (entries: readonly PowerEntry[]): LotusPowerEntryJson[] {
  return entries.map(e => ({ ID: e.id, Power: e.power.toString(), PubKey: toB64(e.pubKey) }))
}
