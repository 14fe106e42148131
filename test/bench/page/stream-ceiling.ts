// Our libp2p stream between a bench worker and a Node peer on loopback WebSockets, bytes discarded (issue 17, part 1):
// the raw stream an upload or a download could reach from that worker. Shared by the dedicated ceilings worker and
// the shared one (stream.shared-worker.ts), since the app's node runs in a SharedWorker where it can.
import { createCofferLibp2p, drained } from '../../../src/net'
import { multiaddr } from '@multiformats/multiaddr'

const MiB = 1 << 20

export type StreamAsk =
  | { type: 'stream', addr: string, protocol: string, mib: number }
  | { type: 'stream-in', addr: string, protocol: string, mib: number }

const rate = (bytes: number, t: number): number => bytes / MiB / ((performance.now() - t) / 1000)

/** MiB/s of `ask.mib` MiB out of this worker to a sink (`stream`), or into it from a source (`stream-in`). */
export async function streamCeiling (ask: StreamAsk): Promise<number> {
  if (ask.type === 'stream') {
    // our libp2p stack (WebSockets, noise, yamux) from this worker to a Node sink that discards the bytes: 1 MiB
    // sends, as an upload's frames are at most; the clock stops at the sink's one-byte "all in"
    const node = await createCofferLibp2p({ allowLoopbackDials: true })
    try {
      const stream = await node.dialProtocol(multiaddr(ask.addr), ask.protocol)
      const chunk = new Uint8Array(MiB)
      for (let o = 0; o < MiB; o += 65536) crypto.getRandomValues(chunk.subarray(o, o + 65536))
      const t = performance.now()
      for (let sent = 0; sent < ask.mib * MiB; sent += MiB) if (!stream.send(chunk)) await drained(stream)
      for await (const _ of stream) break
      return rate(ask.mib * MiB, t)
    } finally { await node.stop() }
  }
  if (ask.type === 'stream-in') {
    // the other way: a Node source sends `mib` MiB on the stream this worker opens; the clock stops at its last byte
    const node = await createCofferLibp2p({ allowLoopbackDials: true })
    try {
      const stream = await node.dialProtocol(multiaddr(ask.addr), ask.protocol)
      let got = 0
      const t = performance.now()
      for await (const chunk of stream) {
        got += chunk.byteLength
        if (got >= ask.mib * MiB) break
      }
      if (got < ask.mib * MiB) throw new Error(`received ${got} of ${ask.mib * MiB} bytes`)
      return rate(got, t)
    } finally { await node.stop() }
  }
  throw new Error('not a stream ask')
}
