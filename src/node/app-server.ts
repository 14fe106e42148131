// Serves the built PWA, the bootstrap document and the genesis CAR (a new full node's genesis state, for
// tools and for nodes that join by the app's URL) over HTTP on loopback.
import http from 'node:http'
import sirv from 'sirv'
import type { BootstrapDocument } from '../net'

export class PortInUseError extends Error {
  static override name = 'PortInUseError'
  override name = 'PortInUseError'
  constructor (readonly port: number) { super(`port ${port} is in use (is another Coffer devnet running? pass --port N)`) }
}

export interface AppServer { url: string, port: number, close: () => Promise<void> }

export interface AppServerInit {
  distDir: string
  host: string
  port: number
  bootstrap: () => BootstrapDocument
  /** The genesis CAR (full-node/genesis-car.ts) served at GET /genesis.car; 404 when left out. */
  genesisCar?: () => Promise<Uint8Array>
  crossOriginIsolated?: boolean
}

export async function startAppServer (opts: AppServerInit): Promise<AppServer> {
  // genesis never changes: built once, on first request
  let car: Promise<Uint8Array> | undefined
  const assets = sirv(opts.distDir, {
    single: true,
    etag: true,
    setHeaders (res, pathname) {
      // the service worker and the page must be revalidated, or an update is never noticed
      if (pathname === '/sw.js' || pathname.endsWith('.html') || pathname === '/') res.setHeader('Cache-Control', 'no-cache')
    }
  })
  const server = http.createServer((req, res) => {
    if (opts.crossOriginIsolated === true) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp')
    }
    if (req.url?.split('?')[0] === '/bootstrap.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
      res.end(JSON.stringify(opts.bootstrap()))
      return
    }
    if (req.url?.split('?')[0] === '/genesis.car' && opts.genesisCar !== undefined) {
      car ??= opts.genesisCar()
      car.then((bytes) => {
        // a CAR is named by its root and never changes: cache it for good (as a trustless gateway's CAR)
        res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car; version=1', 'Content-Length': bytes.length, 'Cache-Control': 'public, max-age=31536000, immutable' })
        res.end(bytes)
      }, (err: Error) => {
        car = undefined
        res.writeHead(500, { 'Content-Type': 'text/plain' })
        res.end(`genesis CAR: ${err.message}`)
      })
      return
    }
    assets(req, res, () => { res.statusCode = 404; res.end('not found') })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(opts.port) : err))
    server.listen(opts.port, opts.host, () => resolve())
  })
  const port = (server.address() as { port: number }).port
  return {
    url: `http://${opts.host}:${port}`,
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
