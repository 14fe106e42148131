// The one token bucket (core/rate-limit.ts) the audit protocol, the faucet and the HTTP gateway share, with the
// clock driven by the test; the gateway's admission on top of it (requests in flight overall and per client, the
// per-client rate, each refused with its own 429 error and a Retry-After) and how a client address is keyed.
import { describe, it, expect } from 'vitest'
import { TokenBuckets } from '../../src/core/rate-limit'
import { GatewayAdmission, GATEWAY_LIMITS, clientKey, GatewayBusyError, ClientBusyError, ClientRateError } from '../../src/node/provider/http-gateway'

describe('TokenBuckets', () => {
  it('a key gets its burst, then one token per refill; retryAfterMs says when the next comes; keys are apart', () => {
    const b = new TokenBuckets({ burst: 2, refillMs: 1000 })
    expect([b.take('a', 0).ok, b.take('a', 0).ok]).toEqual([true, true])
    expect(b.take('a', 0)).toEqual({ ok: false, retryAfterMs: 1000 })
    expect(b.take('a', 400)).toEqual({ ok: false, retryAfterMs: 600 })
    expect(b.take('b', 400).ok).toBe(true)
    expect(b.take('a', 1000).ok).toBe(true)
    expect(b.take('a', 1000).ok).toBe(false)
    // idle long, the whole burst again and never more
    expect([b.take('a', 60_000).ok, b.take('a', 60_000).ok, b.take('a', 60_000).ok]).toEqual([true, true, false])
  })

  it('a clock stepping back refills nothing; a refund gives one token back, never above the burst', () => {
    const b = new TokenBuckets({ burst: 2, refillMs: 1000 })
    b.take('a', 10_000); b.take('a', 10_000)
    expect(b.take('a', 5_000).ok).toBe(false)
    expect(b.tokens('a', 10_500)).toBeCloseTo(0.5)
    b.refund('a', 10_500)
    expect(b.tokens('a', 10_500)).toBeCloseTo(1.5)
    b.refund('a', 10_500); b.refund('a', 10_500)
    expect(b.tokens('a', 10_500)).toBe(2)
    expect(() => new TokenBuckets({ burst: 0, refillMs: 1 })).toThrow(RangeError)
  })

  it('keys that came once do not pile up: full buckets go past maxKeys, short ones stay short', () => {
    const b = new TokenBuckets({ burst: 1, refillMs: 1000 }, 4)
    b.take('spent', 0)
    for (let i = 0; i < 10; i++) b.take(`k${i}`, 5_000 + i * 1000)
    // 'spent' was refilled long ago and dropped: a fresh full bucket, the same as before
    expect(b.tokens('spent', 20_000)).toBe(1)
    // the latest key is still short: dropping it would have given it a fresh burst
    expect(b.take('k9', 14_000).ok).toBe(false)
  })
})

describe('GatewayAdmission', () => {
  const limits = { ...GATEWAY_LIMITS, maxInFlight: 3, maxInFlightPerClient: 2, rate: { burst: 4, refillMs: 10_000 } }

  it('in flight: a client over its share gets ClientBusyError, everyone over the total GatewayBusyError; a release frees a slot', () => {
    const a = new GatewayAdmission(limits)
    const r1 = a.admit('x', 0)
    a.admit('x', 0)
    expect(() => a.admit('x', 0)).toThrow(ClientBusyError)
    const r3 = a.admit('y', 0)
    const busy = (() => { try { a.admit('z', 0) } catch (err) { return err } })() as GatewayBusyError
    expect(busy).toBeInstanceOf(GatewayBusyError)
    expect(busy.status).toBe(429)
    expect(Number(busy.headers['Retry-After'])).toBeGreaterThanOrEqual(1)
    r1(); r1() // twice: freed once
    expect(a.active()).toBe(2)
    expect(a.active('x')).toBe(1)
    a.admit('z', 0)
    r3()
    expect(a.active('y')).toBe(0)
  })

  it('enter: a client over its share waits for its own slot (oldest first), up to maxQueuedPerClient and maxQueueWaitMs, or until its request goes', async () => {
    const a = new GatewayAdmission({ ...limits, maxInFlight: 10, maxQueuedPerClient: 2, maxQueueWaitMs: 200, rate: { burst: 100, refillMs: 10 } })
    const now = (): number => 0
    const r1 = await a.enter('x', now)
    await a.enter('x', now)
    const order: string[] = []
    const third = a.enter('x', now).then((r) => { order.push('third'); return r })
    const fourth = a.enter('x', now).then((r) => { order.push('fourth'); return r })
    await expect(a.enter('x', now)).rejects.toThrow(ClientBusyError) // two wait already
    expect(a.queued('x')).toBe(2)
    expect(a.active('x')).toBe(2)
    await a.enter('y', now) // another client is not held up
    r1()
    const r3 = await third
    expect(order).toEqual(['third'])
    expect(a.active('x')).toBe(2)
    r3()
    await fourth
    expect(order).toEqual(['third', 'fourth'])
    // a wait ends with its request, and after maxQueueWaitMs
    const gone = new AbortController()
    const abandoned = a.enter('x', now, gone.signal)
    gone.abort()
    await expect(abandoned).rejects.toThrow(ClientBusyError)
    await expect(a.enter('x', now)).rejects.toThrow(ClientBusyError) // waited 200 ms
    expect(a.queued()).toBe(0)
  })

  it('rate: each request takes a token (refused ones too cost nothing more); a paid one gives it back; Retry-After in seconds', () => {
    const a = new GatewayAdmission(limits)
    for (let i = 0; i < 4; i++) a.admit('x', 0)()
    const e = (() => { try { a.admit('x', 0) } catch (err) { return err } })() as ClientRateError
    expect(e).toBeInstanceOf(ClientRateError)
    expect(e.headers['Retry-After']).toBe('10')
    expect(e.details).toMatchObject({ retryAfterSeconds: 10 })
    expect(a.admit('y', 0)).toBeTypeOf('function')
    a.paid('x', 0)
    expect(a.admit('x', 0)).toBeTypeOf('function')
    expect(() => a.admit('x', 0)).toThrow(ClientRateError)
  })
})

describe('clientKey', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64', () => {
    expect(clientKey('127.0.0.1')).toBe('127.0.0.1')
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(clientKey('2001:db8:1:2::9')).toBe(clientKey('2001:0db8:0001:0002:ffff::1'))
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(clientKey(undefined)).toBe('?')
  })
})
