// An answer served as many small chunks reaches the asker in few muxer frames (stream-io.ts COALESCE_BYTES). Each
// frame costs the asker a WebSocket message, a decryption and a window update it sends back, and go-f3's certificate
// exchange is served a certificate at a time: a tab's cold sync of 1,000 certificates received ~1,000 frames for
// ~0.5 MB. Real libp2p over WebSockets on loopback; the asker counts the chunks its stream yields (one per frame).
import { describe, it, expect, afterEach } from 'vitest'
import { createCofferLibp2p } from '../../src/net'
import { serveOneShot, COALESCE_BYTES } from '../../src/net/stream-io'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

const PROTOCOL = '/coffer/test/coalesce/1'

describe('an answer of many small chunks', () => {
  it('arrives whole, in a few frames of at most COALESCE_BYTES, and a large chunk passes as it is', async () => {
    const server = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const client = await createCofferLibp2p({})
    cleanups.push(async () => { await client.stop() }, async () => { await server.stop() })
    // 400 chunks of 500 bytes (a certificate's size), then one of 200 kB (a block's), then 3 small ones
    const chunks = [
      ...Array.from({ length: 400 }, (_, i) => new Uint8Array(500).fill(i & 0xff)),
      new Uint8Array(200_000).fill(7),
      ...Array.from({ length: 3 }, (_, i) => new Uint8Array(100).fill(200 + i))
    ]
    await serveOneShot(server, PROTOCOL, 1024, async () => (async function * () { yield * chunks })(), () => new Uint8Array(0))

    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, PROTOCOL)
    stream.send(Uint8Array.of(1))
    await stream.close()
    const got: Uint8Array[] = []
    for await (const c of stream) got.push(c instanceof Uint8Array ? c.slice() : c.subarray())

    const sent = Buffer.concat(chunks)
    expect(Buffer.concat(got).equals(sent)).toBe(true)
    // 200 kB of small chunks in frames of up to COALESCE_BYTES (yamux may split a frame, never joins two), the large
    // one in frames of its own, the last three together: a frame a chunk would be 404
    const small = 400 * 500
    expect(got.length).toBeLessThanOrEqual(Math.ceil(small / COALESCE_BYTES) + 1 + Math.ceil(200_000 / COALESCE_BYTES) + 2)
    expect(Math.max(...got.map(c => c.length))).toBeGreaterThan(1000)
  })
})
