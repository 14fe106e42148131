// FRC-0042 method numbers: the first four bytes (big-endian) of blake2b-512("1|" + name), the first
// such number at or above 2^24. Filecoin uses this for methods outside the built-in actors' old numbering,
// which is what Coffer's additions to the market actor are.
import { blake2b } from '@noble/hashes/blake2.js'

const FIRST_EXPORTED = 1 << 24

export function frc42MethodNumber (name: string): number {
  if (!/^[A-Z][A-Za-z0-9_]*$/.test(name)) throw new RangeError(`${name} is not an FRC-0042 method name`)
  const digest = blake2b(new TextEncoder().encode(`1|${name}`), { dkLen: 64 })
  for (let i = 0; i + 4 <= digest.length; i += 4) {
    const n = new DataView(digest.buffer, digest.byteOffset + i, 4).getUint32(0)
    if (n >= FIRST_EXPORTED) return n
  }
  throw new RangeError(`no FRC-0042 method number for ${name}`)
}
