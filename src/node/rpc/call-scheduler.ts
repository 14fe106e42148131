// Fair starting of JSON-RPC calls: one lane per client (a WebSocket, or one HTTP request), started one call per
// event-loop turn across lanes, so one client's thousands of queued calls never starve another or the node.
import { MAX_CALLS_RUNNING_PER_CLIENT } from './rpc-limits'

/** The client went away before its call started: nobody will read the answer. */
export class CallDroppedError extends Error {
  static override name = 'CallDroppedError'
  override name = 'CallDroppedError'
}

/**
 * One client's calls (a WebSocket, or one HTTP request): a FIFO of calls not yet started, a count of those
 * running, and `blocked` while its replies are backed up. The CallScheduler starts them.
 */
export class Lane {
  private readonly waiting: Array<{ start: () => void, drop: (err: Error) => void }> = []
  running = 0
  blocked = false
  closed = false
  /** Called whenever `queued` changes (the WebSocket pauses and resumes reading on it). */
  onChange: () => void = () => {}

  constructor (private readonly scheduler: CallScheduler) {}

  get queued (): number { return this.waiting.length }
  ready (): boolean { return !this.blocked && !this.closed && this.waiting.length > 0 && this.running < MAX_CALLS_RUNNING_PER_CLIENT }

  /**
   * Queues `fn` to start in its turn. A `parked` call (StateWaitMsg) also starts in turn (its first search is
   * work) but then holds no running slot: it is bounded per address by the AddressBook, not per lane.
   */
  run<T> (fn: () => Promise<T>, parked = false): Promise<T> {
    if (this.closed) return Promise.reject(new CallDroppedError('the client is gone'))
    const slot = parked ? 0 : 1
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        start: () => {
          this.running += slot
          fn().then(resolve, reject).finally(() => {
            this.running -= slot
            this.scheduler.wake()
          })
        },
        drop: reject
      })
      this.scheduler.wake()
    })
  }

  /** Starts the oldest waiting call (the scheduler checked `ready()`). */
  startNext (): void {
    this.waiting.shift()!.start()
    this.onChange()
  }

  unblock (): void {
    this.blocked = false
    this.scheduler.wake()
  }

  /** The client is gone: calls not started are dropped (their replies would go nowhere). */
  close (): void {
    this.closed = true
    for (const w of this.waiting.splice(0)) w.drop(new CallDroppedError('the client is gone'))
    this.scheduler.remove(this)
  }
}

/**
 * Starts calls one per event-loop turn (setImmediate), taking lanes in turn. A handler's synchronous work and
 * its microtasks (a state proof is all of that: the store is in memory) finish inside its turn, so between any
 * two calls timers (the block producer) and I/O (libp2p, other sockets) get their turn; and a client with
 * thousands queued waits behind one call of each other client, not behind all of them.
 */
export class CallScheduler {
  private readonly lanes: Lane[] = []
  private next = 0
  private scheduled = false

  lane (): Lane {
    const lane = new Lane(this)
    this.lanes.push(lane)
    return lane
  }

  remove (lane: Lane): void {
    const i = this.lanes.indexOf(lane)
    if (i < 0) return
    this.lanes.splice(i, 1)
    if (this.next > i) this.next--
  }

  wake (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.turn() })
  }

  private turn (): void {
    this.scheduled = false
    const n = this.lanes.length
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n
      const lane = this.lanes[i]!
      if (!lane.ready()) continue
      this.next = (i + 1) % n
      lane.startNext()
      break
    }
    if (this.lanes.some(l => l.ready())) this.wake()
  }
}
