// What an HTTP client can make a provider's gateway do before it pays: requests in flight (overall and per client
// address), a per-client request rate, connections, server timeouts, and the unpaid reading a CAR plan may do. The
// same for priced and free providers: a free one gives bytes away, not its disk and cores to whoever asks fastest.
import { isIPv6 } from 'node:net'
import { TokenBuckets, type TokenRate } from '../../../core/rate-limit'
import { GatewayBusyError, ClientBusyError, ClientRateError } from './errors'

export interface GatewayLimits {
  /** Requests answered at once, all clients together; beyond: 429 GatewayBusyError. */
  maxInFlight: number
  /** Requests answered at once for one client address (an IPv6 client: its /64); beyond, they wait (below). */
  maxInFlightPerClient: number
  /**
   * Requests of one client that wait for one of its slots instead of getting 429 at once; beyond, or after
   * maxQueueWaitMs, 429 ClientBusyError. A trustless client fetches a DAG many blocks at once: Helia's
   * verified-fetch had more than 8 in flight here, took the 429 as a failed block and hung its session.
   */
  maxQueuedPerClient: number
  maxQueueWaitMs: number
  /** Each client's token bucket: every request takes a token, a paid one gives it back; none left: 429 ClientRateError. */
  rate: TokenRate
  /** Open connections, all clients together (Node's `server.maxConnections`: beyond it a new socket is closed at once). */
  maxConnections: number
  /** Open connections from one client address; beyond: the new socket is closed at once. */
  maxConnectionsPerClient: number
  /** Node's `headersTimeout` and `requestTimeout`: a request's head (a GET has no body) must be in within this. */
  headersTimeoutMs: number
  /** Node's `keepAliveTimeout`: an idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** A socket with no byte read or written for this long (a client that stopped reading a body) is destroyed. */
  idleTimeoutMs: number
  /** How often Node checks the two request timeouts (its `connectionsCheckingInterval`). */
  timeoutCheckMs: number
  /** Bytes of non-raw blocks (dag-pb nodes) a CAR plan may read before the answer is priced; beyond: 422 PlanTooLargeError. */
  maxPlanReadBytes: number
  /** Blocks a CAR plan may walk (raw leaves cost no read, but a DAG linking one leaf over and over is a long walk). */
  maxPlanBlocks: number
}

/**
 * The defaults, and where they come from:
 * - maxInFlight 64: boxo's gateway defaults to 4096 (DefaultMaxConcurrentRequests, sized for a public gateway behind
 *   nginx, 429 beyond as here); Lotus allowed 20 retrieval transfers at once (DefaultSimultaneousTransfers). A
 *   provider's gateway shares its disk with proving, and each answer holds a file open and a block (≤ 2 MiB) in
 *   memory, so it sits near Lotus's figure, raised for the short range reads HTTP clients make.
 * - maxInFlightPerClient 8: a browser opens at most 6 HTTP/1.1 connections to a host, so an honest tab never has
 *   more than 6 requests in flight; 8 leaves room for a second tool on the same address. A Node client is not so
 *   bounded: up to maxQueuedPerClient 32 more wait their turn (each holds a connection, and maxConnectionsPerClient
 *   32 bounds those anyway) for at most maxQueueWaitMs 30 s, the headers timeout.
 * - rate: a burst of 120, then 20 a second. A trustless client fetching a file block by block (`format=raw`, as
 *   Helia's block brokers do) asks once per 256 KiB block; paid answers give their token back, so a paying client
 *   is bounded by its payments, not by this.
 * - maxConnections 1024 / per client 32; headersTimeoutMs 30 s as Lotus's HTTP servers set Go's ReadHeaderTimeout
 *   (node/rpc.go); keepAliveTimeoutMs 5 s, Node's default; idleTimeoutMs 30 s as boxo's DefaultRetrievalTimeout
 *   (the longest a response may go without writing).
 * - maxPlanReadBytes 8 MiB: a UnixFS file with raw leaves spends ~50 bytes of dag-pb per 256 KiB leaf, so 8 MiB of
 *   nodes plans a file of ~40 GiB (a 32 GiB sector's worth) in one request; a file of dag-pb leaves (its bytes inside
 *   the nodes) is planned by reading it, so it is paged with entity-bytes, 8 MiB of it per request.
 * - maxPlanBlocks 2^17: 32 GiB of 256 KiB leaves.
 */
