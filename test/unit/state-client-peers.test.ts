// Which peers one state read goes to. CI caught a download in a second browser failing for good: its full node was
// benched after one slow answer, the read went to the other tab (which serves only reads it checked itself), and
// that tab's "no answer" failed the read, and with it the provider the read was for. A read is now handed on.
import { describe, it, expect, vi, beforeEach } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { storeBlockMessages, MemoryBlockStore, RecordingGetter, loadBlockMessages, MalformedMessageError, type SealedHeader } from '../../src/core'

type Answer = { ok: boolean, blocks: Uint8Array[], error?: string } | Error
const answers = new Map<string, () => Answer>()
const asked: string[] = []
vi.mock('../../src/net', async (orig) => ({
  ...(await orig<object>()),
  requestState: async (_node: unknown, peer: { toString: () => string }) => {
    asked.push(peer.toString())
    const a = answers.get(peer.toString())!()
    if (a instanceof Error) throw a
    return a
  }
}))
const { createStateClient, MAX_PEERS_PER_READ } = await import('../../src/light/state-client')

const store = new MemoryBlockStore()
const txMeta = storeBlockMessages(store, { bls: [], secp: [] })
const rec = new RecordingGetter(store)
loadBlockMessages(rec, txMeta)
const proof = rec.blocks()
const header = { cid: txMeta, header: { messages: txMeta } } as unknown as SealedHeader
const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

function client (ids: string[], tabs: string[], lies: string[] = [], clock = { ms: 0 }): ReturnType<typeof createStateClient> {
  return createStateClient({
    libp2p: { getConnections: () => ids.map(id => ({ remotePeer: { toString: () => id } })) } as never,
    store: {} as never,
    head: () => { throw new Error('not used') },
    isTab: (p) => tabs.includes(p),
    onLie: (p) => { lies.push(p) },
    nowMs: () => clock.ms
  })
}

describe('the state client hands a read on', () => {
  beforeEach(() => { answers.clear(); asked.length = 0 })

  it('from a tab without the answer to the full node benched for a slow answer', async () => {
    const [node, tab] = [await newPeer(), await newPeer()]
    const c = client([tab, node], [tab])
    let slow = true
    answers.set(node, () => slow ? new Error('no answer in time') : { ok: true, blocks: proof })
    answers.set(tab, () => ({ ok: false, error: 'this tab holds no checked proof of that read', blocks: [] }))
    // the node first (a full node before a tab); its timeout hands the read to the tab, which has no answer either
    await expect(c.messageCount(header)).rejects.toMatchObject({ name: 'StateUnavailableError' })
    expect(asked).toEqual([node, tab])
    asked.length = 0
    slow = false
    // the node is benched now: the tab is asked first, and its "no answer" hands the read back to the node
    expect(await c.messageCount(header)).toBe(0)
    expect(asked).toEqual([tab, node])
  })

  it('says no peer could answer when the tab had none and the benched node timed out again (not the timeout alone)', async () => {
    const [node, tab] = [await newPeer(), await newPeer()]
    const c = client([tab, node], [tab])
    answers.set(node, () => new Error('no answer in time'))
    answers.set(tab, () => ({ ok: false, error: 'this tab holds no checked proof of that read', blocks: [] }))
    await c.messageCount(header).catch(() => {}) // the node benched
    asked.length = 0
    const err = await c.messageCount(header).catch((e: Error) => e)
    expect(asked).toEqual([tab, node])
    expect(err).toMatchObject({ name: 'StateUnavailableError', message: expect.stringContaining('no answer in time') })
  })

  it(`asks at most ${MAX_PEERS_PER_READ} peers, and says the last one's reason`, async () => {
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async () => await newPeer()))
    for (const id of ids) answers.set(id, () => ({ ok: false, error: `pruned by ${id.slice(-4)}`, blocks: [] }))
    const err = await client(ids, []).messageCount(header).catch((e: Error) => e)
    expect(asked).toEqual(ids.slice(0, MAX_PEERS_PER_READ))
    expect(err).toMatchObject({ name: 'StateUnavailableError', message: expect.stringContaining(`pruned by ${ids[MAX_PEERS_PER_READ - 1]!.slice(-4)}`) })
  })

  it('does not hand on an answer that does not decode: that peer is condemned and the read fails', async () => {
    const [liar, honest] = [await newPeer(), await newPeer()]
    const lies: string[] = []
    answers.set(liar, () => new MalformedMessageError('state response is not DAG-CBOR'))
    answers.set(honest, () => ({ ok: true, blocks: proof }))
    await expect(client([liar, honest], [], lies).messageCount(header)).rejects.toMatchObject({ name: 'StateProofRejectedError' })
    expect(asked).toEqual([liar])
    expect(lies).toEqual([liar])
  })

  it('does not hand on a proof that does not verify: that peer is condemned', async () => {
    const [liar, honest] = [await newPeer(), await newPeer()]
    const lies: string[] = []
    answers.set(liar, () => ({ ok: true, blocks: [] }))
    answers.set(honest, () => ({ ok: true, blocks: proof }))
    await expect(client([liar, honest], [], lies).messageCount(header)).rejects.toMatchObject({ name: 'StateProofRejectedError' })
    expect(asked).toEqual([liar])
    expect(lies).toEqual([liar])
  })

  it('with no peer connected, says so', async () => {
    await expect(client([], []).messageCount(header)).rejects.toMatchObject({ name: 'NoPeerError' })
  })
})
