// Pause and Cancel stop a download at once even when the provider never waits for payment: a free provider streams
// the whole file ahead, the client's frame reader holds it buffered, and a session that looked at its signal only
// while waiting for a frame wrote (and would have paid for) the rest of the file after the user stopped it.
// Real libp2p on loopback, a real UnixFS CAR, a provider that sends everything without waiting.
import { describe, it, expect, afterEach } from 'vitest'
import { unixfsFile } from '../helpers/unixfs-file'
import { retrieveFile, newDownloadState, type RetrievalProvider, type DownloadState } from '../../src/light/retrieval-session'
import { createCofferLibp2p, type CofferLibp2p } from '../../src/net'
import { serveFreeRetrievals } from '../helpers/free-retrievals'
import { until } from '../helpers/until'
import { idAddressBytes, RETRIEVAL_MAX_CAR_BYTES, type CID } from '../../src/core'

const nodes: CofferLibp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => await n.stop())) })

const MiB = 2 ** 20
const LEAF = 256 * 2 ** 10

/** A free provider: every block of the walk, one frame each, sent without waiting for anything; `sentAll` once the last is handed to the stream. */
async function freeProvider (root: CID, blocks: Map<string, Uint8Array>): Promise<{ node: CofferLibp2p, sentAll: () => boolean }> {
  const node = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  nodes.push(node)
  return { node, ...(await serveFreeRetrievals(node, root, blocks, LEAF)) }
}

describe('stopping a download the provider streams ahead', () => {
  it('writes no frame after the signal is aborted, and rejects with its reason', async () => {
    const file = new Uint8Array(4 * MiB).map((_, i) => (i * 2654435761) >>> 24)
    const { root, blocks } = await unixfsFile(file)
    const p = await freeProvider(root, blocks)
    const client = await createCofferLibp2p({ allowLoopbackDials: true })
    nodes.push(client)
    const target: RetrievalProvider = {
      address: 't01000', peerId: p.node.peerId.toString(), addrs: p.node.getMultiaddrs().map(a => a.toString()),
      terms: { pricePerGiB: 0n, paymentInterval: LEAF, paymentIntervalIncrease: 0 }, worker: idAddressBytes(1000)
    }
    const stop = new AbortController()
    const writes: Array<{ offset: number, bytes: number, afterStop: boolean }> = []
    const sink = {
      write: async (offset: number, bytes: Uint8Array) => {
        writes.push({ offset, bytes: bytes.length, afterStop: stop.signal.aborted })
        if (writes.length === 1) {
          // the user stops the download while its first leaf is being written, and the provider has sent the rest by
          // then: it is all on its way or buffered here, so the reader never has to wait for a frame again (the
          // short pause lets loopback deliver what was sent; on a slower machine less may be buffered, which can
          // only hide the fault this checks, never fail the fixed code)
          await until(() => p.sentAll(), 30_000)
          await new Promise(resolve => setTimeout(resolve, 200))
          stop.abort(new Error('test: cancelled'))
        }
        expect(bytes.length).toBeGreaterThan(0)
      }
    }
    let saved: DownloadState | undefined
    const err = await retrieveFile({
      libp2p: client, root, providers: [target], payer: null, sink, state: newDownloadState(root),
      saveState: async (s) => { saved = structuredClone(s) }, signal: stop.signal
    }).then(() => undefined, (e: Error) => e)
    expect(err?.message).toBe('test: cancelled')
    // it stops at the end of the frame it was writing (a frame's blocks are verified and counted together, so the
    // saved state adds up), never later: the rest of a 1 MiB frame at most, where it used to write the whole file
    const after = writes.filter(w => w.afterStop).reduce((n, w) => n + w.bytes, 0)
    expect(after).toBeLessThan(RETRIEVAL_MAX_CAR_BYTES)
    const written = writes.reduce((n, w) => n + w.bytes, 0)
    expect(written).toBeLessThan(file.length / 2)
    // and the state saved says where: a resume goes on from the last byte written
    expect(saved?.verifiedOffset).toBe(written)
    expect(saved?.complete).toBe(false)
    // not counted as the provider's failure: a resume asks it again
    expect(saved?.providers[target.address]?.failure).toBeNull()
  }, 120_000)
})
