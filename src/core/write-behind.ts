// Writes handed on in order, one at a time, without their producer waiting for each to land: a producer that
// awaited every write (the CAR writer's pump, whose wait holds up the importer's reading and hashing) idles for
// a round trip per write. Measured in the upload-browser bench (256 MiB, shared node): each 1 MiB write to the
// tab's worker took 19 ms to return, 4.8 s of the 12.8 s the bytes took to send, and the provider's stage stream
// sat waiting for bytes from the packer for 4.9 s of them.

export interface WriteBehind<T> {
  /**
   * Queues `item`; resolves once fewer than `depth` writes are outstanding (so a producer that goes on has at most
   * `depth` − 1 out, and waits with `depth`). Rejects with the first failure.
   */
  push: (item: T) => Promise<void>
  /** Resolves once every queued write has landed; rejects with the first failure. */
  drain: () => Promise<void>
}

/**
 * `write` is called for each pushed item in push order, never two at once. A failed write fails every later
 * push and the drain with its error, and the items queued behind it are not written.
 */
export function writeBehind<T> (write: (item: T) => Promise<void>, depth: number): WriteBehind<T> {
  if (!(depth >= 1)) throw new RangeError('a write-behind queue holds at least one write')
  let tail: Promise<void> = Promise.resolve()
  let outstanding = 0
  let failure: { err: unknown } | undefined
  const waiting: Array<() => void> = []
  const fail = (): never => { throw failure!.err }
  return {
    push: async (item) => {
      if (failure !== undefined) fail()
      outstanding++
      tail = tail.then(async () => {
        if (failure === undefined) await write(item)
      }).catch((err: unknown) => { failure ??= { err } }).finally(() => {
        outstanding--
        waiting.splice(0).forEach(wake => { wake() })
      })
      while (outstanding >= depth && failure === undefined) await new Promise<void>(resolve => { waiting.push(resolve) })
      if (failure !== undefined) fail()
    },
    drain: async () => {
      await tail
      if (failure !== undefined) fail()
    }
  }
}
