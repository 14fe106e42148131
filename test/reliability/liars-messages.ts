// Lying peers on message gossip (issue 16 part 2): what a full node accepts from anyone into its message pool.
// Each try starts a fresh liar (its own peer ID, so its gossip score and the pool's per-origin limits start clean)
// that connects to an honest devnet node and keeps telling one lie, while an honest peer gossips a genuine transfer
// from a funded "victim" key whose address most lies forge. A try fails if any message the liar made reaches the
// pool or a block (accepted), if anything escapes uncaught (crash), if the victim's genuine transfer is not
// included or the chain stops (data lost: the user's payment or the network's liveness), or if a provable liar is
// not graylisted by the node's gossip scoring within its deadline (kept: its messages would still be read).
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import {
  messagesTopic, encodeSignedMessage, signedMessageCid, signMessage, secpPublicKey, secpAddressBytes, gasLimitFor,
  TRANSFER_GAS_FEE_CAP, TRANSFER_GAS_PREMIUM, BLOCK_GAS_LIMIT, MAX_MESSAGE_BYTES, type CID, type Message, type SignedMessage
} from '../../src/core'
import { createCofferLibp2p, GOSSIP_SCORE_THRESHOLDS, type CofferLibp2p } from '../../src/net'
import { startDevnet, type Devnet } from '../../src/node/devnet'
import { sleep, waitFor, watchCrashes } from './harness'
import type { Row } from './table'

/**
 * Each lie, and what it proves. A provable liar that can make lie after lie must be graylisted (Lotus's thresholds:
 * the sixth invalid message puts it there, and the node then ignores everything it sends); one that has a single
 * lie to tell (it can only malleate a signature it saw) must at least be scored for it and pruned from the node's
 * mesh (gossipsub keeps no peer whose score is below 0). A lie that is only stale on this node's state is ignored
 * at no cost to its sender, as Lotus does: another node may be at another head.
 */
export const MESSAGE_LIES = {
  // the victim's next nonce, signed by another key: if taken, the victim's genuine transfer would lose its nonce
  'forged signature on the victim\'s next nonce': { provable: 'graylist' },
  // a genuine signature of the victim's, lifted onto another message
  'signature of another message': { provable: 'graylist' },
  // the victim's genuine message with s flipped to n − s, sent before it: valid on chain, but a second CID for one payment
  'malleated signature (high S)': { provable: 'pruned' },
  'junk bytes': { provable: 'graylist' },
  'truncated message': { provable: 'graylist' },
  'oversized message': { provable: 'graylist' },
  'fields out of range': { provable: 'graylist' },
  // an included message of the victim's sent again
  'replayed message': { provable: false },
  // a properly signed message from a key with no funds: the state refuses it, not the message itself
  'unfunded sender': { provable: false },
  'flood of forged signatures': { provable: 'graylist' },
  'flood of unfunded senders': { provable: false }
} as const
export type MessageLie = keyof typeof MESSAGE_LIES

/** How long a provable liar may keep lying before the node must have graylisted it (the pool's 30 s cool-down, twice). */
const GRAYLIST_DEADLINE_MS = 75_000

interface Key { secret: Uint8Array, address: Uint8Array }
const newKey = (): Key => { const secret = secp256k1.utils.randomSecretKey(); return { secret, address: secpAddressBytes(secpPublicKey(secret)) } }

function transfer (from: Uint8Array, to: Uint8Array, nonce: number, value: bigint, params = new Uint8Array(0)): Message {
  const m: Message = { version: 0, to, from, nonce, value, gasLimit: 0, gasFeeCap: TRANSFER_GAS_FEE_CAP, gasPremium: TRANSFER_GAS_PREMIUM, method: 0, params }
  return { ...m, gasLimit: gasLimitFor(m) }
}

/** The same signature with s replaced by n − s and the recovery bit flipped: it still recovers the signer. */
function highS (sm: SignedMessage): SignedMessage {
  const n = secp256k1.Point.CURVE().n
  const d = sm.signature.data
  let s = 0n
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(d[i]!)
  let t = n - s
  const out = d.slice()
  for (let i = 63; i >= 32; i--) { out[i] = Number(t & 0xffn); t >>= 8n }
  out[64] = d[64]! ^ 1
  return { ...sm, signature: { ...sm.signature, data: out } }
}

