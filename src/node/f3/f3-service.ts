// F3 on a Coffer node (issue 14): every full node and provider keeps the chain of finality certificates,
// serves it over go-f3's certificate exchange, checks and relays votes and certificates on gossip, and
// assembles a certificate once one value's votes hold a strong quorum; a node given its miners' worker keys
// also votes for them (the agreement rule and why it is safe: core/finality/f3-devnet-rules.ts).
import { bytesToHex } from '@noble/hashes/utils.js'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  readF3PowerTable, powerTableCid, f3TipSetOf, f3TargetEpoch, validateFinalityCertificate, decodeCertificate, encodeCertificate,
  decodeF3Vote, encodeF3Vote, F3VoteTally, F3EquivocationError, CertificateError, certificateSigningPayload, f3TipSetsEqual,
  tipSetKeyBytes, tipSetKeyCids, idOf, NobleBdnVerifier, bytesEqual, applyPowerTableDelta,
  type F3Bls, type F3Params, type FinalityState, type FinalityCertificate, type F3TipSet, type F3Vote, type PowerEntry, type Genesis, type SupplementalData, type EcChain, type TipSet
} from '../../core'
import { mclBdnVerifier } from '../../core/finality/mcl-bls'
import { serveCertExchange, requestCertificates, f3VotesTopic, f3CertificatesTopic, type CofferLibp2p, type Gossip, type GossipVerdict } from '../../net'
import type { ChainDb } from '../chain-db'
import type { NodeChain } from '../chain'
import { F3Store } from './f3-store'


export interface F3ServiceInit {
  libp2p: CofferLibp2p
  gossip: Gossip
  chain: NodeChain
  db: ChainDb
  genesis: Genesis
  params: F3Params
  log: (line: string) => void
  /** The BLS library (tests choose noble's); mcl-wasm when left out, noble's if that will not load. */
  bls?: F3Bls
}

export interface F3Service {
  /** Where the certificate chain stands: the next instance, the finalized tipset, the table in force. */
  state: () => FinalityState
  latest: () => FinalityCertificate | undefined
  certificate: (instance: number) => Promise<FinalityCertificate | undefined>
  /** The vote a local participant recorded for `instance` (what it signed, and will only ever send, there). */
  recordedVote: (participant: number, instance: number) => Promise<F3Vote | undefined>
  /** The power table that validates `instance`'s certificate (null: none yet). */
  powerTableFor: (instance: number) => Promise<readonly PowerEntry[] | null>
  /** Votes for `miner` (its ID address bytes) with its worker key from now on. */
  addParticipant: (p: { miner: Uint8Array, workerSecretKey: Uint8Array }) => void
  /** Asks peers for certificates this node lacks (also done on its own when gossip shows it is behind). */
  catchUp: (peer?: PeerId) => Promise<void>
  stop: () => Promise<void>
}

/** How often a participant sends its vote again while its instance has no certificate (gossip forgets a message after ~2 min). */
const REVOTE_MS = 20_000
/** How often a node with no gossip news asks its peers whether it missed certificates. */
const POLL_MS = 15_000

