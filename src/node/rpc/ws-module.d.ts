// Types for the part of `ws` 8.x the RPC server uses: the package ships none and @types/ws is not a
// dependency. Delete this file if @types/ws is ever added (the two declarations would clash).
declare module 'ws' {
  import type { IncomingMessage } from 'node:http'
  import type { Duplex } from 'node:stream'
  import { EventEmitter } from 'node:events'

  export type RawData = Buffer | ArrayBuffer | Buffer[]

  export class WebSocket extends EventEmitter {
    static readonly OPEN: 1
    readonly readyState: 0 | 1 | 2 | 3
    send (data: string, cb?: (err?: Error) => void): void
    close (code?: number, reason?: string): void
    terminate (): void
    on (event: 'message', listener: (data: RawData, isBinary: boolean) => void): this
    on (event: 'close', listener: (code: number, reason: Buffer) => void): this
    on (event: 'error', listener: (err: Error) => void): this
    on (event: string | symbol, listener: (...args: any[]) => void): this
  }

  export interface ServerOptions { noServer?: boolean, maxPayload?: number }

  export class WebSocketServer extends EventEmitter {
    constructor (options: ServerOptions)
    readonly clients: Set<WebSocket>
    handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket, req: IncomingMessage) => void): void
    close (cb?: (err?: Error) => void): void
  }
}
