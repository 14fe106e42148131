// Filecoin's BigInt wire form (used for ParentWeight, ParentBaseFee, token amounts): a byte string whose
// first byte is the sign (0x00 positive, 0x01 negative) followed by the big-endian magnitude; zero is empty.

export function encodeBigInt (value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0)
  const negative = value < 0n
  let hex = (negative ? -value : value).toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  const out = new Uint8Array(1 + hex.length / 2)
  out[0] = negative ? 1 : 0
  for (let i = 0; i < hex.length / 2; i++) out[i + 1] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Bytes that are not Filecoin's BigInt form. A RangeError still, as callers have long caught it. */
export class InvalidBigIntError extends RangeError {
  static override name = 'InvalidBigIntError'
  override name = 'InvalidBigIntError'
}

export function decodeBigInt (bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n
  if (bytes[0] !== 0 && bytes[0] !== 1) throw new InvalidBigIntError('big int sign byte must be 0 or 1')
  if (bytes.length === 1) throw new InvalidBigIntError('big int has a sign but no magnitude')
  // Lotus writes the magnitude without leading zeros (and zero as no bytes at all); accepting padding would
  // let one value arrive as many byte strings, so a signed header could be re-sent under a second CID
  if (bytes[1] === 0) throw new InvalidBigIntError('big int magnitude has a leading zero byte')
  let v = 0n
  for (let i = 1; i < bytes.length; i++) v = (v << 8n) | BigInt(bytes[i]!)
  return bytes[0] === 1 ? -v : v
}

// ---- FIL amounts: attoFIL as bigint, text as Lotus prints and parses it ----

export const ATTO_PER_FIL = 10n ** 18n
/** Filecoin's total supply (2 billion FIL): no amount on the chain can exceed it. */
export const TOTAL_FIL_ATTO = 2_000_000_000n * ATTO_PER_FIL

const UNITS: Record<string, number> = { fil: 18, millifil: 15, microfil: 12, nanofil: 9, picofil: 6, femtofil: 3, attofil: 0 }

export class InvalidAmountError extends Error {
  static override name = 'InvalidAmountError'
  override name = 'InvalidAmountError'
}

/** "1.5 FIL", "1 attoFIL", "250 nanoFIL", "2" (FIL): exact, no floating point; too many decimals is an error. */
export function parseFil (text: string): bigint {
  const m = /^\s*(-?)(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)\s*$/.exec(text)
  if (m === null) throw new InvalidAmountError(`not an amount: ${JSON.stringify(text)}`)
  const [, sign, whole, fraction = '', unitText] = m
  const decimals = UNITS[(unitText === '' ? 'fil' : unitText!).toLowerCase()]
  if (decimals === undefined) throw new InvalidAmountError(`unknown unit ${unitText} (FIL, milliFIL … attoFIL)`)
  if (fraction.length > decimals) throw new InvalidAmountError(`${text} is finer than 1 attoFIL`)
  const atto = BigInt(whole! + fraction.padEnd(decimals, '0'))
  if (atto > TOTAL_FIL_ATTO) throw new InvalidAmountError(`${text} exceeds Filecoin's total supply`)
  return sign === '-' ? -atto : atto
}

/** attoFIL → "1.5 FIL" (trailing zeros dropped; whole attoFIL precision kept). */
export function formatFil (atto: bigint): string {
  const negative = atto < 0n
  const abs = negative ? -atto : atto
  const whole = abs / ATTO_PER_FIL
  const fraction = (abs % ATTO_PER_FIL).toString().padStart(18, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`} FIL`
}
