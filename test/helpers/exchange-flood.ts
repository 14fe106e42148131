// A hostile chain-exchange client, run as its own process so its CPU is not the node's: `peers` libp2p
// nodes (one connection each) keep `streams` requests for `length` headers open at once for `ms`, each
// slot asking again as soon as its last answer (or reset) came. Prints a JSON summary on stdout.
//   node --experimental-websocket --import tsx test/helpers/exchange-flood.ts <json options>
import '../../src/net/polyfills'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { createCofferLibp2p } from '../../src/net'
import { CHAIN_EXCHANGE_PROTOCOL, EXCHANGE_OPT_HEADERS, encodeExchangeRequest } from '../../src/core'

export interface FloodOptions { addr: string, head: string, peers: number, streams: number, length: number, ms: number }
export interface FloodResult { requests: number, statuses: Record<string, number>, errors: Record<string, number>, bytes: number, headerBytes: number }

/** The status of a chain-exchange response, read from its first bytes: [status, message, chain]. */
function statusOf (b: Uint8Array): number {
  if (b[0] !== 0x83) return -1
  const v = b[1]!
  if (v < 24) return v
  if (v === 24) return b[2]!
  if (v === 25) return (b[2]! << 8) | b[3]!
  return -1
}

async function flood (o: FloodOptions): Promise<FloodResult> {
  const result: FloodResult = { requests: 0, statuses: {}, errors: {}, bytes: 0, headerBytes: 0 }
  const nodes = await Promise.all(Array.from({ length: o.peers }, async () => await createCofferLibp2p({ allowLoopbackDials: true })))
  const target = multiaddr(o.addr)
  const request = encodeExchangeRequest({ head: [CID.parse(o.head)], length: o.length, options: EXCHANGE_OPT_HEADERS })
  // libp2p refuses more than 5 inbound connections a second from one host (inboundConnectionThreshold):
  // connect at that pace, retrying a refused one
  for (const n of nodes) {
    for (let tries = 0; ; tries++) {
      try {
        await n.dial(target)
        break
      } catch (err) {
        if (tries === 20) throw err
      } finally {
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }
  }
  const end = Date.now() + o.ms
  const slot = async (n: (typeof nodes)[number]): Promise<void> => {
    while (Date.now() < end) {
      result.requests++
      try {
        const stream = await n.dialProtocol(target, CHAIN_EXCHANGE_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
        stream.send(request)
        await stream.close()
        let first: Uint8Array | undefined
        let size = 0
        for await (const chunk of stream) {
          const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
          first ??= bytes
          size += bytes.length
        }
        result.bytes += size
        const status = first === undefined ? 'empty' : String(statusOf(first))
        result.statuses[status] = (result.statuses[status] ?? 0) + 1
        if (status === '0') result.headerBytes = Math.round(size / o.length)
      } catch (err) {
        const name = (err as Error).name
        result.errors[name] = (result.errors[name] ?? 0) + 1
        // a closed connection fails every slot at once and at no cost to the node: pause rather than spin
        // this process's CPU, which shares the machine with the node being measured
        if (name === 'ConnectionClosedError') await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }
  await Promise.all(nodes.flatMap(n => Array.from({ length: o.streams }, async () => await slot(n))))
  await Promise.all(nodes.map(async n => { await n.stop() }))
  return result
}

const options = JSON.parse(process.argv[2]!) as FloodOptions
flood(options).then(r => {
  process.stdout.write(JSON.stringify(r) + '\n')
  process.exit(0)
}, err => {
  process.stderr.write(String((err as Error).stack) + '\n')
  process.exit(1)
})
