// The status a worker shows from storage while the rest of the node loads (issue 14: a reload shows its verified head
// before libp2p or any node): none without a kept bootstrap document; with one, the stored head, its recent tipsets,
// the floor a jump left and the stored finality, read from real IndexedDB code (fake-indexeddb), marked 'syncing'.
import { describe, it, expect } from 'vitest'
import {
  createGenesis, sealHeader, makeTipSet, blsPublicKey, idAddressBytes, powerTableCid, f3TipSetOf, type SealedHeader
} from '../../src/core'
import { makeBootstrap } from '../../src/net'
import { saveBootstrap } from '../../src/light/bootstrap-cache'
import { openHeaderStore } from '../../src/light/header-store'
import { openF3CertStore } from '../../src/light/f3-cert-store'
import { readSavedChainStatus, startupClock } from '../../src/light/starting-status'
import { TEST_BEACON } from '../helpers/test-beacon'

const genesis = createGenesis({
  beacon: TEST_BEACON, network: 'starting-status-test', producer: idAddressBytes(99), producerKey: blsPublicKey(new Uint8Array(32).fill(3)),
  blockDelaySecs: 30, consensus: 'expected', f3: { instanceEpochs: 1, finalityDepth: 2 }
}, 1_800_000_000)

/** A header at `height` on `parent` (the store checks links, not consensus: that was done before anything is stored). */
const child = (parent: SealedHeader, height: number): SealedHeader =>
  sealHeader({ ...parent.header, height, parents: [parent.cid], timestamp: genesis.header.header.timestamp + height * 30 })

describe('readSavedChainStatus', () => {
  it('shows nothing without a kept bootstrap document, and the stored chain and finality with one', async () => {
    const clock = startupClock(() => 42, 1_000)
    expect(await readSavedChainStatus('peer', clock, 7)).toBe(null)

    await saveBootstrap(makeBootstrap(genesis, []))
    // what an earlier session left: a jump to a finalized tipset at 7, with the run from 5 below it, and the state
    // after instance 2's certificate
    const run = [child(genesis.header, 5)]
    for (let h = 6; h <= 7; h++) run.push(child(run[run.length - 1]!, h))
    const headers = await openHeaderStore(genesis.header.cid.toString())
    await headers.jump(run.map(h => makeTipSet([h])))
    headers.close()
    const certs = await openF3CertStore(genesis.header.cid.toString())
    const table = [{ id: 1000, power: 1n << 40n, pubKey: blsPublicKey(new Uint8Array(32).fill(21)) }]
    await certs.accept([], { network: genesis.state.network, nextInstance: 3, powerTable: table, finalized: f3TipSetOf({ key: [run[2]!.cid], height: 7 }, powerTableCid(table)) })
    certs.close()

    const status = (await readSavedChainStatus('peer', clock, 7))!
    expect(status).toMatchObject({
      peerId: 'peer', network: 'starting-status-test', bootstrapSource: 'stored', syncState: 'syncing', stallWindowMs: 150_000,
      verifiedHeight: 7, headCid: run[2]!.cid.toString(), lastNewHeadAtMs: 7, peers: []
    })
    expect(status.recent.map(h => h.height)).toEqual([7, 6, 5])
    expect(status.finality).toMatchObject({ instance: 2, finalizedEpoch: 7, finalizedCid: run[2]!.cid.toString(), headBeyond: 0, lowestHeight: 5 })
    expect(status.stats.startup).toEqual([{ phase: 'stored status', atMs: 42 }])
    expect(status.stats.startupOriginMs).toBe(1_000)
  })

  it('a mark may name when its step ended (a worker script that ran before the clock was made), and the first of a phase counts', () => {
    const clock = startupClock(() => 42, 1_000)
    clock.mark('worker script ran', 7.4)
    clock.mark('asked to start')
    clock.mark('asked to start', 99)
    expect(clock.marks).toEqual([{ phase: 'worker script ran', atMs: 7 }, { phase: 'asked to start', atMs: 42 }])
  })
})
