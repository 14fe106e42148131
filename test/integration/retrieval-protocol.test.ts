// The retrieval stream between two real libp2p nodes on loopback, with a scripted provider session: CAR bytes
// arrive in order; a priced provider stops after one payment interval of unpaid block bytes and goes on as
// vouchers pay; the interval grows by its increase; a client that stops paying is told UNPAID; a refusal
// reaches the client by code; a free provider needs no voucher.
import { describe, it, expect, afterEach } from 'vitest'
import { createCofferLibp2p, serveRetrievals, openRetrieval, priceOfBytes, type CofferLibp2p, type RetrievalServerSession, type CarPart, type RetrievalStream } from '../../src/net'
import { CID, GIB, RetrievalRejectedError, PaymentOwedError, ChannelLedger, intervalSizeAt, type RetrievalRequest } from '../../src/core'
import { sha256 } from 'multiformats/hashes/sha2'
import { until } from '../helpers/until'

const nodes: CofferLibp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => await n.stop())) })

const BLOCK = 64 * 1024
const root = CID.createV1(0x55, await sha256.digest(new Uint8Array([1])))

/** A provider whose session sends `blocks` parts of BLOCK charged bytes each, recording vouchers as payments of their length. */
async function pair (o: { blocks: number, pricePerGiB: bigint, interval: number, increase: number, idleMs?: number, refuse?: RetrievalRejectedError, ledger?: ChannelLedger, voucherFails?: Error }): Promise<{ client: CofferLibp2p, provider: CofferLibp2p, sentAt: () => number, ended: Promise<{ sent: number, paid: bigint, complete: boolean, error?: Error }> }> {
  const provider = await createCofferLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const client = await createCofferLibp2p({ allowLoopbackDials: true })
  nodes.push(provider, client)
  let sent = 0
  let endResolve!: (v: { sent: number, paid: bigint, complete: boolean, error?: Error }) => void
  const ended = new Promise<{ sent: number, paid: bigint, complete: boolean, error?: Error }>(resolve => { endResolve = resolve })
  await serveRetrievals(provider, {
    accept: async (_req: RetrievalRequest) => {
      if (o.refuse !== undefined) throw o.refuse
      let paid = 0n
      const session: RetrievalServerSession = {
        // one channel's ledger shared by every stream, as the provider's RetrievalServer keeps it per channel
        ...(o.ledger === undefined ? {} : { ledger: o.ledger }),
        terms: { pricePerGiB: o.pricePerGiB, paymentInterval: o.interval, paymentIntervalIncrease: o.increase },
        car: (async function * (): AsyncIterable<CarPart> {
          yield { bytes: new Uint8Array(10), charged: 0 }
          // counted once the server comes back for the next part: the block before it has been handed to the stream
          for (let i = 0; i < o.blocks; i++) { yield { bytes: new Uint8Array(BLOCK).fill(i), charged: BLOCK }; sent += BLOCK }
        })(),
        // the test's "voucher" is the cumulative amount as decimal text
        voucher: async (bytes) => {
          if (o.voucherFails !== undefined) throw o.voucherFails
          const total = BigInt(new TextDecoder().decode(bytes))
          if (total > paid) o.ledger?.pay(total - paid)
          paid = total
          return paid
        },
        end: async (outcome) => { endResolve(outcome) }
      }
      return session
    }
  }, { idleTimeoutMs: o.idleMs ?? 30_000 })
  await client.dial(provider.getMultiaddrs()[0]!)
  return { client, provider, sentAt: () => sent, ended }
}

async function drain (s: RetrievalStream, onBytes: (n: number) => Promise<void>, onOwed?: (owed: bigint) => Promise<void>): Promise<number> {
  let got = 0
  for (;;) {
    const n = await s.next()
    if ('done' in n) return n.done
    if ('owed' in n) { await onOwed?.(n.owed); continue }
    got += n.car.length
    await onBytes(got)
  }
}

