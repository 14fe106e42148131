// Signature verification speed where it matters, inside the light-client worker: Coffer's message-signature
// checks against the bare @noble/curves calls they wrap (the reference), measured in the same thread.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { blake2b } from '@noble/hashes/blake2.js'
import { signMessage, verifyMessageSignature, messageCid, secpPublicKey, secpAddressBytes, blsPublicKey, blsAddressBytes, type Message } from '../core'

export interface SignatureFigures { count: number, secpPerSec: number, secpRefPerSec: number, blsPerSec: number, blsRefPerSec: number }

function rate (count: number, fn: (i: number) => void): number {
  fn(0) // first use builds noble's tables
  let best = 0
  // best of three, so neither side pays for the JIT warming up on the other's behalf
  for (let round = 0; round < 3; round++) {
    const t = performance.now()
    for (let i = 0; i < count; i++) fn(i)
    best = Math.max(best, count / ((performance.now() - t) / 1000))
  }
  return best
}

export function measureSignatures (count: number): SignatureFigures {
  const msg = (from: Uint8Array, nonce: number): Message => ({
    version: 0, to: from, from, nonce, value: 1n, gasLimit: 1_000_000, gasFeeCap: 200n, gasPremium: 100n, method: 0, params: new Uint8Array(0)
  })
  const secpKey = secp256k1.utils.randomSecretKey()
  const secpFrom = secpAddressBytes(secpPublicKey(secpKey))
  const secpPub = secpPublicKey(secpKey)
  const secpSigned = Array.from({ length: count + 1 }, (_, i) => signMessage(secpKey, msg(secpFrom, i)))
  const blsKey = bls12_381.longSignatures.keygen().secretKey
  const blsFrom = blsAddressBytes(blsPublicKey(blsKey))
  const blsSigned = Array.from({ length: count + 1 }, (_, i) => signMessage(blsKey, msg(blsFrom, i)))

  const secpRefPerSec = rate(count, i => {
    const sm = secpSigned[i]!
    const ok = secp256k1.verify(sm.signature.data.subarray(0, 64), blake2b(messageCid(sm.message).bytes, { dkLen: 32 }), secpPub, { prehash: false })
    if (!ok) throw new Error('reference secp256k1 verify failed')
  })
  const secpPerSec = rate(count, i => { verifyMessageSignature(secpSigned[i]!) })
  const blsRefPerSec = rate(count, i => {
    const sm = blsSigned[i]!
    const ok = bls12_381.longSignatures.verify(sm.signature.data, bls12_381.longSignatures.hash(messageCid(sm.message).bytes), blsFrom.subarray(1))
    if (!ok) throw new Error('reference BLS verify failed')
  })
  const blsPerSec = rate(count, i => { verifyMessageSignature(blsSigned[i]!) })
  return { count, secpPerSec, secpRefPerSec, blsPerSec, blsRefPerSec }
}
