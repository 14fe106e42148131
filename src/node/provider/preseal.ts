// A devnet provider's pre-sealed piece, as `lotus-seed pre-seal` makes a devnet miner's sectors before genesis: a
// CAR of one raw block of bytes derived from the miner's ID, kept in the provider's folder. Genesis turns it into a
// deal activated at genesis and counts its size as the provider's power (core addGenesisDeals), so Expected
// Consensus has someone to elect from the first epoch; the provider proves it every period like any deal it holds
// (a provider that stops loses that power). The bytes are retrievable by their root CID like any payload.
import path from 'node:path'
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { CarWriter } from '@ipld/car/writer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from '@noble/hashes/sha2.js'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import {
  pieceDigest, pieceCidV1, dealProposalCid, readDeal, addressToString, bytesEqual,
  type BlockGetter, type CID as CoreCID, type DealRecord
} from '../../core'
import { ProviderStore } from './provider-store'

/** Where the pre-sealed CAR lives in a provider's folder. */
export const PRESEAL_FILE = path.join('pieces', 'preseal.car')
/** One raw block of this many bytes: the CAR pads to a 32 KiB piece, above the devnet's 2 KiB consensus minimum. */
export const PRESEAL_BLOCK_BYTES = 30_000

/** The pre-sealed bytes of miner `minerId`: sha256 in counter mode over its ID (deterministic, so a lost file can be made again). */
function presealBytes (minerId: number): Uint8Array {
  const out = new Uint8Array(PRESEAL_BLOCK_BYTES)
  for (let i = 0, at = 0; at < out.length; i++, at += 32) out.set(sha256(new TextEncoder().encode(`coffer pre-seal ${minerId} ${i}`)).subarray(0, Math.min(32, out.length - at)), at)
  return out
}

async function carOf (block: Uint8Array): Promise<Uint8Array> {
  const cid = CID.createV1(raw.code, await sha256Hasher.digest(block))
  const { writer, out } = CarWriter.create([cid])
  const chunks: Uint8Array[] = []
  const collected = (async () => { for await (const c of out) chunks.push(c) })()
  await writer.put({ cid, bytes: block })
  await writer.close()
  await collected
  const car = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { car.set(c, at); at += c.length }
  return car
}

export interface Preseal { pieceCid: CoreCID, pieceSize: number, payloadBytes: number }

/** Writes miner `minerId`'s pre-sealed CAR into `dir` (again, byte for byte, when it is missing) and returns its piece. */
export async function writePreseal (dir: string, minerId: number): Promise<Preseal> {
  const car = await carOf(presealBytes(minerId))
  const file = path.join(dir, PRESEAL_FILE)
  const existing = await readFile(file).catch(() => null)
  if (existing === null || !bytesEqual(existing, car)) {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(`${file}.tmp`, car)
    await rename(`${file}.tmp`, file)
  }
  const digest = pieceDigest(car)
  return { pieceCid: pieceCidV1(digest.root), pieceSize: digest.paddedBytes, payloadBytes: car.length }
}

/** The deal genesis made of `miner`'s pre-seal (deals activated at genesis come first), or null when it made none. */
export function presealDealOf (store: BlockGetter, root: CoreCID, miner: Uint8Array): { dealId: number, deal: DealRecord } | null {
  for (let id = 0; ; id++) {
    const deal = readDeal(store, root, id)
    if (deal === null || deal.state.sectorStartEpoch !== 0) return null
    if (bytesEqual(deal.proposal.provider, miner)) return { dealId: id, deal }
  }
}

/**
 * Makes sure the provider in `dir` knows its pre-sealed deal (so its prover proves it every period) and holds its
 * bytes: the file is written again if it went missing, and the deal recorded once. Nothing when genesis made none.
 */
export async function recordPreseal (dir: string, minerId: number, found: { dealId: number, deal: DealRecord } | null): Promise<void> {
  if (found === null) return
  const piece = await writePreseal(dir, minerId)
  if (!piece.pieceCid.equals(found.deal.proposal.pieceCid)) throw new Error(`${dir}/${PRESEAL_FILE} does not hash to the piece genesis sealed for t0${minerId}; start with --reset`)
  const store = await ProviderStore.open(dir)
  if (store.all().some(d => d.dealId === found.dealId)) return
  const p = found.deal.proposal
  await store.add({
    dealId: found.dealId, proposalCid: dealProposalCid(p).toString(), pieceCid: p.pieceCid.toString(), paddedBytes: p.pieceSize, payloadBytes: piece.payloadBytes,
    startEpoch: p.startEpoch, endEpoch: p.endEpoch, file: PRESEAL_FILE, publishMessage: 'genesis', client: addressToString(p.client)
  })
}