/** A libp2p peer on the message topic, connected to the node (retried: libp2p limits inbound dials per second). */
async function gossiper (d: Devnet): Promise<CofferLibp2p> {
  const p = await createCofferLibp2p({ allowLoopbackDials: true })
  p.services.pubsub.subscribe(messagesTopic(d.genesis.state.network))
  const addr = multiaddr(d.libp2p.getMultiaddrs()[0]!.toString())
  const ok = await waitFor(async () => { try { await p.dial(addr, { signal: AbortSignal.timeout(5_000) }); return true } catch { return false } }, 60_000)
  if (!ok) throw new Error('could not connect to the node')
  return p
}

/** Publishes until the node is among the recipients (a publish before the subscription exchange reaches nobody). */
async function publishToNode (p: CofferLibp2p, d: Devnet, bytes: Uint8Array): Promise<boolean> {
  const topic = messagesTopic(d.genesis.state.network)
  return await waitFor(async () => {
    const r = await p.services.pubsub.publish(topic, bytes).catch(() => ({ recipients: [] }))
    return r.recipients.some(x => x.equals(d.libp2p.peerId))
  }, 30_000)
}

/** The next variant of a lie (each different: gossip drops a message it has seen), and the CIDs it could be pooled under. */
function lieBytes (lie: MessageLie, i: number, d: Devnet, victim: Key, genuine: SignedMessage, replayed: SignedMessage, made: CID[]): Uint8Array[] {
  const next = d.chain.mpool.nextNonce(victim.address)
  const to = victim.address
  const keep = (sm: SignedMessage): Uint8Array => { made.push(signedMessageCid(sm)); return encodeSignedMessage(sm) }
  const forged = (j: number): Uint8Array => {
    const m = transfer(victim.address, to, next, BigInt(1 + i * 1000 + j))
    const k = newKey()
    const wrong = signMessage(k.secret, { ...m, from: k.address })
    return keep({ message: m, signature: wrong.signature })
  }
  const unfunded = (): Uint8Array => { const k = newKey(); return keep(signMessage(k.secret, transfer(k.address, to, 0, 1000n))) }
  switch (lie) {
    case 'forged signature on the victim\'s next nonce': return [forged(0)]
    case 'signature of another message':
      return [keep({ message: transfer(victim.address, to, next, BigInt(7 + i)), signature: replayed.signature })]
    case 'malleated signature (high S)': return [keep(highS(genuine))]
    case 'junk bytes': return [Uint8Array.from({ length: 200 + i }, (_, j) => ((j + 1) * 7919 + i) & 0xff)]
    case 'truncated message': { const b = forged(0); return [b.slice(0, b.length - 1 - (i % 20))] }
    // signed by the liar's own key: the size and the fields are its only faults
    case 'oversized message': {
      const k = newKey()
      return [keep(signMessage(k.secret, transfer(k.address, to, 0, BigInt(1 + i), new Uint8Array(MAX_MESSAGE_BYTES + 64 + i))))]
    }
    case 'fields out of range': {
      const k = newKey()
      return [keep(signMessage(k.secret, { ...transfer(k.address, to, 0, BigInt(1 + i)), gasLimit: BLOCK_GAS_LIMIT + 1 + i }))]
    }
    case 'replayed message': return i === 0 ? [keep(replayed)] : []
    case 'unfunded sender': return [unfunded()]
    case 'flood of forged signatures': return Array.from({ length: 50 }, (_, j) => forged(j))
    case 'flood of unfunded senders': return Array.from({ length: 50 }, () => unfunded())
  }
}

