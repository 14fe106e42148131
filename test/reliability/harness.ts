// What every reliability scenario needs: waiting on a condition with a deadline, and counting what escapes as
// uncaught (a crash, in the table's terms) while the scenario runs.

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Polls `cond` until it holds or `ms` pass; says whether it held. */
export async function waitFor (cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return true
    await sleep(50)
  }
  return await cond()
}

export interface CrashWatch {
  /** Uncaught exceptions and unhandled rejections since the watch began. */
  count: () => number
  stop: () => void
}

/** Counts what escapes uncaught, each with a line in `failures`, until stopped. */
export function watchCrashes (failures: string[]): CrashWatch {
  let n = 0
  const onCrash = (err: unknown): void => { n++; failures.push(`uncaught: ${String((err as Error)?.stack ?? err).slice(0, 300)}`) }
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)
  return {
    count: () => n,
    stop: () => { process.off('uncaughtException', onCrash); process.off('unhandledRejection', onCrash) }
  }
}
