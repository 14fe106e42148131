// Runs a worker call from a button or form, keeping its error text (name and message) for the card that made
// it and a busy flag while it runs; a cancelled call (AbortError) is not an error to show.
import { useState } from 'react'

export function useAction (): [string | null, boolean, (fn: () => Promise<unknown>) => Promise<void>] {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const run = async (fn: () => Promise<unknown>): Promise<void> => {
    setBusy(true)
    setError(null)
    try { await fn() } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(`${(err as Error).name}: ${(err as Error).message}`)
    } finally { setBusy(false) }
  }
  return [error, busy, run]
}
