// A storage provider's MinerInfo in Filecoin's field layout (builtin-actors actors/miner/src/state.rs
// MinerInfo, v18 = go-state-types builtin/v16 miner.MinerInfo): [Owner, Worker, ControlAddresses,
// PendingWorkerKey, PeerId, Multiaddrs, WindowPoStProofType, SectorSize, WindowPoStPartitionSectors,
// ConsensusFaultElapsed, PendingOwnerAddress, Beneficiary, BeneficiaryTerm, PendingBeneficiaryTerm].
// Where Coffer differs: Owner, Worker and Beneficiary are key addresses (f1/f3), because Coffer keys
// accounts by their key address rather than by an ID (state-tree.ts); Filecoin stores their IDs.
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedStateError } from '../hamt'
import { validateAddressBytes } from '../address'
import { encodeBigInt } from '../token'
import { bigIntField } from '../market/market-state'
import type { AttoFil, Epoch } from '../units'

/** go-state-types abi RegisteredPoStProof: the V1_1 Window PoSt types, the only ones a new miner may use (policy default_post_proofs). */
export const RegisteredPoStProof = {
  StackedDrgWindow2KiBV1_1: 10,
  StackedDrgWindow8MiBV1_1: 11,
  StackedDrgWindow512MiBV1_1: 12,
  StackedDrgWindow32GiBV1_1: 13,
  StackedDrgWindow64GiBV1_1: 14
} as const

/** Sector size (bytes) and Window PoSt partition sectors of each proof type (go-state-types abi PoStProofInfos). */
const POST_PROOF_INFO: ReadonlyMap<number, { sectorSize: number, partitionSectors: number }> = new Map([
  [RegisteredPoStProof.StackedDrgWindow2KiBV1_1, { sectorSize: 2 << 10, partitionSectors: 2 }],
  [RegisteredPoStProof.StackedDrgWindow8MiBV1_1, { sectorSize: 8 << 20, partitionSectors: 2 }],
  [RegisteredPoStProof.StackedDrgWindow512MiBV1_1, { sectorSize: 512 << 20, partitionSectors: 2 }],
  [RegisteredPoStProof.StackedDrgWindow32GiBV1_1, { sectorSize: 32 * 2 ** 30, partitionSectors: 2349 }],
  [RegisteredPoStProof.StackedDrgWindow64GiBV1_1, { sectorSize: 64 * 2 ** 30, partitionSectors: 2300 }]
])

export const postProofInfo = (t: number): { sectorSize: number, partitionSectors: number } | undefined => POST_PROOF_INFO.get(t)

/**
 * What Coffer's miners declare. Coffer proves pieces per deal, not sectors, so the type only fixes the
 * SectorSize and partition figures Lotus tools show; 32 GiB is what most of mainnet's miners use.
 */
export const DEFAULT_WINDOW_POST_PROOF_TYPE: number = RegisteredPoStProof.StackedDrgWindow32GiBV1_1

/** builtin-actors EPOCH_UNDEFINED: ConsensusFaultElapsed of a miner never reported for a fault. */
export const EPOCH_UNDEFINED: Epoch = -1

export interface WorkerKeyChange { newWorker: Uint8Array, effectiveAt: Epoch }
export interface BeneficiaryTerm { quota: AttoFil, usedQuota: AttoFil, expiration: Epoch }
export interface PendingBeneficiaryChange {
  newBeneficiary: Uint8Array
  newQuota: AttoFil
  newExpiration: Epoch
  approvedByBeneficiary: boolean
  approvedByNominee: boolean
}

export interface MinerInfo {
  /** Receives withdrawals; may change the worker. */
  owner: Uint8Array
  /** Signs the provider's messages (deals, proofs) and its asks. */
  worker: Uint8Array
  controlAddresses: Uint8Array[]
  pendingWorkerKey: WorkerKeyChange | null
  /** The libp2p peer ID (multihash bytes) clients dial for asks, deals and retrieval. */
  peerId: Uint8Array
  /** Multiaddr bytes where the provider listens. */
  multiaddrs: Uint8Array[]
  windowPoStProofType: number
  /** Bytes. */
  sectorSize: number
  windowPoStPartitionSectors: number
  consensusFaultElapsed: Epoch
  pendingOwnerAddress: Uint8Array | null
  beneficiary: Uint8Array
  beneficiaryTerm: BeneficiaryTerm
  pendingBeneficiaryTerm: PendingBeneficiaryChange | null
}

/** What a new miner is made from (MinerInfo::new): everything else takes its starting value. */
export interface MinerInfoInit {
  owner: Uint8Array
  worker: Uint8Array
  peerId: Uint8Array
  multiaddrs?: Uint8Array[]
  controlAddresses?: Uint8Array[]
  windowPoStProofType?: number
}

export class UnknownPoStProofError extends RangeError {
  static override name = 'UnknownPoStProofError'
  override name = 'UnknownPoStProofError'
}

