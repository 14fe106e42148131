// The libp2p stream with nothing behind it, the ceiling the bench's transfers are compared with: a Coffer node on
// loopback WebSockets that discards what it is sent (a sink) or sends bytes it never reads back (a source), and the
// time to push bytes through one stream between two nodes in this process.
import { randomFillSync } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { createCofferLibp2p, drained, type CofferLibp2p } from '../../src/net'

const MiB = 2 ** 20

/** The protocol a bench sink reads and discards (`startSink`). */
export const SINK_PROTOCOL = '/bench/sink/1.0.0'

/**
 * A Coffer node on loopback WebSockets that reads streams on SINK_PROTOCOL and discards the bytes; once `bytes` have
 * come it answers one byte ("all in"), so the sender's clock stops when the last byte has arrived, not when it left.
 */
export async function startSink (bytes: number): Promise<{ node: CofferLibp2p, addr: string, stop: () => Promise<void> }> {
  const node = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await node.handle(SINK_PROTOCOL, async (stream: Stream) => {
    let got = 0
    for await (const chunk of stream) {
      got += chunk.byteLength
      if (got >= bytes) break
    }
    stream.send(new Uint8Array([1]))
    await stream.close()
  })
  return { node, addr: node.getMultiaddrs()[0]!.toString(), stop: async () => { await node.stop() } }
}

/** Seconds to push `bytes` through one libp2p stream between two Coffer nodes on loopback, bytes discarded. */
export async function rawStreamSecs (bytes: number): Promise<number> {
  const a = await startSink(bytes)
  const b = await createCofferLibp2p({ listen: [] })
  try {
    const stream = await b.dialProtocol(a.node.getMultiaddrs()[0]!, SINK_PROTOCOL)
    const chunk = new Uint8Array(MiB)
    randomFillSync(chunk)
    const t = performance.now()
    for (let sent = 0; sent < bytes; sent += MiB) {
      if (!stream.send(chunk)) await drained(stream)
    }
    for await (const _ of stream) break // the sink's one-byte "all in"
    return (performance.now() - t) / 1000
  } finally {
    await b.stop()
    await a.stop()
  }
}

/** The protocol a bench source answers on (`startSource`). */
export const SOURCE_PROTOCOL = '/bench/source/1.0.0'

/**
 * A Coffer node on loopback WebSockets that, on each stream opened to it on SOURCE_PROTOCOL, sends `bytes` of random
 * bytes (1 MiB sends, waiting for the stream to drain) and closes its side: the reader's clock stops at its last byte.
 */
export async function startSource (bytes: number): Promise<{ node: CofferLibp2p, addr: string, stop: () => Promise<void> }> {
  const node = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const chunk = new Uint8Array(MiB)
  randomFillSync(chunk)
  await node.handle(SOURCE_PROTOCOL, async (stream: Stream) => {
    for (let sent = 0; sent < bytes; sent += MiB) if (!stream.send(chunk.subarray(0, Math.min(MiB, bytes - sent)))) await drained(stream)
    await stream.close()
  })
  return { node, addr: node.getMultiaddrs()[0]!.toString(), stop: async () => { await node.stop() } }
}
