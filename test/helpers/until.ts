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

/**
 * Polls `fn` like `until` on a network that never stops (a live chain: its height always moves, so `untilProgress`
 * would never give up): gives up once `at` (a height, a count) has moved `advance` past where it stood at the start
 * without `fn` holding, or has not moved for `stallMs`, naming what it saw. The bound is counted in the network's own
 * steps, not in this machine's speed (a test's timeout stays the outer bound).
 */
export async function untilAdvance<T> (
  fn: () => T | undefined | false | Promise<T | undefined | false>, at: () => number | Promise<number>, advance: number, stallMs = 60_000, explain?: () => unknown
): Promise<T> {
  const start = await at()
  let last = start
  let lastMovedAt = Date.now()
  let done = false
  // the bound is watched beside each call of `fn`, not only between calls: a call that never returns is named too
  const bound = (async (): Promise<never> => {
    while (!done) {
      const now = await at()
      if (now !== last) { last = now; lastMovedAt = Date.now() }
      if (now - start > advance) throw new Error(`not within ${advance} steps (from ${start} to ${now})` + await seen(explain))
      if (Date.now() - lastMovedAt > stallMs) throw new Error(`no step for ${stallMs} ms (stuck at ${now})` + await seen(explain))
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return await new Promise<never>(() => {}) // ended with the wait: settles never
  })()
  bound.catch(() => {})
  try {
    return await until(async () => await Promise.race([fn(), bound]), Number.POSITIVE_INFINITY)
  } finally { done = true }
}
