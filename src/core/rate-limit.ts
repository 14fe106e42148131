// Token buckets by key: the one rate limit the audit protocol (per peer), the faucet (one key for all addresses)
// and the HTTP gateway (per client address) share. Pure: the caller passes the time, so tests drive the clock.

/** A bucket's shape: `burst` tokens when full, one more every `refillMs` milliseconds. */
export interface TokenRate { burst: number, refillMs: number }

/** What `take` answers: a token was taken, or none was left and one comes in `retryAfterMs` (ms, rounded up). */
export type TakeResult = { ok: true } | { ok: false, retryAfterMs: number }

interface Bucket { tokens: number, at: number }

/** Keys kept before full buckets are dropped: a key anyone can make up (a peer ID, an address) must not grow the map for ever. */
const DEFAULT_MAX_KEYS = 1024

/**
 * One token bucket per key, each starting full. A bucket refilled to full is the same as none, so once more than
 * `maxKeys` are kept the full ones are dropped (keys that came once do not pile up); buckets still short of full
 * are kept, since dropping them would hand their keys a fresh burst.
 */
export class TokenBuckets<K = string> {
  private readonly buckets = new Map<K, Bucket>()

  constructor (readonly rate: TokenRate, private readonly maxKeys = DEFAULT_MAX_KEYS) {
    if (!(rate.burst >= 1) || !(rate.refillMs > 0)) throw new RangeError(`a token bucket needs burst ≥ 1 and refillMs > 0, not ${rate.burst} and ${rate.refillMs}`)
  }

  /** Takes one token for `key` at time `nowMs`. */
  take (key: K, nowMs: number): TakeResult {
    const b = this.refilled(key, nowMs)
    if (b.tokens < 1) {
      this.buckets.set(key, b)
      return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) * this.rate.refillMs) }
    }
    b.tokens -= 1
    this.buckets.set(key, b)
    if (this.buckets.size > this.maxKeys) this.prune(nowMs)
    return { ok: true }
  }

  /** Gives back a token taken for work that turned out to be paid for (never above the burst). */
  refund (key: K, nowMs: number): void {
    const b = this.buckets.get(key)
    if (b === undefined) return
    const r = this.refilled(key, nowMs)
    r.tokens = Math.min(this.rate.burst, r.tokens + 1)
    this.buckets.set(key, r)
  }

  /** Tokens `key` holds at `nowMs` (the burst for a key never seen). */
  tokens (key: K, nowMs: number): number { return this.refilled(key, nowMs).tokens }

  private refilled (key: K, nowMs: number): Bucket {
    const b = this.buckets.get(key)
    if (b === undefined) return { tokens: this.rate.burst, at: nowMs }
    // a clock that steps back refills nothing (and does not move the bucket's time back either)
    const earned = Math.max(0, nowMs - b.at) / this.rate.refillMs
    return { tokens: Math.min(this.rate.burst, b.tokens + earned), at: Math.max(b.at, nowMs) }
  }

  private prune (nowMs: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + Math.max(0, nowMs - b.at) / this.rate.refillMs >= this.rate.burst) this.buckets.delete(k)
    }
  }
}
