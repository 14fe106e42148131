// A closed signature verifier stays closed (issue 9 review, item 15): a check that arrives after close() —
// a gossip message validated while the node stops — is refused instead of starting a new worker thread
// that nothing would ever terminate.
import { describe, it, expect } from 'vitest'
import { signMessage, secpPublicKey, secpAddressBytes, BASE_FEE } from '../../src/core'
import { threadVerifier } from '../../src/node/signature-verifier'

describe('threadVerifier after close()', { timeout: 60_000 }, () => {
  it('refuses every later check with VerifierClosedError', async () => {
    const key = new Uint8Array(32).fill(7)
    const from = secpAddressBytes(secpPublicKey(key))
    const sm = signMessage(key, { version: 0, to: from, from, nonce: 0, value: 1n, gasLimit: 1_000_000, gasFeeCap: BASE_FEE, gasPremium: 1n, method: 0, params: new Uint8Array(0) })
    const v = threadVerifier()
    expect(await v.verify(sm)).toBe(true) // a thread was started and answered
    await v.close()
    await expect(v.verify(sm)).rejects.toMatchObject({ name: 'VerifierClosedError', code: 'VERIFIER_CLOSED' })
    await v.close() // closing again is harmless
  })
})
