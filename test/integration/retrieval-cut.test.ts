// A provider whose stream ends mid-frame (its process killed, its link dropped) is a broken link, not a liar: the
// download's record says why it stopped without marking the provider as lying, and the rerun asks it again and
// finishes from the verified offset. (The CLI once skipped a killed and restarted provider on every rerun as a liar:
// the crash-retrieval scenario's lost downloads.) Real libp2p on loopback, a real UnixFS CAR; the first stream is
// written by hand so that it ends inside a frame.
import { describe, it, expect, afterEach } from 'vitest'
import { unixfsFile } from '../helpers/unixfs-file'
import { serveFreeRetrievals } from '../helpers/free-retrievals'
import { retrieveFile, newDownloadState, AllProvidersFailedError, type RetrievalProvider, type DownloadState } from '../../src/light/retrieval-session'
import { createCofferLibp2p, FrameReader, writeFrame, type CofferLibp2p } from '../../src/net'
import {
  RETRIEVAL_PROTOCOL, RETRIEVAL_MAX_FRAME, UnixfsWalk, carHeader, carSection, carFrame, controlFrame, splitFrame,
  decodeRetrievalRequest, encodeRetrievalReply, idAddressBytes
} from '../../src/core'

const nodes: CofferLibp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => await n.stop())) })

const MiB = 2 ** 20
const LEAF = 256 * 2 ** 10

describe('a provider cut off mid-frame', () => {
  it('is not marked as lying, and the rerun finishes the file from it', async () => {
    const file = new Uint8Array(3 * MiB).map((_, i) => (i * 2654435761) >>> 24)
    const { root, blocks } = await unixfsFile(file)
    const node = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    nodes.push(node)
    // the first stream: accepted, the header, the root and four leaves, then three bytes of the next frame, and the end
    await node.handle(RETRIEVAL_PROTOCOL, async (stream) => {
      const frames = new FrameReader(stream, RETRIEVAL_MAX_FRAME)
      const first = await frames.read()
      const f = splitFrame(first!)
      if (f.kind !== 'control') throw new Error('expected a request')
      decodeRetrievalRequest(f.value)
      await writeFrame(stream, controlFrame(encodeRetrievalReply({ kind: 'accepted', pricePerGiB: 0n, paymentInterval: LEAF, paymentIntervalIncrease: 0 })))
      const walk = new UnixfsWalk(root)
      const rootBytes = blocks.get(root.toString())!
      walk.accept(root, rootBytes)
      await writeFrame(stream, carFrame(carHeader(root)))
      await writeFrame(stream, carFrame(carSection(root, rootBytes)))
      for (let i = 0; i < 4; i++) {
        const cid = walk.next()!
        const bytes = blocks.get(cid.toString())!
        walk.accept(cid, bytes)
        await writeFrame(stream, carFrame(carSection(cid, bytes)))
      }
      stream.send(new Uint8Array([0x80, 0x80, 0x08])) // a varint length of 128 KiB: the frame that never comes
      await stream.close()
    })
    const client = await createCofferLibp2p({ allowLoopbackDials: true })
    nodes.push(client)
    const target: RetrievalProvider = {
      address: 't01000', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()),
      terms: { pricePerGiB: 0n, paymentInterval: LEAF, paymentIntervalIncrease: 0 }, worker: idAddressBytes(1000)
    }
    const out = new Uint8Array(file.length)
    const sink = { write: async (offset: number, bytes: Uint8Array) => { out.set(bytes, offset) } }
    let saved: DownloadState = newDownloadState(root)
    const run = async (): Promise<Error | undefined> => await retrieveFile({
      libp2p: client, root, providers: [target], payer: null, sink, state: saved, saveState: async (s) => { saved = structuredClone(s) }
    }).then(() => undefined, (e: Error) => e)

    const err = await run()
    expect(err).toBeInstanceOf(AllProvidersFailedError)
    const failure = saved.providers[target.address]!.failure!
    expect(failure).toMatchObject({ name: 'StreamCutError', lied: false, atOffset: 4 * LEAF })
    expect(failure.message).toMatch(/ended inside a frame \(the other side closed its end, 3 bytes of the frame held\)/)
    expect(saved.verifiedOffset).toBe(4 * LEAF)

    // the provider comes back honest; the rerun (the user's "run it again") asks it for the rest
    await node.unhandle(RETRIEVAL_PROTOCOL)
    await serveFreeRetrievals(node, root, blocks, LEAF)
    expect(await run()).toBeUndefined()
    expect(saved.complete).toBe(true)
    expect(Buffer.from(out).equals(Buffer.from(file))).toBe(true)
  }, 60_000)
})
