// The short form of `npm run reliability`'s JSON-RPC fuzzing (issue 16 part 3): every method, on a real devnet
// node's chain, answers or throws a named error for parameters made from valid Lotus JSON mutated and random JSON.
import { describe, it, expect } from 'vitest'
import { fuzzRpc } from '../reliability/fuzz-rpc'

describe('fuzzing every JSON-RPC method (short form)', () => {
  it('no method throws an engine error or stalls on 100 parameter lists each; each valid seed is answered somewhere', async () => {
    const stats = new Map<string, { ok: number, named: number }>()
    const row = await fuzzRpc({ casesPerMethod: 100, stats })
    expect(row.failures).toEqual([])
    expect(row.crashes).toBe(0)
    // the calls reach the methods' work, not only their parameter checks
    expect(stats.get('Filecoin.ChainGetTipSet')!.ok + stats.get('Filecoin.WalletBalance')!.ok + stats.get('Filecoin.ChainGetBlock')!.ok).toBeGreaterThan(0)
  }, 120_000)
})