export const GATEWAY_LIMITS: GatewayLimits = {
  maxInFlight: 64,
  maxInFlightPerClient: 8,
  maxQueuedPerClient: 32,
  maxQueueWaitMs: 30_000,
  rate: { burst: 120, refillMs: 50 },
  maxConnections: 1024,
  maxConnectionsPerClient: 32,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  timeoutCheckMs: 5_000,
  maxPlanReadBytes: 8 * 2 ** 20,
  maxPlanBlocks: 2 ** 17
}

/**
 * Who a request counts against: its socket's address, an IPv4-mapped IPv6 address as the IPv4 one and any other
 * IPv6 address as its /64 (one host is handed a whole /64, so per address it would have 2^64 buckets).
 * X-Forwarded-For is not trusted: anyone can write it; a gateway behind a proxy sees the proxy as one client.
 */
export function clientKey (address: string | undefined): string {
  if (address === undefined) return '?'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]!
  if (!isIPv6(address)) return address
  const [head = '', tail] = address.split('%')[0]!.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`
}

/** Retry-After (RFC 9110 §10.2.3) is whole seconds: at least 1. */
const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))

/**
 * Admits requests: a slot in flight overall and for the client, and a token from the client's bucket, or a 429
 * error saying which limit and when to come back. `admit` counts only (no timers, `nowMs` from the caller);
 * `enter` lets a client over its share wait for one of its own slots, bounded in number and time.
 */
export class GatewayAdmission {
  private inFlight = 0
  private readonly perClient = new Map<string, number>()
  private readonly buckets: TokenBuckets
  /** Requests waiting for a slot of their client's, oldest first: a release wakes the first. */
  private readonly waiting = new Map<string, Array<() => void>>()

  constructor (private readonly limits: GatewayLimits) {
    this.buckets = new TokenBuckets(limits.rate)
  }

  /** Takes a slot and a token for `client`, or throws a 429 error; the returned function frees the slot (once). */
  admit (client: string, nowMs: number): () => void {
    if (this.inFlight >= this.limits.maxInFlight) {
      throw new GatewayBusyError(`this gateway is answering ${this.inFlight} requests, all it will at once; try again shortly`, 5)
    }
    const mine = this.perClient.get(client) ?? 0
    if (mine >= this.limits.maxInFlightPerClient) {
      throw new ClientBusyError(`${mine} requests of yours are being answered, the most one client may have at once`, 1)
    }
    const token = this.buckets.take(client, nowMs)
    if (!token.ok) {
      const r = this.limits.rate
      throw new ClientRateError(`over ${r.burst} requests, then one per ${r.refillMs} ms, from one client`, seconds(token.retryAfterMs))
    }
    this.inFlight++
    this.perClient.set(client, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.inFlight--
      const n = (this.perClient.get(client) ?? 1) - 1
      if (n === 0) this.perClient.delete(client)
      else this.perClient.set(client, n)
      this.waiting.get(client)?.[0]?.()
    }
  }

  /**
   * `admit`, except that a client over its own share (ClientBusyError) waits for one of its slots, if fewer than
   * maxQueuedPerClient of its requests wait already, for at most maxQueueWaitMs or until `signal` (the request's
   * connection closed); then the ClientBusyError. The overall limit and the rate still answer 429 at once.
   */
  async enter (client: string, nowMs: () => number, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      try {
        return this.admit(client, nowMs())
      } catch (err) {
        if (!(err instanceof ClientBusyError)) throw err
        const queue = this.waiting.get(client) ?? []
        if (queue.length >= this.limits.maxQueuedPerClient || signal?.aborted === true) throw err
        await new Promise<void>((resolve, reject) => {
          const leave = (): void => {
            clearTimeout(timer)
            signal?.removeEventListener('abort', onAbort)
            const at = queue.indexOf(wake)
            if (at >= 0) queue.splice(at, 1)
            if (queue.length === 0) this.waiting.delete(client)
          }
          const wake = (): void => { leave(); resolve() }
          const onAbort = (): void => { leave(); reject(err) }
          const timer = setTimeout(onAbort, this.limits.maxQueueWaitMs)
          signal?.addEventListener('abort', onAbort, { once: true })
          queue.push(wake)
          this.waiting.set(client, queue)
        })
      }
    }
  }

  /** Requests waiting for a slot (all clients; one client's). */
  queued (client?: string): number {
    if (client !== undefined) return this.waiting.get(client)?.length ?? 0
    let n = 0
    for (const q of this.waiting.values()) n += q.length
    return n
  }

  /** A request that was paid for gives its token back: the rate bounds unpaid work, a payment covers its own. */
  paid (client: string, nowMs: number): void { this.buckets.refund(client, nowMs) }

  /** Requests in flight now (all clients; one client's). */
  active (client?: string): number { return client === undefined ? this.inFlight : this.perClient.get(client) ?? 0 }
}
