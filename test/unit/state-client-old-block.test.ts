// A historical block over the block gas limit (stored before that rule, issue 9 review item 8) is refused by
// the light client's state client, but the full node that served its messages faithfully told no lie: the
// blocks it sent are exactly what the verified header commits to, so it is not reported or hung up on.
import { describe, it, expect, vi } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  storeBlockMessages, signMessage, secpPublicKey, secpAddressBytes, MemoryBlockStore, RecordingGetter, loadBlockMessages,
  BLOCK_GAS_LIMIT, BASE_FEE, type SealedHeader
} from '../../src/core'

const served: { blocks: Uint8Array[] } = { blocks: [] }
vi.mock('../../src/net', () => ({
  requestState: async () => ({ ok: true, blocks: served.blocks })
}))
const { createStateClient } = await import('../../src/light/state-client')

describe('the state client and a block over the gas limit', () => {
  it('refuses the block (BlockGasLimitError) without calling the peer a liar', async () => {
    const store = new MemoryBlockStore()
    const keys = Array.from({ length: 3 }, (_, i) => new Uint8Array(32).fill(i + 1))
    const txMeta = storeBlockMessages(store, {
      bls: [],
      secp: keys.map(k => {
        const a = secpAddressBytes(secpPublicKey(k))
        return signMessage(k, { version: 0, to: a, from: a, nonce: 0, value: 1n, gasLimit: BLOCK_GAS_LIMIT, gasFeeCap: BASE_FEE, gasPremium: 1n, method: 0, params: new Uint8Array(0) })
      })
    })
    const rec = new RecordingGetter(store)
    try { loadBlockMessages(rec, txMeta) } catch {} // every block is read before the gas rule refuses them
    served.blocks = rec.blocks()
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const lies: string[] = []
    const client = createStateClient({
      libp2p: { getConnections: () => [{ remotePeer: peer }] } as never,
      store: {} as never,
      head: () => { throw new Error('not used') },
      onLie: (p) => { lies.push(p) }
    })
    const header = { cid: txMeta, header: { messages: txMeta } } as unknown as SealedHeader
    await expect(client.blockMessages(header)).rejects.toMatchObject({ name: 'BlockGasLimitError' })
    expect(lies).toEqual([])
    // a peer whose blocks do not make up what the header commits to still is one
    served.blocks = served.blocks.slice(1)
    await expect(client.blockMessages(header)).rejects.toMatchObject({ name: 'StateProofRejectedError' })
    expect(lies).toEqual([peer.toString()])
  })
})
