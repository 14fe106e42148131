// Peer-score parameters against the crowd issue 9 met: many peers behind one address (an office, a carrier
// NAT, the all-loopback devnet) must stay reachable by gossip, while the colocation penalty still keeps
// such a crowd out of the mesh.
import { describe, it, expect, vi, afterEach } from 'vitest'
import { PeerScore, createPeerScoreParams, defaultPeerScoreThresholds, type PeerScoreParams } from '@libp2p/gossipsub/score'
import type { ComponentLogger } from '@libp2p/interface'
import { blocksTopic } from '../../src/core'
import { gossipScoreParams, GOSSIP_SCORE_THRESHOLDS, COLOCATION_FREE, COLOCATION_GOSSIP_CUTOFF, TRUSTED_PEER_SCORE } from '../../src/net/libp2p-node'

/** PeerScore only logs; a silent logger keeps the test off a transitive dependency. */
const silent = (): ReturnType<ComponentLogger['forComponent']> => Object.assign(() => {}, { enabled: false, error: () => {}, trace: () => {}, newScope: silent }) as unknown as ReturnType<ComponentLogger['forComponent']>
const logger: ComponentLogger = { forComponent: silent }

afterEach(() => { vi.useRealTimers() })

/** The score every one of `n` peers sharing `ip` gets, with no other history. */
function crowdScore (params: PeerScoreParams, n: number, ip: string): number {
  const score = new PeerScore(params, null, logger, { scoreCacheValidityMs: 0 })
  for (let i = 0; i < n; i++) { score.addPeer(`peer${i}`); score.addIP(`peer${i}`, ip) }
  return score.score('peer0')
}

const NAT = '203.0.113.7'

describe('gossip peer scores for a shared address', () => {
  it("gossipsub's defaults stop publishing to every peer of an address once 14 share it (the issue's cliff)", () => {
    expect(crowdScore(createPeerScoreParams(), 13, NAT)).toBeGreaterThanOrEqual(defaultPeerScoreThresholds.publishThreshold)
    expect(crowdScore(createPeerScoreParams(), 14, NAT)).toBeLessThan(defaultPeerScoreThresholds.publishThreshold)
  })

  it('ours: free up to COLOCATION_FREE, out of the mesh beyond, gossip reaches a crowd of 100', () => {
    const params = gossipScoreParams({ ipColocationWhitelist: [] })
    expect(crowdScore(params, COLOCATION_FREE, NAT)).toBe(0)
    expect(crowdScore(params, COLOCATION_FREE + 1, NAT)).toBeLessThan(0) // never grafted: no sybil mesh
    for (const n of [21, 50, 100]) expect(crowdScore(params, n, NAT)).toBeGreaterThan(GOSSIP_SCORE_THRESHOLDS.gossipThreshold)
    expect(crowdScore(params, COLOCATION_GOSSIP_CUTOFF, NAT)).toBeCloseTo(GOSSIP_SCORE_THRESHOLDS.gossipThreshold)
    expect(crowdScore(params, 150, NAT)).toBeGreaterThan(GOSSIP_SCORE_THRESHOLDS.publishThreshold)
    expect(crowdScore(params, 1000, NAT)).toBeLessThan(GOSSIP_SCORE_THRESHOLDS.graylistThreshold)
  })

  it('loopback is whitelisted by default (the devnet), other addresses only when configured', () => {
    expect(crowdScore(gossipScoreParams(), 500, '127.0.0.1')).toBe(0)
    expect(crowdScore(gossipScoreParams({ ipColocationWhitelist: [NAT] }), 500, NAT)).toBe(0)
    expect(crowdScore(gossipScoreParams(), 500, NAT)).toBeLessThan(0)
  })

  it('a trusted bootstrap peer carries a large application score, as Lotus gives its bootstrappers', () => {
    const score = new PeerScore(gossipScoreParams({ trustedPeers: ['boot'] }), null, logger, { scoreCacheValidityMs: 0 })
    score.addPeer('boot')
    score.addPeer('other')
    expect(score.score('boot')).toBe(TRUSTED_PEER_SCORE)
    expect(score.score('other')).toBe(0)
  })

  it("time in the block topic's mesh (P1) grows for an hour, as Lotus's comment says, not for one second", () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t0 = Date.parse('2026-12-01T00:00:00Z')
    vi.setSystemTime(t0)
    const topic = blocksTopic('n')
    const score = new PeerScore(gossipScoreParams({ network: 'n' }), null, logger, { scoreCacheValidityMs: 0 })
    score.addPeer('p')
    score.graft('p', topic)
    const after = (ms: number): number => { vi.setSystemTime(t0 + ms); score.refreshScores(); return score.score('p') }
    const p1AtOneMinute = after(60_000)
    const p1AtHalfHour = after(1_800_000)
    const p1AtHour = after(3_600_000)
    // topic weight 0.1 x ~1 after an hour; the cap of 1 quantum stopped it at 0.1 x 0.00027 after 1 s
    expect(p1AtOneMinute).toBeCloseTo(0.1 * 60 * 0.00027, 6)
    expect(p1AtHalfHour).toBeCloseTo(p1AtHour / 2, 6)
    expect(p1AtHour).toBeCloseTo(0.1 * 3600 * 0.00027, 6)
    expect(after(7_200_000)).toBeCloseTo(p1AtHour, 6) // capped at the hour
  })
})
