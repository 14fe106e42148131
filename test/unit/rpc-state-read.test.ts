// Verified state reads over JSON-RPC (coffer retrieve's channel reads): each block checked against its CID, kept for
// the next read, a node answering with other bytes refused by name.
import { describe, it, expect } from 'vitest'
import { base64pad } from 'multiformats/bases/base64'
import { createGenesis, getActor, blsPublicKey, idAddressBytes, secpAddressBytes, secpPublicKey, encodeMessage, ATTO_PER_FIL, type Genesis } from '../../src/core'
import { readOverRpc, VerifiedBlockCache, RpcBlockMismatchError } from '../../src/node/rpc-state-read'
import { TEST_BEACON } from '../helpers/test-beacon'

const who = secpAddressBytes(secpPublicKey(new Uint8Array(32).fill(5)))
const genesis: Genesis = createGenesis({ beacon: TEST_BEACON, network: 'rpc-read-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(new Uint8Array(32).fill(3)), blockDelaySecs: 1 }, 1_700_000_000,
  [{ address: who, balance: 7n * ATTO_PER_FIL }])
const root = genesis.header.header.parentStateRoot

/** ChainReadObj over the genesis store, counting calls; `lie` answers one CID with other bytes. */
function node (lie?: string) {
  const asked: string[] = []
  const readObj = async (cid: string): Promise<string> => {
    asked.push(cid)
    if (cid === lie) return base64pad.baseEncode(encodeMessage({ version: 0, to: who, from: who, nonce: 0, value: 0n, gasLimit: 0, gasFeeCap: 0n, gasPremium: 0n, method: 0, params: new Uint8Array(0) }))
    const { CID } = await import('multiformats/cid')
    return base64pad.baseEncode(genesis.store!.get(CID.parse(cid))!)
  }
  return { asked, readObj }
}

describe('readOverRpc', () => {
  it('reads an actor with every block checked, and a second read fetches nothing', async () => {
    const n = node()
    const cache = new VerifiedBlockCache()
    const a = await readOverRpc(n.readObj, cache, root, (g, r) => getActor(g, r, who))
    expect(a?.balance).toBe(7n * ATTO_PER_FIL)
    const first = n.asked.length
    expect(first).toBeGreaterThan(1)
    expect(new Set(n.asked).size).toBe(first)
    await readOverRpc(n.readObj, cache, root, (g, r) => getActor(g, r, who))
    expect(n.asked.length).toBe(first)
  })

  it('a node answering a CID with other bytes: RpcBlockMismatchError, nothing kept', async () => {
    const honest = node()
    await readOverRpc(honest.readObj, new VerifiedBlockCache(), root, (g, r) => getActor(g, r, who))
    const liar = node(honest.asked[1])
    const cache = new VerifiedBlockCache()
    await expect(readOverRpc(liar.readObj, cache, root, (g, r) => getActor(g, r, who))).rejects.toBeInstanceOf(RpcBlockMismatchError)
    expect(cache.size).toBe(1)
  })

  it('keeps at most its limit between reads (a read deeper than it still ends), dropping the least recently used', async () => {
    const n = node()
    const cache = new VerifiedBlockCache(1)
    await readOverRpc(n.readObj, cache, root, (g, r) => getActor(g, r, who))
    const first = n.asked.length
    expect(first).toBeGreaterThan(1)
    expect(cache.size).toBe(first)
    await readOverRpc(n.readObj, cache, root, (g, r) => getActor(g, r, who))
    // trimmed to the last block used (the actor's leaf): the path above it fetched again
    expect(n.asked.length).toBe(2 * first - 1)
  })
})
