// A node whose noise sessions use the WASM ChaCha20-Poly1305 (as a browser worker's do) talks to a node on
// @libp2p/noise's own cipher (Node's OpenSSL, as every provider and full node): megabytes both ways arrive whole.
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { createHash, randomFillSync } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { createCofferLibp2p, noiseCryptoWith, sendPaced } from '../../src/net'
import { AEAD_WASM_OUT } from '../../src/node/build-wasm'
import { instantiateAeadWasm } from '../../workers/wasm/aead-wasm'

const ECHO = '/test/echo-digest/1.0.0'
const MiB = 2 ** 20
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('noise with the WASM cipher', () => {
  it('moves 6 MiB each way between a WASM-cipher node and an OpenSSL one', async () => {
    const aead = await instantiateAeadWasm(readFileSync(AEAD_WASM_OUT))
    const server = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const client = await createCofferLibp2p({ noiseCrypto: noiseCryptoWith(aead), allowLoopbackDials: true })
    try {
      const payload = randomFillSync(new Uint8Array(6 * MiB))
      // the server reads it all, then sends it back reversed in 1 MiB pieces
      await server.handle(ECHO, async (stream: Stream) => {
        const parts: Uint8Array[] = []
        let got = 0
        for await (const chunk of stream) {
          const c = chunk.subarray()
          parts.push(c.slice())
          got += c.byteLength
          if (got >= payload.length) break
        }
        const all = Buffer.concat(parts)
        await sendPaced(stream, Uint8Array.from(all).reverse())
        await stream.close()
      })
      const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, ECHO)
      await sendPaced(stream, payload)
      const back: Uint8Array[] = []
      let got = 0
      for await (const chunk of stream) { back.push(chunk.subarray().slice()); got += chunk.byteLength; if (got >= payload.length) break }
      expect(got).toBe(payload.length)
      expect(sha(Buffer.concat(back))).toBe(sha(Uint8Array.from(payload).reverse()))
    } finally {
      await client.stop()
      await server.stop()
    }
  }, 60_000)
})
