// A TCP proxy on loopback that passes bytes towards its target at a fixed rate (and the replies unthrottled):
// a real slow uplink for tests, whatever the machine's own speed. The target is set once it is known.
import net from 'node:net'

export interface ThrottleProxy {
  port: number
  /** Where connections go; set before the first one arrives. */
  setTarget: (host: string, port: number) => void
  /** Bytes passed towards the target so far. */
  forwarded: () => number
  close: () => Promise<void>
}

export async function startThrottleProxy (bytesPerSec: number): Promise<ThrottleProxy> {
  let target: { host: string, port: number } | undefined
  let forwarded = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    if (target === undefined) { client.destroy(); return }
    const upstream = net.connect(target.port, target.host)
    sockets.add(client)
    sockets.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    upstream.pipe(client)
    // towards the target: one slice per tick, each slice the rate's share of the tick
    const tickMs = 50
    const perTick = Math.max(1, Math.floor(bytesPerSec * tickMs / 1000))
    const queue: Buffer[] = []
    let queued = 0
    client.on('data', (chunk: Buffer) => {
      queue.push(chunk)
      queued += chunk.length
      if (queued > 256 * 1024) client.pause() // the sender feels the slow link as back-pressure, with little queued
    })
    const timer = setInterval(() => {
      let budget = perTick
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!
        const n = Math.min(budget, head.length)
        upstream.write(head.subarray(0, n))
        forwarded += n
        if (n === head.length) queue.shift()
        else queue[0] = head.subarray(n)
        queued -= n
        budget -= n
      }
      if (queued < 64 * 1024 && client.isPaused()) client.resume()
    }, tickMs)
    client.on('close', () => { clearInterval(timer) })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    setTarget: (host, p) => { target = { host, port: p } },
    forwarded: () => forwarded,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** A TCP port free on 127.0.0.1 right now (for a listener that must know its port before it starts). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}
