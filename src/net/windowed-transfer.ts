// The send window both bulk transfers share: a sender keeps at most `limit()` bytes beyond what the receiver
// has acknowledged, and waits for the next acknowledgement when it has that many out. In a deal the client
// sends and the provider acknowledges the bytes it has written to disk; in a retrieval the provider sends and
// the client's cumulative voucher is the acknowledgement (the bytes it pays for), so neither side ever has
// more than one window at risk. Acknowledgements arrive from a reader running beside the writes (on a slow
// link a write may wait on back-pressure for long stretches; an acknowledgement must not queue behind it).

/** An acknowledgement the sender cannot accept: below an earlier one, or beyond what was sent. */
export class WindowAckError extends RangeError {
  static override name = 'WindowAckError'
  override name = 'WindowAckError'
  constructor (readonly acked: number, readonly sent: number, readonly previous: number) {
    super(`an acknowledgement of ${acked} bytes, with ${sent} sent and ${previous} acknowledged before`)
  }
}

export class SendWindow {
  /** Bytes handed to the transport. */
  sent: number
  /** Bytes the receiver has acknowledged. */
  acked: number
  private wake: (() => void) | undefined
  private failure: { err: unknown } | undefined

  /**
   * `start`: where this stream starts (a resumed transfer starts acknowledged up to there); `limit`: the bytes
   * the sender may have beyond the last acknowledgement, asked before each frame (it may grow as the link is
   * measured, or as payments come in).
   */
  constructor (start: number, private readonly limit: (w: SendWindow) => number) {
    this.sent = start
    this.acked = start
  }

  /** Bytes out beyond the last acknowledgement. */
  get unacked (): number { return this.sent - this.acked }

  /** Resolves once there is room for another frame; throws the failure once the transfer has failed. */
  async room (): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure.err
      if (this.sent - this.acked < this.limit(this)) return
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }

  /** Counts `bytes` as sent. */
  wrote (bytes: number): void { this.sent += bytes }

  /** A cumulative acknowledgement: never below an earlier one, never beyond what was sent. */
  ack (total: number): void {
    if (total < this.acked || total > this.sent) throw new WindowAckError(total, this.sent, this.acked)
    this.acked = total
    this.poke()
  }

  /** Ends every wait with `err` (the reader failed, or the receiver refused). The first failure wins. */
  fail (err: unknown): void {
    this.failure ??= { err }
    this.poke()
  }

  get failed (): unknown { return this.failure?.err }

  /** Wakes a sender waiting for room (the limit may have changed). */
  poke (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}
