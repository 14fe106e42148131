// Serves the built PWA and the bootstrap document over HTTP on loopback.
import http from 'node:http'
import sirv from 'sirv'
import type { BootstrapDocument } from '../net'

export class PortInUseError extends Error {
  static override name = 'PortInUseError'
  override name = 'PortInUseError'
  constructor (readonly port: number) { super(`port ${port} is in use (is another Coffer devnet running? pass --port N)`) }
}

export interface AppServer { url: string, port: number, close: () => Promise<void> }

export async function startAppServer (opts: { distDir: string, host: string, port: number, bootstrap: () => BootstrapDocument, crossOriginIsolated?: boolean }): Promise<AppServer> {
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
