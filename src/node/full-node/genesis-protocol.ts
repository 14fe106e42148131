// `/coffer/genesis/1.0.0`: one request (the genesis CID the asker trusts, or nothing to learn the peer's),
// one answer (the genesis CAR of genesis-car.ts, or nothing when the peer is on another genesis). Coffer's
// own protocol: Filecoin nodes ship genesis in their binary; a Coffer full node joins from a CID.
import type { Libp2p, PeerId } from '@libp2p/interface'
import { CID } from '../../core'
import { serveOneShot, requestOneShot, REQUEST_TIMEOUT_MS, RESPONSE_TIMEOUT_MS, type OneShotLimits } from '../../net'
import { decodeGenesisCar, InvalidGenesisCarError, MAX_GENESIS_CAR_BYTES } from './genesis-car'
import type { Genesis, MemoryBlockStore } from '../../core'

export const GENESIS_PROTOCOL = '/coffer/genesis/1.0.0'
const MAX_GENESIS_REQUEST_BYTES = 128

/** A new node asks this once; a few at a time are plenty, and each answer is the same cached bytes. */
export const GENESIS_LIMITS: OneShotLimits = {
  maxInboundStreams: 2,
  maxActive: 4,
  maxActivePerPeer: 1,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  responseTimeoutMs: RESPONSE_TIMEOUT_MS
}

/** The peer answered nothing: it is on another genesis (or serves none). */
export class GenesisUnavailableError extends Error {
  static override name = 'GenesisUnavailableError'
  override name = 'GenesisUnavailableError'
  constructor (peer: string) { super(`peer ${peer} does not serve the genesis asked for`) }
}

/** Serves our genesis CAR (built once, on first request, by `car`). */
export async function serveGenesis (node: Libp2p, genesisCid: CID, car: () => Promise<Uint8Array>): Promise<void> {
  let cached: Promise<Uint8Array> | undefined
  await serveOneShot(node, GENESIS_PROTOCOL, MAX_GENESIS_REQUEST_BYTES, async (request) => {
    if (request.length > 0) {
      let asked: CID
      try { asked = CID.decode(request) } catch { return new Uint8Array(0) }
      if (!asked.equals(genesisCid)) return new Uint8Array(0)
    }
    cached ??= car()
    return await cached
  }, () => new Uint8Array(0), { limits: GENESIS_LIMITS })
}

/**
 * Fetches and checks the genesis CAR from `peer`. With `trusted` every block is checked against it; without
 * (a node joining by multiaddr alone) the peer's genesis is taken on first use: the caller prints its CID.
 */
export async function requestGenesis (node: Libp2p, peer: PeerId, trusted?: CID, signal?: AbortSignal): Promise<{ genesis: Genesis, store: MemoryBlockStore }> {
  const car = await requestOneShot(node, peer, GENESIS_PROTOCOL, trusted?.bytes ?? new Uint8Array(0), MAX_GENESIS_CAR_BYTES, signal)
  if (car.length === 0) throw new GenesisUnavailableError(peer.toString())
  let root = trusted
  if (root === undefined) {
    // trust on first use: the CAR's own root, whose header and state are still checked against it
    const { CarBufferReader } = await import('@ipld/car/buffer-reader')
    try {
      root = CID.asCID(CarBufferReader.fromBytes(car).getRoots()[0]) ?? undefined
    } catch (err) {
      throw new InvalidGenesisCarError(`genesis CAR does not decode: ${(err as Error).message}`)
    }
    if (root === undefined) throw new InvalidGenesisCarError('genesis CAR has no root')
  }
  return decodeGenesisCar(car, root)
}