/** builtin-actors MinerInfo::new: the beneficiary is the owner, with an empty term; nothing is pending. */
export function newMinerInfo (init: MinerInfoInit): MinerInfo {
  const proof = init.windowPoStProofType ?? DEFAULT_WINDOW_POST_PROOF_TYPE
  const info = postProofInfo(proof)
  if (info === undefined) throw new UnknownPoStProofError(`proof type ${proof} is not a Window PoSt V1_1 type`)
  return {
    owner: init.owner,
    worker: init.worker,
    controlAddresses: init.controlAddresses ?? [],
    pendingWorkerKey: null,
    peerId: init.peerId,
    multiaddrs: init.multiaddrs ?? [],
    windowPoStProofType: proof,
    sectorSize: info.sectorSize,
    windowPoStPartitionSectors: info.partitionSectors,
    consensusFaultElapsed: EPOCH_UNDEFINED,
    pendingOwnerAddress: null,
    beneficiary: init.owner,
    beneficiaryTerm: { quota: 0n, usedQuota: 0n, expiration: 0 },
    pendingBeneficiaryTerm: null
  }
}

export function encodeMinerInfo (m: MinerInfo): Uint8Array {
  const b = encodeBigInt
  return dagCbor.encode([
    m.owner, m.worker, m.controlAddresses,
    m.pendingWorkerKey === null ? null : [m.pendingWorkerKey.newWorker, m.pendingWorkerKey.effectiveAt],
    m.peerId, m.multiaddrs, m.windowPoStProofType, m.sectorSize, m.windowPoStPartitionSectors, m.consensusFaultElapsed,
    m.pendingOwnerAddress, m.beneficiary,
    [b(m.beneficiaryTerm.quota), b(m.beneficiaryTerm.usedQuota), m.beneficiaryTerm.expiration],
    m.pendingBeneficiaryTerm === null
      ? null
      : [m.pendingBeneficiaryTerm.newBeneficiary, b(m.pendingBeneficiaryTerm.newQuota), m.pendingBeneficiaryTerm.newExpiration,
          m.pendingBeneficiaryTerm.approvedByBeneficiary, m.pendingBeneficiaryTerm.approvedByNominee]
  ])
}

const bad = (what: string): never => { throw new MalformedStateError(`miner info ${what}`) }

function addr (v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) return bad(`${what} is not an address`)
  try { return validateAddressBytes(v) } catch { return bad(`${what} is not an address`) }
}

function int (v: unknown, what: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return bad(`${what} is not an integer in range`)
  return v
}

export function decodeMinerInfo (bytes: Uint8Array): MinerInfo {
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch (err) { throw new MalformedStateError(`miner info is not DAG-CBOR: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length !== 14) return bad('is not Filecoin\'s 14-field MinerInfo')
  const [owner, worker, controls, pendingWorker, peerId, multiaddrs, proof, sectorSize, partition, faultElapsed, pendingOwner, beneficiary, term, pendingTerm] = raw as unknown[]
  if (!Array.isArray(controls)) return bad('ControlAddresses is not a list')
  if (!(peerId instanceof Uint8Array)) return bad('PeerId is not bytes')
  if (!Array.isArray(multiaddrs) || !multiaddrs.every(m => m instanceof Uint8Array)) return bad('Multiaddrs is not a list of bytes')
  let pendingWorkerKey: WorkerKeyChange | null = null
  if (pendingWorker !== null) {
    if (!Array.isArray(pendingWorker) || pendingWorker.length !== 2) return bad('PendingWorkerKey is not [NewWorker, EffectiveAt]')
    pendingWorkerKey = { newWorker: addr(pendingWorker[0], 'PendingWorkerKey.NewWorker'), effectiveAt: int(pendingWorker[1], 'PendingWorkerKey.EffectiveAt') }
  }
  if (!Array.isArray(term) || term.length !== 3) return bad('BeneficiaryTerm is not [Quota, UsedQuota, Expiration]')
  let pendingBeneficiaryTerm: PendingBeneficiaryChange | null = null
  if (pendingTerm !== null) {
    if (!Array.isArray(pendingTerm) || pendingTerm.length !== 5 || typeof pendingTerm[3] !== 'boolean' || typeof pendingTerm[4] !== 'boolean') return bad('PendingBeneficiaryTerm is not a PendingBeneficiaryChange')
    pendingBeneficiaryTerm = {
      newBeneficiary: addr(pendingTerm[0], 'PendingBeneficiaryTerm.NewBeneficiary'),
      newQuota: bigIntField(pendingTerm[1], 'PendingBeneficiaryTerm.NewQuota'),
      newExpiration: int(pendingTerm[2], 'PendingBeneficiaryTerm.NewExpiration'),
      approvedByBeneficiary: pendingTerm[3],
      approvedByNominee: pendingTerm[4]
    }
  }
  return {
    owner: addr(owner, 'Owner'),
    worker: addr(worker, 'Worker'),
    controlAddresses: controls.map((c, i) => addr(c, `ControlAddresses[${i}]`)),
    pendingWorkerKey,
    peerId,
    multiaddrs: multiaddrs as Uint8Array[],
    windowPoStProofType: int(proof, 'WindowPoStProofType', 0),
    sectorSize: int(sectorSize, 'SectorSize', 0),
    windowPoStPartitionSectors: int(partition, 'WindowPoStPartitionSectors', 0),
    consensusFaultElapsed: int(faultElapsed, 'ConsensusFaultElapsed'),
    pendingOwnerAddress: pendingOwner === null ? null : addr(pendingOwner, 'PendingOwnerAddress'),
    beneficiary: addr(beneficiary, 'Beneficiary'),
    beneficiaryTerm: { quota: bigIntField(term[0], 'BeneficiaryTerm.Quota'), usedQuota: bigIntField(term[1], 'BeneficiaryTerm.UsedQuota'), expiration: int(term[2], 'BeneficiaryTerm.Expiration') },
    pendingBeneficiaryTerm
  }
}
