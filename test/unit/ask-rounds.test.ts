// A proposal's asks in rounds (src/light/ask-rounds.ts): a provider that missed one ask is asked again at the
// next verified heads while the answers cannot make the copies; the rounds are counted in heads, and a provider
// that never answers is named with its error.
import { describe, it, expect } from 'vitest'
import { askInRounds, describeAskFailures, ASK_ROUNDS } from '../../src/light/ask-rounds'
import type { BootstrapProvider } from '../../src/net'
import type { ProviderQuote } from '../../src/light/storage-client'

const provider = (address: string): BootstrapProvider => ({ address, peerId: `peer-${address}`, addrs: [] })
const quoteOf = (p: BootstrapProvider): ProviderQuote => ({ provider: p, address: new Uint8Array(), ask: {} as ProviderQuote['ask'] })

/** Providers that fail their first `misses[address]` asks, then answer; counts asks and heads waited. */
function market (misses: Record<string, number>) {
  const asked: string[] = []
  let heads = 0
  return {
    asked,
    heads: () => heads,
    quotes: async (list: BootstrapProvider[]) => {
      const quotes: ProviderQuote[] = []
      const failures = []
      for (const p of list) {
        asked.push(p.address)
        if ((misses[p.address] ?? 0) > 0) { misses[p.address]!--; failures.push({ provider: p, error: Object.assign(new Error('request timed out'), { name: 'TimeoutError' }) }) } else quotes.push(quoteOf(p))
      }
      return { quotes, failures }
    },
    nextHead: async () => { heads++ }
  }
}

describe('asks in rounds', () => {
  it('asks a hand-chosen provider that missed its ask again at the next head, and only it', async () => {
    const m = market({ t01002: 2 })
    const r = await askInRounds({ providers: [provider('t01001'), provider('t01002')], quotes: m.quotes, nextHead: m.nextHead, enough: (qs) => qs.some(q => q.provider.address === 't01002') })
    expect(r.quotes.map(q => q.provider.address).sort()).toEqual(['t01001', 't01002'])
    expect(r.failures).toEqual([])
    expect(m.asked).toEqual(['t01001', 't01002', 't01002', 't01002'])
    expect(m.heads()).toBe(2)
  })

  it('does not wait when the answers already make the copies', async () => {
    const m = market({ t01002: 5 })
    const r = await askInRounds({ providers: [provider('t01001'), provider('t01002')], quotes: m.quotes, nextHead: m.nextHead, enough: (qs) => qs.length >= 1 })
    expect(r.quotes.map(q => q.provider.address)).toEqual(['t01001'])
    expect(r.failures.map(f => f.provider.address)).toEqual(['t01002'])
    expect(m.heads()).toBe(0)
  })

  it('gives up after its rounds and names the provider that never answered, with its error', async () => {
    const m = market({ t01002: 100 })
    const r = await askInRounds({ providers: [provider('t01002')], quotes: m.quotes, nextHead: m.nextHead, enough: (qs) => qs.length >= 1 })
    expect(r.quotes).toEqual([])
    expect(m.asked.length).toBe(ASK_ROUNDS)
    expect(m.heads()).toBe(ASK_ROUNDS - 1)
    expect(describeAskFailures(r.failures)).toBe('t01002 did not answer its ask (TimeoutError: request timed out)')
  })
})