export async function startF3Service (init: F3ServiceInit): Promise<F3Service> {
  const { libp2p, gossip, chain, db, genesis, params, log } = init
  const network = genesis.state.network
  const store = new F3Store(db)
  // every node checks each vote and certificate, and a provider signs one vote an instance: mcl-wasm is ~5× noble in
  // Node (mcl-bls.ts), and on a devnet whose processes share a machine's cores that is most of what F3 costs
  const verifier: F3Bls = init.bls ?? await mclBdnVerifier().catch((err: Error) => {
    log(`f3: mcl-wasm would not load (${err.message}); checking with noble`)
    return new NobleBdnVerifier()
  })

  const initialTable = chain.readState((s, r) => readF3PowerTable(s, r, 0), genesis.header)
  const genesisF3 = f3TipSetOf({ key: [genesis.header.cid], height: 0 }, powerTableCid(initialTable))
  let state: FinalityState = await store.loadState() ?? { network, nextInstance: 0, powerTable: initialTable, finalized: genesisF3 }
  let latest = state.nextInstance === 0 ? undefined : await store.certificate(state.nextInstance - 1)
  let tally = newTally()
  const participants: Array<{ id: number, secret: Uint8Array, lastSent: number }> = []
  let serial: Promise<unknown> = Promise.resolve()
  const inOrder = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = serial.then(fn)
    serial = run.catch(() => {})
    return await run
  }
  const stop = new AbortController()

  /** The power table a value names, read from our own state at its head tipset; null when we lack that tipset. */
  const tables = new Map<string, readonly PowerEntry[]>()
  function tableAt (ts: TipSet): readonly PowerEntry[] {
    const k = ts.key.map(String).join(',')
    let t = tables.get(k)
    if (t === undefined) {
      t = chain.readState((s, r) => readF3PowerTable(s, r, ts.height), ts.blocks[0]!)
      tables.set(k, t)
      if (tables.size > 64) tables.delete(tables.keys().next().value!)
    }
    return t
  }
  const heldTipSets = new Map<string, TipSet>()
  function nextTableOf (supplemental: SupplementalData, ecChain: EcChain): readonly PowerEntry[] | null {
    const head = ecChain[ecChain.length - 1]!
    const ts = heldTipSets.get(tipSetId(head.epoch, head.key))
    if (ts === undefined) return null
    const t = tableAt(ts)
    return powerTableCid(t).toString() === supplemental.powerTable.toString() ? t : null
  }

  function newTally (): F3VoteTally {
    return new F3VoteTally(network, state.nextInstance, state.powerTable, nextTableOf, verifier)
  }

  /** Takes `cert` as the next certificate (checked), stores it with the state after it. */
  async function accept (cert: FinalityCertificate, how: string): Promise<void> {
    const after = validateFinalityCertificate(state, cert, { verifier })
    await store.accept(cert, after)
    state = after
    latest = cert
    tally = newTally()
    log(`f3: instance ${cert.instance} finalized epoch ${after.finalized!.epoch} (${how})`)
    // the chain's fork choice keeps to it: no head that leaves a finalized tipset (the tree may not hold it yet: a
    // node catching up finalizes it when its sync brings it, since every later certificate names a tipset above it)
    void chain.finalize(tipSetKeyCids(after.finalized!.key)).catch((err: Error) => { log(`f3: finalizing on the chain: ${err.message}`) })
    // the next instance may already be deep enough (a node catching up, a chain started with history): vote at once
    if (participants.length > 0) setTimeout(() => { void vote().catch(() => {}) }, 0)
  }

  async function onVote (bytes: Uint8Array): Promise<GossipVerdict<F3Vote>> {
    let vote: F3Vote
    try { vote = decodeF3Vote(bytes) } catch { return REJECT }
    return await inOrder(async () => {
      if (vote.instance < state.nextInstance) return IGNORE
      if (vote.instance > state.nextInstance) { void catchUp().catch(() => {}); return IGNORE }
      await noteTipSet(vote.ecChain)
      let cert: FinalityCertificate | null
      try {
        cert = tally.add(vote)
      } catch (err) {
        if (err instanceof F3EquivocationError) log(`f3: ${err.message}`)
        return err instanceof CertificateError && err.code === 'BAD_SIGNATURE' ? REJECT : IGNORE
      }
      if (cert !== null) {
        // the vote itself was good whatever becomes of the certificate it completed
        try {
          await accept(cert, 'votes')
          void gossip.publish(f3CertificatesTopic(network), encodeCertificate(cert)).catch(() => {})
        } catch (err) { log(`f3: the certificate votes made for instance ${cert.instance} does not hold: ${(err as Error).message}`) }
      }
      return { verdict: 'accept', value: vote }
    })
  }

  async function onCertificate (bytes: Uint8Array, from: PeerId): Promise<GossipVerdict<FinalityCertificate>> {
    let cert: FinalityCertificate
    try { cert = decodeCertificate(bytes) } catch { return REJECT }
    return await inOrder(async () => {
      if (cert.instance < state.nextInstance) return IGNORE
      if (cert.instance > state.nextInstance) { void catchUp(from).catch(() => {}); return IGNORE }
      try {
        await accept(cert, 'gossip')
        return { verdict: 'accept', value: cert }
      } catch (err) {
        log(`f3: certificate ${cert.instance} from ${from.toString()} refused: ${(err as Error).message}`)
        return REJECT
      }
    })
  }

  /** Remembers the tipsets a value names that we hold, so its power table can be read. */
  async function noteTipSet (ecChain: EcChain): Promise<void> {
    const head = ecChain[ecChain.length - 1]
    if (head === undefined) return
    const k = tipSetId(head.epoch, head.key)
    if (heldTipSets.has(k)) return
    const key = await db.canonicalKey(head.epoch)
    if (key === undefined || !bytesEqual(tipSetKeyBytes(key), head.key)) return
    const ts = await db.tipSet(key)
    if (ts === undefined) return
    heldTipSets.set(k, ts)
    if (heldTipSets.size > 64) heldTipSets.delete(heldTipSets.keys().next().value!)
  }

  let catching: Promise<void> | undefined
  async function catchUp (peer?: PeerId): Promise<void> {
    if (catching !== undefined) return await catching
    catching = (async () => {
      const peers = peer === undefined ? libp2p.getPeers() : [peer, ...libp2p.getPeers().filter(p => !p.equals(peer))]
      for (const p of peers) {
        for (;;) {
          if (stop.signal.aborted) return
          let got
          try {
            got = await requestCertificates(libp2p, p, network, { firstInstance: state.nextInstance, limit: 256, includePowerTable: false }, stop.signal)
          } catch { break } // not a Coffer node, busy, gone: the next peer
          if (got.certificates.length === 0) break
          try {
            await inOrder(async () => { for (const c of got.certificates) if (c.instance === state.nextInstance) await accept(c, `exchange from ${p.toString()}`) })
          } catch (err) {
            log(`f3: certificates from ${p.toString()} refused: ${(err as Error).message}`)
            break
          }
          if (got.pendingInstance <= state.nextInstance) break
        }
      }
    })().finally(() => { catching = undefined })
    await catching
  }

  /** Each participant's vote for the current instance, once its head is deep enough past the target. */
  async function vote (): Promise<void> {
    if (participants.length === 0) return
    await inOrder(async () => {
      const instance = state.nextInstance
      const base = state.finalized ?? genesisF3
      const ours = await db.canonicalKey(base.epoch)
      // a node whose heaviest chain left the finalized tipset must not sign anything built on another one
      if (ours === undefined || !bytesEqual(tipSetKeyBytes(ours), base.key)) return
      const headHeight = chain.headTipSet().height
      let target = f3TargetEpoch(base.epoch, params)
      let ts: TipSet | undefined
      for (;;) {
        if (headHeight < target + params.finalityDepth) return
        const h = await db.headerAtOrBelow(target)
        if (h !== undefined && h.header.height > base.epoch) { ts = await db.tipSetAt(h.header.height); break }
        target += params.instanceEpochs // only null rounds since the base: the next window
      }
      if (ts === undefined) return
      const table = tableAt(ts)
      const value: EcChain = [base, f3TipSetOf(ts, powerTableCid(table))]
      heldTipSets.set(tipSetId(ts.height, value[1]!.key), ts)
      const now = Date.now()
      for (const p of participants) {
        if (!state.powerTable.some(e => e.id === p.id)) continue
        let v = await store.vote(p.id, instance)
        if (v !== undefined && !f3ChainsEqual(v.ecChain, value) && p.lastSent === 0) {
          log(`f3: f0${p.id} voted for another value in instance ${instance} before a restart; it keeps that vote (one value per instance)`)
        }
        if (v === undefined) {
          const supplementalData: SupplementalData = { commitments: new Uint8Array(32), powerTable: powerTableCid(table) }
          const signature = verifier.sign(p.secret, certificateSigningPayload(network, instance, supplementalData, value))
          v = { sender: p.id, instance, ecChain: value, supplementalData, signature }
          await store.recordVote(v) // on disk before anyone sees it: a restart sends this one again, never another
        } else if (now - p.lastSent < REVOTE_MS) continue
        p.lastSent = now
        try {
          const cert = tally.add(v)
          if (cert !== null) {
            await accept(cert, 'votes')
            void gossip.publish(f3CertificatesTopic(network), encodeCertificate(cert)).catch(() => {})
          }
        } catch (err) { if (!(err instanceof F3EquivocationError)) log(`f3: own vote: ${(err as Error).message}`) }
        void gossip.publish(f3VotesTopic(network), encodeF3Vote(v)).catch(() => {})
      }
    })
  }

  // what a vote or certificate does happens in its validator (tallied, stored): nothing is left to do on delivery
  const unlisten = [
    gossip.listen(f3VotesTopic(network), async (m) => await onVote(m.data)),
    gossip.listen(f3CertificatesTopic(network), async (m) => await onCertificate(m.data, peerIdFromString(m.source)))
  ]
  await serveCertExchange(libp2p, network, {
    pendingInstance: () => state.nextInstance,
    powerTableFor: async (instance) => await powerTableFor(instance),
    certificates: (first, last) => store.certificatesBytes(first, last)
  })

  /** The table that validates `instance`: the initial one with the stored certificates' deltas applied (they were checked when stored). */
  async function powerTableFor (instance: number): Promise<readonly PowerEntry[] | null> {
    if (instance === state.nextInstance) return state.powerTable
    if (instance > state.nextInstance) return null
    let table: readonly PowerEntry[] = initialTable
    for (let i = 0; i < instance; i++) {
      const c = await store.certificate(i)
      if (c === undefined) return null
      table = applyPowerTableDelta(table, c.powerTableDelta, i)
    }
    return table
  }

  // every head change may make a participant's target deep enough; a timer re-sends votes and polls peers
  void (async () => {
    while (!stop.signal.aborted) {
      try { await chain.nextHead(stop.signal) } catch { return }
      await vote().catch((err: Error) => { log(`f3: voting: ${err.message}`) })
    }
  })()
  const poll = setInterval(() => {
    void vote().catch(() => {})
    void catchUp().catch(() => {})
  }, POLL_MS)
  poll.unref?.()

  return {
    state: () => state,
    latest: () => latest,
    certificate: async (i) => await store.certificate(i),
    recordedVote: async (p, i) => await store.vote(p, i),
    powerTableFor,
    addParticipant: (p) => {
      const id = Number(idOf(p.miner))
      if (!participants.some(q => q.id === id)) participants.push({ id, secret: p.workerSecretKey, lastSent: 0 })
      void vote().catch(() => {})
    },
    catchUp,
    stop: async () => {
      stop.abort()
      clearInterval(poll)
      for (const u of unlisten) u()
      await serial.catch(() => {})
    }
  }
}

const REJECT = { verdict: 'reject' } as const
const IGNORE = { verdict: 'ignore' } as const

/** A tipset F3 names, as a map key: its epoch and key bytes. */
const tipSetId = (epoch: number, key: Uint8Array): string => `${epoch}:${bytesToHex(key)}`

function f3ChainsEqual (a: EcChain, b: EcChain): boolean {
  return a.length === b.length && a.every((t, i) => f3TipSetsEqual(t, b[i]!))
}

export type { F3TipSet }
