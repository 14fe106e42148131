// The devnet's beacon on the network: each round, once due, signed (DevnetBeacon) and published on the beacon topic,
// as a drand node hands its rounds to its gossip relay. Timed by the beacon's own schedule, whatever the time a
// signature takes: a late tick publishes the round due then, and a round missed in between is simply skipped
// (producers ask only for the newest rounds; headers carry every round the chain uses).
import { currentBeaconRound, beaconRoundTime, type BeaconConfig } from '../core'
import type { BeaconRelay } from '../net'
import type { DevnetBeacon } from './devnet-beacon'

export interface BeaconPublisher { stop: () => void }

export function startBeaconPublisher (opts: { beacon: DevnetBeacon, relay: BeaconRelay, clock: BeaconConfig, nowMs: () => number, log: (line: string) => void }): BeaconPublisher {
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  let published = 0
  const tick = async (): Promise<void> => {
    const round = currentBeaconRound(opts.clock, Math.floor(opts.nowMs() / 1000))
    if (round > published && round >= 1) {
      published = round
      await opts.relay.publish(await opts.beacon.entry(round)).catch((err: Error) => { opts.log(`beacon: round ${round}: ${err.message}`) })
    }
  }
  const schedule = (): void => {
    if (stopped) return
    const next = currentBeaconRound(opts.clock, Math.floor(opts.nowMs() / 1000)) + 1
    timer = setTimeout(() => { void tick().catch((err: Error) => opts.log(`beacon: ${err.message}`)).finally(schedule) }, Math.max(0, beaconRoundTime(opts.clock, next) * 1000 - opts.nowMs()))
    timer.unref?.()
  }
  void tick().finally(schedule)
  return { stop: () => { stopped = true; clearTimeout(timer) } }
}
