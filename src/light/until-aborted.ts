/**
 * `p`, or the signal's reason as soon as it aborts while `interruptible()` holds. A payer may wait on the chain (a
 * channel created or topped up before a lane or a voucher), and that wait knows no signal: a pause or a caller's
 * deadline must not wait for a block. The work behind `p` goes on and is recorded, so a rerun picks it up and pays
 * nothing twice. While `interruptible()` is false (a voucher being signed and recorded) an abort waits for `p`: the
 * caller then learns of every voucher that exists, and a pause never leaves one recorded that it did not count.
 */
export async function untilAborted<T> (p: Promise<T>, signal?: AbortSignal, interruptible: () => boolean = () => true): Promise<T> {
  if (signal === undefined) return await p
  // its outcome after an abort is the payer's own record, not an unhandled rejection here
  p.catch(() => {})
  signal.throwIfAborted()
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { if (interruptible()) reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  aborted.catch(() => {})
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
