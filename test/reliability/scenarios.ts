// The reliability scenarios: each a name, its short form (what `npm test` runs) and its long form (what
// `npm run reliability` runs), and the deadline past which it counts as hung.
import type { Row } from './table'

export interface Scenario {
  name: string
  run: (mode: 'short' | 'long') => Promise<Row[]>
  shortDeadlineMs: number
  longDeadlineMs: number
  /** Runs with no other scenario beside it, even under RELIABILITY_JOBS (its figures are rates and latencies). */
  alone?: boolean
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'fuzz-decoders',
    // long: 69 decoders × 15,000 = 1,035,000 cases
    run: async (mode) => {
      const { fuzzDecoders } = await import('./fuzz-decoders')
      return [fuzzDecoders({ casesPerTarget: mode === 'short' ? 300 : 15_000 })]
    },
    shortDeadlineMs: 5 * 60_000,
    longDeadlineMs: 90 * 60_000
  },
  {
    name: 'fuzz-rpc',
    // long: 30 methods × 4,000 calls = 120,000 (with the decoders, over the million)
    run: async (mode) => {
      const { fuzzRpc } = await import('./fuzz-rpc')
      return [await fuzzRpc({ casesPerMethod: mode === 'short' ? 100 : 4000 })]
    },
    shortDeadlineMs: 5 * 60_000,
    longDeadlineMs: 90 * 60_000
  },
  {
    name: 'liars-chain',
    // 11 lies; long: 10 rounds of each
    run: async (mode) => {
      const { chainLiars } = await import('./liars-chain')
      return [await chainLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 120 * 60_000
  },
  {
    name: 'liars-state',
    // 8 lies; long: 10 rounds of each
    run: async (mode) => {
      const { stateLiars } = await import('./liars-state')
      return [await stateLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 120 * 60_000
  },
  {
    name: 'liars-retrieval',
    // 7 lies; long: 20 rounds of each
    run: async (mode) => {
      const { retrievalLiars } = await import('./liars-retrieval')
      return [await retrievalLiars({ repeats: mode === 'short' ? 1 : 20 })]
    },
    shortDeadlineMs: 5 * 60_000,
    longDeadlineMs: 60 * 60_000
  },
  {
    name: 'liars-messages',
    // 11 lies on message gossip; long: 10 rounds of each (a provable liar is given up to 75 s to be graylisted)
    run: async (mode) => {
      const { messageLiars } = await import('./liars-messages')
      return [await messageLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 15 * 60_000,
    longDeadlineMs: 150 * 60_000
  },
  {
    name: 'liars-gateway',
    // 14 lies on a provider's HTTP gateway; long: 10 rounds of each (the three a timeout ends take ~30–45 s each)
    run: async (mode) => {
      const { gatewayLiars } = await import('./liars-gateway')
      return [await gatewayLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 15 * 60_000,
    longDeadlineMs: 150 * 60_000
  },
  {
    name: 'liars-certs',
    // 14 lies; long: 10 rounds of each (the three that can only be waited out take ~40–60 s each)
    run: async (mode) => {
      const { certLiars } = await import('./liars-certs')
      return [await certLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 15 * 60_000,
    longDeadlineMs: 150 * 60_000
  },
  {
    name: 'liars-market',
    // 6 ask lies and 6 deal lies, each followed by a deal with the honest provider; long: 10 rounds
    run: async (mode) => {
      const { marketLiars } = await import('./liars-market')
      return [await marketLiars({ repeats: mode === 'short' ? 1 : 10 })]
    },
    shortDeadlineMs: 15 * 60_000,
    longDeadlineMs: 150 * 60_000
  },
  {
    name: 'crash-node',
    // the 100 repetitions in the long form (about 5 s each)
    run: async (mode) => {
      const { crashNode } = await import('./crash-node')
      return [await crashNode({ kills: mode === 'short' ? 3 : 100 })]
    },
    shortDeadlineMs: 5 * 60_000,
    longDeadlineMs: 60 * 60_000
  },
  {
    name: 'crash-provider',
    // the 100 repetitions in the long form (about 10–15 s each on a quiet machine, ~50 s beside two other
    // scenarios: a restart, audits, uploads until the kill)
    run: async (mode) => {
      const { crashProvider } = await import('./crash-provider')
      return [await crashProvider({ kills: mode === 'short' ? 3 : 100 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 150 * 60_000
  },
  {
    name: 'crash-retrieval',
    // the 100 repetitions in the long form (about 25 s each: a download cut by the kill, a restart, a rerun)
    run: async (mode) => {
      const { crashRetrieval } = await import('./crash-retrieval')
      return [await crashRetrieval({ kills: mode === 'short' ? 3 : 100 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 120 * 60_000
  },
  {
    name: 'crash-tab',
    // the 100 repetitions in the long form (about 4 s each); needs the built app (npm run build)
    run: async (mode) => {
      const { crashTab } = await import('./crash-tab')
      return [await crashTab({ closes: mode === 'short' ? 5 : 100 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 60 * 60_000
  },
  {
    name: 'disk-full',
    // long: 20 fills (its disk, a tmpfs, grows with them: about 1 GiB of memory)
    run: async (mode) => {
      const { diskFull } = await import('./disk-full')
      return [await diskFull({ fills: mode === 'short' ? 2 : 20 })]
    },
    shortDeadlineMs: 10 * 60_000,
    longDeadlineMs: 60 * 60_000
  },
  {
    name: 'liars-audit',
    // 8 lies, each beside an honest provider that must pass; long: 25 rounds of each
    run: async (mode) => {
      const { auditLiars } = await import('./liars-audit')
      return [await auditLiars({ repeats: mode === 'short' ? 1 : 25 })]
    },
    shortDeadlineMs: 5 * 60_000,
    longDeadlineMs: 60 * 60_000
  },
  {
    name: 'load',
    // long: the 20 providers (19 genesis ones in the devnet's process, one joined as its own process) and 10
    // client processes for 10 minutes; short: 4 providers and 2 clients for 90 s. One provider has deals corrupted,
    // the joined one is killed, on a schedule. Needs no built app.
    run: async (mode) => {
      const { loadRun } = await import('./load')
      return [await loadRun(mode === 'short'
        ? { providers: 3, clients: 2, runMs: 90_000, provingPeriod: 10, corruptEveryMs: 20_000, crashEveryMs: 40_000 }
        : { providers: 19, clients: 10, runMs: 600_000, provingPeriod: 20, corruptEveryMs: 60_000, crashEveryMs: 120_000 })]
    },
    shortDeadlineMs: 15 * 60_000,
    longDeadlineMs: 75 * 60_000,
    alone: true
  }
]
