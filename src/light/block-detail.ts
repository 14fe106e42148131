// A verified header's fields decoded for people, and the messages it carries (checked against the header's
// Messages root before they are shown).
import { base16 } from 'multiformats/bases/base16'
import { addressToString, formatFil, messageCid, signedMessageCid, encodeSignature, type SealedHeader } from '../core'
import type { LightClient } from './light-client'

export interface BlockDetail {
  cid: string
  height: number
  fields: Array<[string, string]>
  messages: Array<{ cid: string, from: string, to: string, value: string, nonce: number, method: number, signature: 'secp256k1' | 'bls' }>
  messagesError?: string
}

const hex = (b: Uint8Array): string => base16.baseEncode(b)
const short = (s: string): string => s.length > 24 ? `${s.slice(0, 12)}…${s.slice(-8)}` : s

function fieldsOf (h: SealedHeader): Array<[string, string]> {
  const x = h.header
  return [
    ['Miner', addressToString(x.miner, 't')],
    ['Ticket', x.ticket === null ? 'none' : short(hex(x.ticket))],
    ['ElectionProof', x.electionProof === null ? 'none' : `win count ${x.electionProof.winCount}`],
    // each verified against the genesis beacon key before the header was stored; round 0 is Lotus's genesis entry
    ['BeaconEntries', x.beaconEntries.map(e => e.round === 0 ? 'round 0 (genesis)' : `round ${e.round} ${short(hex(e.data))}`).join(', ') || 'none'],
    ['WinPoStProof', String(x.winPoStProof.length)],
    ['Parents', x.parents.map(String).join(', ') || 'none (genesis)'],
    ['ParentWeight', x.parentWeight.toString()],
    ['Height', String(x.height)],
    ['ParentStateRoot', String(x.parentStateRoot)],
    ['ParentMessageReceipts', String(x.parentMessageReceipts)],
    ['Messages', String(x.messages)],
    ['BLSAggregate', x.blsAggregate === null ? 'none' : short(hex(encodeSignature(x.blsAggregate)))],
    ['Timestamp', `${x.timestamp} (${new Date(x.timestamp * 1000).toISOString()})`],
    ['BlockSig', x.blockSig === null ? 'none' : short(hex(encodeSignature(x.blockSig)))],
    ['ForkSignaling', String(x.forkSignaling)],
    ['ParentBaseFee', `${x.parentBaseFee} attoFIL`],
    ['Size', `${h.bytes.length} bytes`]
  ]
}

export async function describeBlock (client: LightClient, cid: string): Promise<BlockDetail> {
  const h = await client.store.get(cid)
  if (h === null) throw new RangeError(`header ${cid} is not among the verified headers`)
  const detail: BlockDetail = { cid, height: h.header.height, fields: fieldsOf(h), messages: [] }
  try {
    const msgs = await client.state.blockMessages(h)
    detail.messages = [
      ...msgs.bls.map(m => ({ m, cid: messageCid(m).toString(), signature: 'bls' as const })),
      ...msgs.secp.map(sm => ({ m: sm.message, cid: signedMessageCid(sm).toString(), signature: 'secp256k1' as const }))
    ].map(({ m, cid, signature }) => ({
      cid, signature, from: addressToString(m.from, 't'), to: addressToString(m.to, 't'), value: formatFil(m.value), nonce: m.nonce, method: m.method
    }))
  } catch (err) {
    detail.messagesError = `${(err as Error).name}: ${(err as Error).message}`
  }
  return detail
}
