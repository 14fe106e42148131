// The provider's audit answer stops when its stream's deadline fires (the signal serveAudits hands it): a proof no
// client will read is not made, and the slot it holds is freed. A control call without a signal proves the same deal.
import { describe, it, expect } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { AUDIT_NONCE_BYTES, pieceDigest, pieceCidV1 } from '../../src/core'
import { answerAudit } from '../../src/node/provider/audit-server'
import type { ProviderStore } from '../../src/node/provider/provider-store'

describe('answerAudit and its deadline', () => {
  it('refuses to go on once the signal has fired, and proves the deal without one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-audit-abort-'))
    try {
      const payload = new Uint8Array(5000).map((_, i) => (i * 31) & 0xff)
      await writeFile(path.join(dir, 'payload'), payload)
      const digest = pieceDigest(payload)
      const pieceCid = pieceCidV1(digest.root)
      const deal = { dealId: 7, pieceCid: pieceCid.toString(), paddedBytes: 32 * 2 ** digest.height, payloadBytes: payload.length, file: 'payload' }
      const store = { all: () => [deal], absolute: (f: string) => path.join(dir, f) } as unknown as ProviderStore
      const req = { dealId: 7, pieceCid, leaves: [0, 3], nonce: new Uint8Array(AUDIT_NONCE_BYTES) }
      const proof = await answerAudit({ store }, req)
      expect(proof.length).toBeGreaterThan(0)
      const ac = new AbortController()
      ac.abort(new Error('the deadline passed'))
      await expect(answerAudit({ store }, req, undefined, ac.signal)).rejects.toThrow('the deadline passed')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
