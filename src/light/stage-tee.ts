// An upload's CAR, as the packer writes it, goes to the staging file and at the same time to each provider the
// upload will likely be sent to (STAGE_PROTOCOL), so the bytes cross the network while the tab is still packing
// and hashing them. Each provider has a bounded queue: the packer waits while a live sender is a queue behind
// (the whole upload then runs at the slower of packing and sending, which is the most it could), and a sender
// that fails is dropped, never waited on: staging is an optimisation, and the deal stream sends whatever a
// provider does not hold. The CAR's header is rewritten at the end (the root is known last): its final bytes
// are kept as `head`, which the proposal carries for the provider to write over the placeholder it staged.
import type { CarSink } from './unixfs-car'

export interface StageTarget {
  /**
   * Streams `chunks` to the provider under this target's transfer; the bytes the provider holds at the end.
   * `signal` aborts when the stage is stopped: the stream is reset rather than waited on (the provider keeps
   * what arrived, and the deal stream resumes from it).
   */
  stage: (chunks: AsyncIterable<Uint8Array>, signal: AbortSignal) => Promise<number>
}

export interface StageOutcome { held: number, error?: Error }

export interface StageTee<W extends CarSink> {
  /** Writes go to `inner` and every live stage. */
  sink: W
  /** The CAR's first bytes as finally written (the header with its root), once packing has rewritten them. */
  head: () => Uint8Array | undefined
  /**
   * Ends every stage (after the last write) and says what each provider holds. A stage with more than
   * `keepUpTo` bytes still queued stops instead of sending them (the deal stream sends the rest, measuring the
   * link as it goes); one close behind finishes.
   */
  end: (keepUpTo?: number) => Promise<StageOutcome[]>
  /** Stops every stage now (packing failed). */
  abort: (err: Error) => void
}

/**
 * A queue this long behind the packer makes it wait: about two seconds of a fast link, bounded memory per copy.
 * Where an upload's time goes, measured (issue 17; upload-browser bench, 256 MiB, the tab's shared node and its
 * provider on the same two cores, each wait summed by instrumenting a run): packing took 16–18 s, in which the
 * packer waited 9–11 s on the file's reads and 10–12 s on the tab's writes (several at once), 2.5–4.5 s on this
 * queue; the stage sender waited 11–19 s on the stream taking its frames and never on the packer; the provider
 * waited 7.6–10.7 s for frames and 6–8 s on its disk writes (a 1 MiB write returned in ~28 ms there, in 1 ms on an
 * idle machine). Every part waits on another while the cores are 1.7 of 2 busy: the upload's rate is its CPU per
 * MiB (Chromium ~80–100 ms, the devnet ~40–50 ms), not this queue's length or a window.
 */
export const STAGE_QUEUE_BYTES = 16 * 2 ** 20

class Channel {
  private readonly chunks: Uint8Array[] = []
  queued = 0
  private ended = false
  dead = false
  private wakeReader: (() => void) | undefined
  private wakeWriter: (() => void) | undefined

  constructor (private readonly limit: number) {}

  async push (bytes: Uint8Array): Promise<void> {
    if (this.dead) return
    this.chunks.push(bytes)
    this.queued += bytes.length
    this.poke('reader')
    while (!this.dead && this.queued > this.limit) await new Promise<void>(resolve => { this.wakeWriter = resolve })
  }

  end (): void { this.ended = true; this.poke('reader') }

  /** Called once when the channel is killed while its reader may still be sending. */
  onKill: (() => void) | undefined

  kill (): void {
    if (!this.dead && !this.ended) this.onKill?.()
    this.dead = true
    this.chunks.length = 0
    this.queued = 0
    this.poke('reader')
    this.poke('writer')
  }

  private poke (who: 'reader' | 'writer'): void {
    const w = who === 'reader' ? this.wakeReader : this.wakeWriter
    if (who === 'reader') this.wakeReader = undefined
    else this.wakeWriter = undefined
    w?.()
  }

  async * read (): AsyncIterable<Uint8Array> {
    for (;;) {
      const next = this.chunks.shift()
      if (next !== undefined) {
        this.queued -= next.length
        this.poke('writer')
        yield next
        continue
      }
      if (this.ended || this.dead) return
      await new Promise<void>(resolve => { this.wakeReader = resolve })
    }
  }
}

export function stageTee<W extends CarSink> (inner: W, targets: StageTarget[], queueBytes = STAGE_QUEUE_BYTES): StageTee<W> {
  let head: Uint8Array | undefined
  const runs = targets.map((t) => {
    const channel = new Channel(queueBytes)
    const stop = new AbortController()
    channel.onKill = () => { stop.abort(new Error('the stage was stopped')) }
    const done: Promise<StageOutcome> = t.stage(channel.read(), stop.signal).then(
      held => ({ held }),
      (err: Error) => ({ held: 0, error: err })
    ).finally(() => { channel.kill() })
    return { channel, done }
  })
  const sink: W = {
    ...inner,
    write: async (bytes: Uint8Array) => {
      // a copy for the senders, taken first: `inner` may move the bytes to another worker (a shared node's tab)
      const copy = runs.some(r => !r.channel.dead) ? bytes.slice() : undefined
      await inner.write(bytes)
      if (copy !== undefined) await Promise.all(runs.map(async r => { await r.channel.push(copy) }))
    },
    writeAt: async (offset: number, bytes: Uint8Array) => {
      if (offset === 0) head = bytes.slice()
      await inner.writeAt(offset, bytes)
    }
  }
  return {
    sink,
    head: () => head,
    end: async (keepUpTo = Infinity) => {
      for (const r of runs) {
        if (r.channel.queued > keepUpTo) r.channel.kill()
        else r.channel.end()
      }
      return await Promise.all(runs.map(async r => await r.done))
    },
    abort: (err) => { void err; for (const r of runs) r.channel.kill() }
  }
}