export async function messageLiars (opts: { repeats: number, lies?: MessageLie[] }): Promise<Row> {
  const started = performance.now()
  const failures: string[] = []
  const crashes = watchCrashes(failures)
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-liars-messages-'))
  const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: null, blockDelayMs: 1000, log: () => {} })
  const topic = messagesTopic(d.genesis.state.network)
  // (getScore and getMeshPeers are on gossipsub's class, not on the interface it exports)
  const pubsub = d.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number, getMeshPeers: (topic: string) => string[] }
  let tries = 0
  let accepted = 0
  let lost = 0
  let kept = 0
  let honest: CofferLibp2p | undefined
  try {
    const victim = newKey()
    const paid = await d.chain.faucet(victim.address)
    await d.chain.waitMessage(paid, AbortSignal.timeout(120_000))
    honest = await gossiper(d)
    // the victim's first transfer: what the replay and the lifted signature reuse
    let included = signMessage(victim.secret, transfer(victim.address, victim.address, 0, 1n))
    if (!await publishToNode(honest, d, encodeSignedMessage(included))) throw new Error('the honest peer could not reach the node')
    await d.chain.waitMessage(signedMessageCid(included), AbortSignal.timeout(120_000))
    console.log(`  (victim funded and its first transfer included in ${((performance.now() - started) / 1000).toFixed(1)} s)`)
    for (let r = 0; r < opts.repeats; r++) {
      for (const lie of opts.lies ?? Object.keys(MESSAGE_LIES) as MessageLie[]) {
        tries++
        const t0 = Date.now()
        const before = failures.length
        const liar = await gossiper(d)
        const liarId = liar.peerId.toString()
        const made: CID[] = []
        const height0 = d.head().header.height
        const replayed = included
        const genuine = signMessage(victim.secret, transfer(victim.address, victim.address, d.chain.mpool.nextNonce(victim.address), BigInt(100 + tries)))
        const stop = new AbortController()
        // the liar keeps lying (a new variant every half second) until the try is judged
        const lying = (async () => {
          for (let i = 0; !stop.signal.aborted; i++) {
            for (const bytes of lieBytes(lie, i, d, victim, genuine, replayed, made)) {
              await liar.services.pubsub.publish(topic, bytes).catch(() => {})
            }
            await sleep(500)
          }
        })()
        try {
          // the lie goes first, then the victim's genuine transfer through an honest peer must make it into a block
          await sleep(1500)
          if (!await publishToNode(honest, d, encodeSignedMessage(genuine))) { lost++; failures.push(`${lie}: the honest peer could not reach the node`) }
          const cid = signedMessageCid(genuine)
          const landed = await d.chain.waitMessage(cid, AbortSignal.timeout(90_000)).then(() => true, () => false)
          if (landed) included = genuine
          else { lost++; failures.push(`${lie}: the victim's genuine transfer was not included (pool has it: ${d.chain.mpool.has(cid)})`) }
          const provable = MESSAGE_LIES[lie].provable
          if (provable !== false) {
            const dropped = await waitFor(() => provable === 'graylist'
              ? pubsub.getScore(liarId) < GOSSIP_SCORE_THRESHOLDS.graylistThreshold
              : pubsub.getScore(liarId) < 0 && !pubsub.getMeshPeers(topic).includes(liarId), GRAYLIST_DEADLINE_MS)
            if (!dropped) { kept++; failures.push(`${lie}: the liar is not ${provable === 'graylist' ? 'graylisted' : 'scored and pruned'} (score ${pubsub.getScore(liarId).toFixed(0)})`) }
          }
          if (!await waitFor(() => d.head().header.height >= height0 + 3, 60_000)) { lost++; failures.push(`${lie}: the chain stopped at ${d.head().header.height}`) }
          stop.abort()
          await lying
          // nothing the liar made is pooled or in a block (the replayed message was included once, before the lie)
          for (const c of made) {
            if (c.equals(signedMessageCid(replayed))) {
              if (d.chain.mpool.has(c)) { accepted++; failures.push(`${lie}: the replayed message is back in the pool`); break }
              continue
            }
            if (d.chain.mpool.has(c) || await d.chain.searchMessage(c) !== null) { accepted++; failures.push(`${lie}: message ${c.toString()} accepted`); break }
          }
          console.log(`  ${lie}: ${failures.length === before ? 'refused' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${made.length} messages made)`)
        } finally {
          stop.abort()
          await lying.catch(() => {})
          await Promise.race([liar.stop(), sleep(3000)])
        }
      }
    }
  } finally {
    if (honest !== undefined) await Promise.race([honest.stop(), sleep(3000)])
    await d.stop()
    await rm(dir, { recursive: true, force: true })
    crashes.stop()
  }
  return { scenario: 'liars: message gossip', tries, acceptedLies: accepted, crashes: crashes.count(), dataLost: lost, liarsKept: kept, ms: performance.now() - started, failures }
}
