// The retrieval provider's record of one payment channel on disk: the best voucher per lane (as the client sent
// it), the redeem message out for each, and the channel's ledger. One JSON file per channel, written whole and
// durably: a voucher acknowledged to a client is never lost to a crash, and a record that cannot be read stops
// the provider rather than let it forget what it is owed.
import { readFile } from 'node:fs/promises'
import { base64 } from 'multiformats/bases/base64'
import { decodeSignedVoucher, parseAddress, ChannelLedger, emptyLedgerEntry, type LedgerEntry, type AttoFil } from '../../core'
import { writeFileDurably } from './durable-write'

/** A channel record on disk that cannot be read: the provider refuses to start rather than forget what it is owed. */
export class VoucherRecordError extends Error {
  static override name = 'VoucherRecordError'
  override name = 'VoucherRecordError'
  constructor (readonly file: string, message: string) { super(`${file}: ${message}`) }
}

/** The best voucher held on one lane, and the message redeeming it if one is out. */
export interface HeldVoucher {
  lane: number
  nonce: number
  amount: AttoFil
  /** The SignedVoucher as the client sent it (canonical bytes: decodeSignedVoucher refuses any other). */
  voucher: Uint8Array
  redeem?: { message: string, nonce: number, amount: AttoFil }
}

/** What the provider holds of one channel. */
export interface ChannelVouchers {
  /** The channel's ID address (t0…). */
  channel: string
  /** The address vouchers name it by (its f2 when the client used that): where redeems are sent. */
  address: string
  lanes: HeldVoucher[]
  /**
   * What every retrieval paid on this channel sent and was paid (a debt outlives its streams and restarts). Written
   * with each voucher, before a stream waits for payment and when it ends: a crash forgives at most what one stream
   * sent since its last such write, which is less than its interval (it would have waited, and written, at a full one).
   */
  ledger: LedgerEntry
}

/** 2: the channel's ledger beside its vouchers (a version 1 record has none: read as owing nothing). */
const RECORD_VERSION = 2

interface LaneFile { nonce: number, amount: string, voucher: string, redeem?: { message: string, nonce: number, amount: string } }
interface LedgerFile { sentBytes: number, charged: string, paid: string }
interface ChannelFile { version: number, channel: string, address: string, lanes: Record<string, LaneFile>, ledger?: LedgerFile }

/**
 * Writes the record whole to a temporary file, synced, renamed over the old one and the directory synced: a crash
 * leaves one or the other, and a record written (a voucher acknowledged) stays. `live`: the channel's ledger as
 * it stands now (a voucher's write also records what was charged so far).
 */
export async function writeVoucherRecord (file: string, rec: ChannelVouchers, live?: LedgerEntry): Promise<void> {
  const body: ChannelFile = {
    version: RECORD_VERSION,
    channel: rec.channel,
    address: rec.address,
    // the ledger as the live one stands when written: a voucher's write also records what was charged so far
    ledger: ledgerFile(live ?? rec.ledger, rec.ledger),
    lanes: Object.fromEntries(rec.lanes.map(l => [String(l.lane), {
      nonce: l.nonce,
      amount: l.amount.toString(),
      voucher: base64.baseEncode(l.voucher),
      ...(l.redeem === undefined ? {} : { redeem: { message: l.redeem.message, nonce: l.redeem.nonce, amount: l.redeem.amount.toString() } })
    }]))
  }
  await writeFileDurably(file, JSON.stringify(body, null, 1))
}

/**
 * The ledger figures to write: the live ones, except that `paid` is the record's own (takeVoucher writes the
 * payment before the live ledger takes it; a live payment is always in the record already).
 */
function ledgerFile (live: LedgerEntry, rec: LedgerEntry): LedgerFile {
  const paid = rec.paid > live.paid ? rec.paid : live.paid
  return { sentBytes: live.sentBytes, charged: live.charged.toString(), paid: paid.toString() }
}

export async function readVoucherRecord (file: string): Promise<ChannelVouchers> {
  let body: ChannelFile
  try {
    body = JSON.parse(await readFile(file, 'utf8')) as ChannelFile
  } catch (err) {
    throw new VoucherRecordError(file, `unreadable: ${(err as Error).message}`)
  }
  if ((body?.version !== RECORD_VERSION && body?.version !== 1) || typeof body.channel !== 'string' || typeof body.address !== 'string' || typeof body.lanes !== 'object') {
    throw new VoucherRecordError(file, 'not a channel record this version writes')
  }
  try {
    const lanes = Object.entries(body.lanes).map(([lane, l]): HeldVoucher => {
      const voucher = base64.baseDecode(l.voucher)
      const sv = decodeSignedVoucher(voucher)
      if (sv.lane !== Number(lane) || sv.nonce !== l.nonce || sv.amount !== BigInt(l.amount)) throw new Error(`lane ${lane} does not match its voucher`)
      return {
        lane: sv.lane, nonce: sv.nonce, amount: sv.amount, voucher,
        ...(l.redeem === undefined ? {} : { redeem: { message: l.redeem.message, nonce: l.redeem.nonce, amount: BigInt(l.redeem.amount) } })
      }
    })
    parseAddress(body.channel)
    parseAddress(body.address)
    let ledger = emptyLedgerEntry()
    if (body.ledger !== undefined) {
      const l = body.ledger
      ledger = new ChannelLedger({ sentBytes: l.sentBytes, charged: BigInt(l.charged), paid: BigInt(l.paid) }).entry
    }
    return { channel: body.channel, address: body.address, lanes: lanes.sort((a, b) => a.lane - b.lane), ledger }
  } catch (err) {
    throw new VoucherRecordError(file, (err as Error).message)
  }
}
