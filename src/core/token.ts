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

export function decodeBigInt (bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n
  if (bytes[0] !== 0 && bytes[0] !== 1) throw new RangeError('big int sign byte must be 0 or 1')
  if (bytes.length === 1) throw new RangeError('big int has a sign but no magnitude')
  let v = 0n
  for (let i = 1; i < bytes.length; i++) v = (v << 8n) | BigInt(bytes[i]!)
  return bytes[0] === 1 ? -v : v
}
