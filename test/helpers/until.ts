// Polls `fn` until it gives a value (not undefined/false), or fails after `ms`: how tests wait on a network.
// `explain` names what the wait saw when it gives up (a CI failure is often the only run that shows it).
export async function until<T> (fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000, explain?: () => unknown): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error('timed out waiting' + await seen(explain))
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * Polls `fn` like `until`, giving up only when `progress` (any value naming how far the work has got) stays the same
 * for `stallMs`: for waits whose length depends on how fast this machine verifies, not on a clock of the network.
 */
export async function untilProgress<T> (
  fn: () => T | undefined | false | Promise<T | undefined | false>, progress: () => unknown, stallMs = 30_000, explain?: () => unknown
): Promise<T> {
  let last = JSON.stringify(await progress())
  let lastMovedAt = Date.now()
  return await until(async () => {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    const now = JSON.stringify(await progress())
    if (now !== last) { last = now; lastMovedAt = Date.now() }
    if (Date.now() - lastMovedAt > stallMs) throw new Error(`no progress for ${stallMs} ms (stuck at ${now})` + await seen(explain))
    return undefined
  }, Number.POSITIVE_INFINITY)
}

/** What `explain` saw, for a wait's error message ('' without one). */
async function seen (explain: (() => unknown) | undefined): Promise<string> {
  if (explain === undefined) return ''
  try { return ': ' + JSON.stringify(await explain()) } catch (err) { return `: (explain failed: ${String(err)})` }
}
