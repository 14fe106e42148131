// The genesis state as one CAR v1 (@ipld/car): the genesis header first (the CAR's root), then every block
// of the state tree and the empty message and receipt arrays it links. A new full node needs all of them
// to execute block 1; the bootstrap document holds only the header, the StateRoot and the parameters.
// The receiver trusts nothing but the genesis CID: each block must hash to its CID, the root must be the
// trusted genesis header, and every block the header reaches must be present.
import * as dagCbor from '@ipld/dag-cbor'
import { CarBufferReader } from '@ipld/car/buffer-reader'
import { CarWriter } from '@ipld/car/writer'
import { CID, chainCid, DAG_CBOR, openGenesis, decodeHeader, readStateRoot, MemoryBlockStore, type BlockGetter, type Genesis } from '../../core'

/** A devnet genesis is a few KiB; a CAR past this is refused before it is read. */
export const MAX_GENESIS_CAR_BYTES = 16 * 1024 * 1024
/** Blocks in a genesis state, at most: bounds the completeness walk as the byte limit bounds the read. */
export const MAX_GENESIS_BLOCKS = 100_000

export class InvalidGenesisCarError extends Error {
  static override name = 'InvalidGenesisCarError'
  override name = 'InvalidGenesisCarError'
}

/** The CAR's root or first block is not the genesis we trust. */
export class GenesisCidMismatchError extends InvalidGenesisCarError {
  static override name = 'GenesisCidMismatchError'
  override name = 'GenesisCidMismatchError'
  constructor (readonly trusted: string, readonly got: string) { super(`genesis CAR is rooted at ${got}, not the trusted genesis ${trusted}`) }
}

/** A block of the CAR does not hash to the CID it is listed under. */
export class GenesisBlockHashError extends InvalidGenesisCarError {
  static override name = 'GenesisBlockHashError'
  override name = 'GenesisBlockHashError'
  constructor (readonly cid: string) { super(`genesis CAR block ${cid} does not hash to its CID`) }
}

/** The genesis state links a block the CAR (or the serving node) does not hold. */
export class GenesisIncompleteError extends InvalidGenesisCarError {
  static override name = 'GenesisIncompleteError'
  override name = 'GenesisIncompleteError'
  constructor (readonly missing: string) { super(`genesis state is incomplete: block ${missing} is missing`) }
}

/** DAG-CBOR links of a decoded block, at any depth (actor code CIDs are identity-hashed raw CIDs: not followed). */
function links (value: unknown, out: CID[]): void {
  const cid = CID.asCID(value)
  if (cid !== null) {
    if (cid.code === DAG_CBOR) out.push(cid)
    return
  }
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return
  for (const v of Array.isArray(value) ? value : Object.values(value)) links(v, out)
}

/**
 * Every block the genesis header reaches through its ParentStateRoot, Messages and ParentMessageReceipts,
 * in walk order; throws GenesisIncompleteError naming the first one `store` lacks.
 */
export function genesisStateBlocks (store: BlockGetter, genesis: Genesis['header']): Array<{ cid: CID, bytes: Uint8Array }> {
  const h = genesis.header
  const seen = new Set<string>()
  const out: Array<{ cid: CID, bytes: Uint8Array }> = []
  const queue: CID[] = [h.parentStateRoot, h.messages, h.parentMessageReceipts]
  while (queue.length > 0) {
    const cid = queue.shift()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    if (seen.size > MAX_GENESIS_BLOCKS) throw new InvalidGenesisCarError(`genesis state has more than ${MAX_GENESIS_BLOCKS} blocks`)
    const bytes = store.get(cid)
    if (bytes === undefined) throw new GenesisIncompleteError(key)
    out.push({ cid, bytes })
    links(dagCbor.decode(bytes), queue)
  }
  return out
}

/** The genesis CAR: header as root and first block, then the state blocks from `store`. */
export async function encodeGenesisCar (store: BlockGetter, genesis: Genesis): Promise<Uint8Array> {
  const blocks = genesisStateBlocks(store, genesis.header)
  const { writer, out } = CarWriter.create([genesis.header.cid])
  const chunks: Uint8Array[] = []
  const collected = (async () => { for await (const c of out) chunks.push(c) })()
  await writer.put({ cid: genesis.header.cid, bytes: genesis.header.bytes })
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await collected
  const car = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { car.set(c, at); at += c.length }
  return car
}

/**
 * Opens a genesis CAR against the trusted genesis CID: every block hashed, the root and first block the
 * trusted header, the state complete. Returns the genesis and a store holding exactly its blocks.
 */
export function decodeGenesisCar (car: Uint8Array, trusted: CID): { genesis: Genesis, store: MemoryBlockStore } {
  if (car.length > MAX_GENESIS_CAR_BYTES) throw new InvalidGenesisCarError(`genesis CAR of ${car.length} bytes exceeds ${MAX_GENESIS_CAR_BYTES}`)
  let reader: CarBufferReader
  try {
    reader = CarBufferReader.fromBytes(car)
  } catch (err) {
    throw new InvalidGenesisCarError(`genesis CAR does not decode: ${(err as Error).message}`)
  }
  const roots = reader.getRoots()
  if (roots.length !== 1 || !roots[0]!.equals(trusted)) throw new GenesisCidMismatchError(trusted.toString(), roots.map(String).join(','))
  const store = new MemoryBlockStore()
  let headerBytes: Uint8Array | undefined
  for (const block of reader.blocks()) {
    // chain objects are DAG-CBOR under blake2b-256, as chainCid makes them: anything else is not ours
    const cid = CID.asCID(block.cid)
    if (cid === null || !chainCid(block.bytes).equals(cid)) throw new GenesisBlockHashError(String(block.cid))
    if (cid.equals(trusted)) headerBytes = block.bytes
    else store.put(block.bytes)
  }
  if (headerBytes === undefined) throw new GenesisIncompleteError(trusted.toString())
  const header = decodeHeader(headerBytes)
  const rootBytes = store.get(header.parentStateRoot)
  if (rootBytes === undefined) throw new GenesisIncompleteError(header.parentStateRoot.toString())
  // the StateRoot's Info names the genesis parameters block
  let genesis: Genesis
  try {
    const info = readStateRoot(store, header.parentStateRoot).info
    const stateBytes = store.get(info)
    if (stateBytes === undefined) throw new GenesisIncompleteError(info.toString())
    genesis = openGenesis(trusted, headerBytes, rootBytes, stateBytes, decodeHeader)
  } catch (err) {
    if (err instanceof InvalidGenesisCarError) throw err
    throw new InvalidGenesisCarError(`genesis in the CAR does not open: ${(err as Error).message}`)
  }
  genesisStateBlocks(store, genesis.header) // completeness: throws GenesisIncompleteError
  return { genesis: { ...genesis, store }, store }
}
