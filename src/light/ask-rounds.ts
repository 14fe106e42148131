// The asks a proposal is planned from, asked in rounds: a provider that failed to answer (busy for a moment on
// a slow machine, just started, a dropped connection) is asked again at the next verified heads while the ones
// that did answer cannot make up the copies, rather than the upload failing on one missed reply. Rounds are
// counted in verified heads, never in wall-clock time, so a slow machine gets the same number of chances.
import type { BootstrapProvider } from '../net'
import type { ProviderQuote, QuoteFailure } from './storage-client'

/** Rounds of asks in all (the first included) before a proposal goes on with the providers that answered. */
export const ASK_ROUNDS = 4

export interface AskRoundsInit {
  providers: BootstrapProvider[]
  quotes: (providers: BootstrapProvider[]) => Promise<{ quotes: ProviderQuote[], failures: QuoteFailure[] }>
  /** Whether the answers so far can make the upload's copies (its hand-chosen providers among them, if any). */
  enough: (quotes: ProviderQuote[]) => boolean
  /** Resolves at the next verified head. */
  nextHead: () => Promise<void>
  rounds?: number
}

export async function askInRounds (init: AskRoundsInit): Promise<{ quotes: ProviderQuote[], failures: QuoteFailure[] }> {
  let { quotes, failures } = await init.quotes(init.providers)
  for (let round = 1; round < (init.rounds ?? ASK_ROUNDS) && failures.length > 0 && !init.enough(quotes); round++) {
    await init.nextHead()
    const again = await init.quotes(failures.map(f => f.provider))
    quotes = [...quotes, ...again.quotes]
    failures = again.failures
  }
  return { quotes, failures }
}

/** Why a provider that did not answer is missing from the plan: appended to a NoProvidersError's message. */
export function describeAskFailures (failures: QuoteFailure[]): string {
  return failures.map(f => `${f.provider.address} did not answer its ask (${f.error.name}: ${f.error.message})`).join('; ')
}