describe('retrieval stream', () => {
  it('a free provider streams everything without a voucher', async () => {
    const p = await pair({ blocks: 40, pricePerGiB: 0n, interval: BLOCK, increase: 0 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    expect(s.terms.pricePerGiB).toBe(0n)
    expect(await drain(s, async () => {})).toBe(40 * BLOCK)
    await s.close()
    expect((await p.ended).complete).toBe(true)
  })

  it('a priced provider waits at one unpaid interval, goes on as vouchers pay, and the interval grows', async () => {
    const price = GIB // 1 attoFIL a byte keeps the arithmetic visible
    const p = await pair({ blocks: 64, pricePerGiB: BigInt(price), interval: 4 * BLOCK, increase: BLOCK })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    // pay nothing: the provider stops once four blocks are out
    const next = await s.next()
    if (!('car' in next)) throw new Error('expected CAR bytes first')
    const first = next
    await until(() => p.sentAt() >= 4 * BLOCK, 30_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(p.sentAt()).toBe(4 * BLOCK)
    // pay for what arrives, interval by interval: the stream completes and the provider is paid in full
    let paidBytes = 0
    // go-fil-markets' schedule: 4 blocks, then 5, 6, … by the bytes paid for
    const interval = (): number => intervalSizeAt(paidBytes, 4 * BLOCK, BLOCK)
    let received = first.car.length - 10
    const pay = async (): Promise<void> => {
      paidBytes = received
      await s.sendVoucher(new TextEncoder().encode(String(priceOfBytes(paidBytes, BigInt(price)))))
    }
    // the provider batches blocks into frames, and flushes what it has when it must wait to be paid
    expect(received).toBe(4 * BLOCK)
    await pay()
    const done = await drain(s, async (n) => {
      received = first.car.length - 10 + n
      // the provider never has more than the current interval of unpaid bytes out (one block of slack:
      // it checks before each block)
      expect(p.sentAt() - paidBytes).toBeLessThanOrEqual(interval() + BLOCK)
      if (received - paidBytes >= interval()) await pay()
    })
    expect(done).toBe(64 * BLOCK)
    received = done
    await pay()
    await s.close()
    const end = await p.ended
    expect(end.complete).toBe(true)
    expect(end.paid).toBe(BigInt(64 * BLOCK))
  }, 60_000)

  it('a client that stops paying is told UNPAID after the idle time, having received one interval', async () => {
    const p = await pair({ blocks: 64, pricePerGiB: BigInt(GIB), interval: 2 * BLOCK, increase: 0, idleMs: 1500 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    const err = await drain(s, async () => {}).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(RetrievalRejectedError)
    expect((err as RetrievalRejectedError).code).toBe('UNPAID')
    expect(p.sentAt()).toBe(2 * BLOCK)
    expect((await p.ended).complete).toBe(false)
  }, 60_000)

  it('a client that pays every interval promptly is never told UNPAID, however long the download runs', async () => {
    // one block an interval keeps the provider's window full at almost every instant: only the payments
    // themselves show the client is paying. 30 blocks at ~100 ms a payment run twice the idle time.
    const p = await pair({ blocks: 30, pricePerGiB: BigInt(GIB), interval: BLOCK, increase: 0, idleMs: 1500 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    let got = -10
    let paidBytes = 0
    const done = await drain(s, async (n) => {
      got = n - 10
      if (got - paidBytes >= BLOCK) {
        paidBytes = got
        await new Promise(resolve => setTimeout(resolve, 100))
        await s.sendVoucher(new TextEncoder().encode(String(priceOfBytes(paidBytes, BigInt(GIB)))))
      }
    })
    expect(done).toBe(30 * BLOCK)
    await s.sendVoucher(new TextEncoder().encode(String(priceOfBytes(done, BigInt(GIB)))))
    await s.close()
    expect((await p.ended).complete).toBe(true)
  }, 60_000)

  it('a client paid ahead of the charges still has its last voucher, sent after done, taken before the session ends', async () => {
    // a resumed tab pays for blocks the provider did not charge again, so its vouchers run ahead of the charges;
    // the provider once judged the stream paid at done, closed it, and redeemed the lane one voucher short
    const p = await pair({ blocks: 4, pricePerGiB: BigInt(GIB), interval: 8 * BLOCK, increase: 0 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    await s.sendVoucher(new TextEncoder().encode(String(5 * BLOCK)))
    expect(await drain(s, async () => {})).toBe(4 * BLOCK)
    // the client's verifier counted one more block than was charged: its last voucher pays for it
    await s.sendVoucher(new TextEncoder().encode(String(6 * BLOCK)))
    await s.close()
    const end = await p.ended
    expect(end.paid).toBe(BigInt(6 * BLOCK))
    expect(end.complete).toBe(true)
  }, 60_000)

  it('a client that hangs up mid-download ends the provider\'s session at once, not at the idle timeout', async () => {
    const p = await pair({ blocks: 64, pricePerGiB: BigInt(GIB), interval: 2 * BLOCK, increase: 0, idleMs: 30_000 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    await s.next()
    const t = performance.now()
    await s.close()
    const end = await p.ended
    expect(end.complete).toBe(false)
    expect(performance.now() - t).toBeLessThan(15_000)
  }, 60_000)

  it('vouchers too small to pay for an interval neither grow the window nor keep the stream alive', async () => {
    // a client sending many tiny vouchers once grew its credit by the increase with each one
    const p = await pair({ blocks: 64, pricePerGiB: BigInt(GIB), interval: 2 * BLOCK, increase: 4 * BLOCK, idleMs: 2000 })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    await s.next()
    let amount = 0n
    const drip = setInterval(() => { amount += 1n; void s.sendVoucher(new TextEncoder().encode(String(amount))).catch(() => {}) }, 100)
    try {
      const err = await drain(s, async () => {}).then(() => undefined, (e: Error) => e)
      expect((err as RetrievalRejectedError).code).toBe('UNPAID')
    } finally { clearInterval(drip) }
    // 2 blocks of credit, a block of slack: never the 2 + 4 × (vouchers) blocks the old rule gave
    expect(p.sentAt()).toBeLessThanOrEqual(3 * BLOCK)
  }, 60_000)

  it('one channel, one interval: a stream after one that left unpaid gets no fresh credit, is told what is owed, and goes on once paid', async () => {
    const ledger = new ChannelLedger()
    const p = await pair({ blocks: 16, pricePerGiB: BigInt(GIB), interval: 2 * BLOCK, increase: 0, ledger })
    // the first stream takes its interval and leaves without paying (a closed tab)
    const s1 = await openRetrieval(p.client, p.provider.peerId, { root })
    await until(() => p.sentAt() >= 2 * BLOCK, 30_000)
    await s1.close()
    await p.ended
    expect(p.sentAt()).toBe(2 * BLOCK)
    expect(ledger.owed).toBe(BigInt(2 * BLOCK))
    // the second (a reconnect, on another lane of the channel) is held at once: the channel already owes an interval
    const s2 = await openRetrieval(p.client, p.provider.peerId, { root })
    const first = await s2.next() // the CAR header (charged nothing) comes before the wait
    expect('car' in first).toBe(true)
    expect(await s2.next()).toEqual({ owed: BigInt(2 * BLOCK) })
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(p.sentAt()).toBe(2 * BLOCK)
    // paying what the first stream owed lets it go on, and the stream pays its own blocks as they come
    let paid = 2n * BigInt(BLOCK)
    await s2.sendVoucher(new TextEncoder().encode(String(paid)))
    let got = 0
    const done = await drain(s2, async (n) => {
      got = n
      if (got - Number(paid - 2n * BigInt(BLOCK)) >= BLOCK) {
        paid = 2n * BigInt(BLOCK) + BigInt(got)
        await s2.sendVoucher(new TextEncoder().encode(String(paid)))
      }
    }, async () => {
      paid = 2n * BigInt(BLOCK) + BigInt(got)
      await s2.sendVoucher(new TextEncoder().encode(String(paid)))
    })
    expect(done).toBe(16 * BLOCK)
    await s2.sendVoucher(new TextEncoder().encode(String(2n * BigInt(BLOCK) + BigInt(done))))
    await s2.close()
    await until(() => ledger.owed === 0n, 30_000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(ledger.entry, (_, v: unknown) => typeof v === "bigint" ? String(v) : v)} done ${done}`) })
    expect(ledger.entry).toEqual({ sentBytes: 18 * BLOCK, charged: BigInt(18 * BLOCK), paid: BigInt(18 * BLOCK) })
  }, 60_000)

  it('streams side by side on one channel have one interval between them, not one each', async () => {
    const ledger = new ChannelLedger()
    const p = await pair({ blocks: 16, pricePerGiB: BigInt(GIB), interval: 4 * BLOCK, increase: 0, ledger })
    // four parallel range requests, none paying: the old per-stream count let out four intervals
    const streams = await Promise.all([0, 1, 2, 3].map(async () => await openRetrieval(p.client, p.provider.peerId, { root })))
    const owed = await Promise.all(streams.map(async (s) => {
      for (;;) {
        const n = await s.next()
        if ('owed' in n) return n.owed
        if ('done' in n) throw new Error('done without paying')
      }
    }))
    // every stream is held, and each says what the channel owes: one interval (and a block of slack per stream at most)
    expect(p.sentAt()).toBeGreaterThanOrEqual(4 * BLOCK)
    expect(p.sentAt()).toBeLessThanOrEqual(4 * BLOCK + 3 * BLOCK)
    for (const o of owed) expect(o).toBeGreaterThanOrEqual(BigInt(4 * BLOCK))
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(ledger.entry.sentBytes).toBe(p.sentAt())
    for (const s of streams) s.abort(new Error('test done'))
  }, 60_000)

  it('a channel that stays owing: the held stream is refused with PaymentOwedError saying how much', async () => {
    const ledger = new ChannelLedger({ sentBytes: 3 * BLOCK, charged: BigInt(3 * BLOCK), paid: 0n })
    const p = await pair({ blocks: 8, pricePerGiB: BigInt(GIB), interval: 2 * BLOCK, increase: 0, idleMs: 1500, ledger })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    const err = await drain(s, async () => {}).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(PaymentOwedError)
    expect((err as PaymentOwedError).code).toBe('UNPAID')
    expect((err as PaymentOwedError).owed).toBe(BigInt(3 * BLOCK))
    expect((err as Error).message).toContain(`${3 * BLOCK} attoFIL`)
    expect(p.sentAt()).toBe(0)
  }, 60_000)

  it('a provider that fails for a reason of its own says so by name (INTERNAL), with its framing intact', async () => {
    // (a provider that aborted the stream here left the client with "the stream ended inside a frame", and whoever
    // read the CLI's output with no idea why: the long crash-retrieval run's one failed download)
    const price = GIB
    const p = await pair({ blocks: 16, pricePerGiB: BigInt(price), interval: 4 * BLOCK, increase: 0, voucherFails: Object.assign(new Error('the channel cannot be read: state not synced'), { name: 'StateUnavailableError' }) })
    const s = await openRetrieval(p.client, p.provider.peerId, { root })
    const err = await drain(s, async (got) => { if (got >= 4 * BLOCK) await s.sendVoucher(new TextEncoder().encode(String(got))) }).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(RetrievalRejectedError)
    expect((err as RetrievalRejectedError).code).toBe('INTERNAL')
    expect((err as Error).message).toContain('StateUnavailableError: the channel cannot be read')
    expect((await p.ended).error?.name).toBe('StateUnavailableError')
  })

  it('a refusal reaches the client with its code', async () => {
    const p = await pair({ blocks: 1, pricePerGiB: 0n, interval: BLOCK, increase: 0, refuse: new RetrievalRejectedError('NOT_FOUND', 'no such payload') })
    const err = await openRetrieval(p.client, p.provider.peerId, { root }).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(RetrievalRejectedError)
    expect((err as RetrievalRejectedError).code).toBe('NOT_FOUND')
  })
})
