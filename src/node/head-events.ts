// "Wake me when the head moves": what StateWaitMsg and confidence waits need from a chain, without polling.
export class HeadEvents {
  private readonly waiters = new Set<() => void>()

  /** Resolves at the next new head; rejects with the signal's reason if it aborts first. */
  async next (signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => { this.waiters.delete(wake); signal.removeEventListener('abort', abort); resolve() }
      const abort = (): void => { this.waiters.delete(wake); reject(signal.reason) }
      this.waiters.add(wake)
      signal.addEventListener('abort', abort, { once: true })
    })
  }

  /** A new head: wakes everyone waiting. */
  moved (): void {
    for (const wake of [...this.waiters]) wake()
  }
}
