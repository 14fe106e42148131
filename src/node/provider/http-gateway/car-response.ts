// A `/ipfs/{cid}` CAR answer: planned before any byte is sent (the blocks the walk will send, their sizes from
// the CAR index, so the price and Content-Length are known up front), then streamed from disk one block at a
// time by the same depth-first walk the libp2p retrieval path uses (core/retrieval UnixfsWalk, carHeader,
// carSectionHead): memory stays one block however large the file.
import type { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import {
  UnixfsWalk, carHeader, carSectionHead, DEFAULT_MAX_BLOCK_BYTES, RAW_CODE, IDENTITY_HASH_CODE,
  NotAFileError, UnsupportedCodecError, MalformedBlockError, RetrievalVerifyError
} from '../../../core'
import type { CarBlocks } from '../car-index'
import { BlockTooLargeToServeError, UnsupportedDagError, PlanTooLargeError } from './errors'
import { resolveEntityBytes, type DagScope, type EntityBytes } from './request'
import { GATEWAY_LIMITS } from './limits'

/** What a CAR answer will send, known before the first byte. */
export interface CarPlan {
  root: CID
  /** Whether the CAR walks the file (entity/all) or holds the root block only. */
  walk: { range?: { from: number, to: number } } | null
  dups: boolean
  /** Sum of the block bytes sent (what a priced provider charges for, as on the libp2p path). */
  blockBytes: number
  blocks: number
  /** The CAR's length: header, then each section's varint, CID and block. */
  carBytes: number
}

/**
 * What planning may cost before the answer is priced (and so before any payment): bytes of non-raw blocks read
 * (the raw leaves' lengths come from the index, unread) and blocks walked. limits.ts GATEWAY_LIMITS names the defaults.
 */
export interface PlanLimits { maxReadBytes: number, maxBlocks: number }
export const DEFAULT_PLAN_LIMITS: PlanLimits = { maxReadBytes: GATEWAY_LIMITS.maxPlanReadBytes, maxBlocks: GATEWAY_LIMITS.maxPlanBlocks }

/** What planning has spent so far, checked against its limits at each block. */
interface PlanBudget { limits: PlanLimits, read: number, blocks: number, root: CID }

function spend (budget: PlanBudget | undefined, readBytes: number): void {
  if (budget === undefined) return
  budget.read += readBytes
  budget.blocks++
  if (budget.read > budget.limits.maxReadBytes) throw new PlanTooLargeError(budget.root.toString(), budget.limits.maxReadBytes, 'node bytes read')
  if (budget.blocks > budget.limits.maxBlocks) throw new PlanTooLargeError(budget.root.toString(), budget.limits.maxBlocks, 'blocks')
}

/** A zero block that a raw leaf's bytes stand in for while planning: the walk reads only a raw leaf's length. */
const ZEROS = new Uint8Array(DEFAULT_MAX_BLOCK_BYTES)

/** The block's stored length, refused above a block's 2 MiB before it is read. */
function lengthOf (blocks: CarBlocks, cid: CID): number {
  const length = blocks.blockLength(cid)
  if (length === undefined) throw new MissingBlockError(cid)
  if (length > DEFAULT_MAX_BLOCK_BYTES) throw new BlockTooLargeToServeError(cid.toString(), length, DEFAULT_MAX_BLOCK_BYTES)
  return length
}

/** A block the DAG links to that the stored CAR lacks: the provider's copy is incomplete (500, before any byte). */
export class MissingBlockError extends Error {
  static override name = 'MissingBlockError'
  override name = 'MissingBlockError'
  constructor (readonly cid: CID) { super(`the stored payload lacks block ${cid.toString()}`) }
}

const sectionBytes = (cid: CID, length: number): number => varint.encodingLength(cid.bytes.length + length) + cid.bytes.length + length

/**
 * The blocks a CAR answer sends, in order, each with its stored length; its bytes too when `readAll` (streaming),
 * else only those the walk must decode (planning: a raw leaf's length is in the index, its bytes are not read).
 */
async function * walkBlocks (blocks: CarBlocks, root: CID, range: { from: number, to: number } | undefined, dups: boolean, readAll: boolean, budget?: PlanBudget): AsyncGenerator<{ cid: CID, bytes: Uint8Array, length: number }> {
  const walk = new UnixfsWalk(root, range === undefined ? {} : { range })
  const seen = dups ? null : new Set<string>()
  for (let cid = walk.next(); cid !== null; cid = walk.next()) {
    const length = lengthOf(blocks, cid)
    const read = readAll || cid.code !== RAW_CODE
    // checked before the read: a plan over its limit stops without reading the block that would pass it
    spend(budget, read ? length : 0)
    const bytes = read ? await blocks.read(cid) : ZEROS.subarray(0, length)
    walk.accept(cid, bytes)
    if (seen !== null) {
      // dups=n: a block already sent is not sent again (the walk still visits it, to go on below it)
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
    }
    yield { cid, bytes, length }
  }
}

/**
 * Plans the CAR for `root` in `blocks`: dag-scope=block is the root block alone; entity and all walk the UnixFS
 * file (for a file they are the same DAG), trimmed to entity-bytes. A root that is no UnixFS file is its block
 * alone under `entity` (the spec: entity is block for non-UnixFS data) and refused under `all` (501: this
 * gateway walks files only). An identity root is a CAR with the header only (the spec: identity blocks are never sent).
 */
export async function planCar (blocks: CarBlocks | null, root: CID, o: { scope: DagScope, entityBytes?: EntityBytes, dups: boolean, limits?: PlanLimits }): Promise<CarPlan> {
  const header = carHeader(root).length
  if (root.multihash.code === IDENTITY_HASH_CODE || blocks === null) return { root, walk: null, dups: o.dups, blockBytes: 0, blocks: 0, carBytes: header }
  const rootLength = lengthOf(blocks, root)
  const single: CarPlan = { root, walk: null, dups: o.dups, blockBytes: rootLength, blocks: 1, carBytes: header + sectionBytes(root, rootLength) }
  const scope = o.entityBytes !== undefined ? 'entity' : o.scope
  if (scope === 'block') return single
  // the file's size, from the root alone, before entity-bytes can be resolved against it
  let size: number
  try {
    const probe = new UnixfsWalk(root)
    probe.accept(root, root.code === RAW_CODE ? ZEROS.subarray(0, rootLength) : await blocks.read(root))
    size = probe.fileSize!
  } catch (err) {
    if (err instanceof NotAFileError || err instanceof UnsupportedCodecError || err instanceof MalformedBlockError) {
      if (scope === 'entity') return single
      throw new UnsupportedDagError(`${root.toString()} is not a UnixFS file (${err.message}): this gateway walks files only; ask dag-scope=block`)
    }
    throw err
  }
  let range: { from: number, to: number } | undefined
  if (o.entityBytes !== undefined) {
    const r = resolveEntityBytes(o.entityBytes, size)
    if (r === null) return single // a range resolving to nothing inside the file: the spec's dag-scope=block
    if (r.from > 0 || r.to < size) range = r
  }
  const plan: CarPlan = { root, walk: range === undefined ? {} : { range }, dups: o.dups, blockBytes: 0, blocks: 0, carBytes: header }
  const budget: PlanBudget = { limits: o.limits ?? DEFAULT_PLAN_LIMITS, read: 0, blocks: 0, root }
  try {
    for await (const { cid, length } of walkBlocks(blocks, root, range, o.dups, false, budget)) {
      plan.blockBytes += length
      plan.blocks++
      plan.carBytes += sectionBytes(cid, length)
    }
  } catch (err) {
    // the stored DAG does not walk (a client may have stored any CAR): refused before anything is sent
    if (err instanceof RetrievalVerifyError) throw new UnsupportedDagError(`the stored DAG under ${root.toString()} cannot be walked: ${err.message}`)
    throw err
  }
  return plan
}

/**
 * The CAR's bytes, as the plan said, read from disk a block at a time: the header, then each section's
 * varint+CID and the block's bytes (not copied together). The caller closes `blocks`.
 */
export async function * carChunks (blocks: CarBlocks | null, plan: CarPlan): AsyncGenerator<Uint8Array> {
  yield carHeader(plan.root)
  if (blocks === null || plan.blocks === 0) return
  if (plan.walk === null) {
    const bytes = await blocks.read(plan.root)
    yield carSectionHead(plan.root, bytes.length)
    yield bytes
    return
  }
  for await (const { cid, bytes } of walkBlocks(blocks, plan.root, plan.walk.range, plan.dups, true)) {
    yield carSectionHead(cid, bytes.length)
    yield bytes
  }
}
