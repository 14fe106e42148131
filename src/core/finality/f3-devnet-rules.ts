// How Coffer's providers agree on what to certify: a deliberately simpler rule than go-f3's GPBFT, with
// the same certificate at the end and the same safety argument for it.
//
// Instance i starts from the tipset instance i−1 finalized (genesis for instance 0) and finalizes the
// heaviest chain's last tipset at or below the next multiple of `instanceEpochs`, once the participant's
// head is `finalityDepth` epochs past that multiple (so Expected Consensus forks have settled). Every
// participant computes that value from its own chain and signs it, at most once per instance, recording
// the signature durably before anyone sees it; whoever holds signatures of one value from a strong
// quorum (≥ 2/3 of scaled power) assembles the certificate. Safety: two certificates of one instance
// need two strong quorums, which share more than 1/3 of the power; an honest participant signs one value
// per instance, so two different values finalized at one instance need more than 1/3 of the power to
// sign twice — the bound GPBFT gives. What is simpler is liveness: GPBFT's rounds let participants that
// saw different chains converge; here an instance whose participants saw different tipsets at depth
// `finalityDepth` waits until one value reaches a quorum (participants that have not signed yet can still
// make it) and otherwise stalls, which is why the depth is well past the forks seen on the devnet.
// The ECChain lists the base and the finalized tipset only: its ancestors are finalized with it by hash
// link, and listing them would cost every light client their bytes (the format and rules allow it: go-f3
// asks only that epochs increase).
import type { CID } from '../cid'
import type { TipSet } from '../tipset'
import type { Epoch } from '../units'
import { tipSetKeyBytes, type F3TipSet } from './ec-chain'

export interface F3Params {
  /** Instances finalize up to multiples of this many epochs. */
  readonly instanceEpochs: Epoch
  /** A participant signs once its head is this many epochs past the instance's target. */
  readonly finalityDepth: Epoch
}

/**
 * The devnet's default: an instance per 100 epochs, signed 10 epochs later (Filecoin's F3 proposes up to its head
 * less 4 epochs; Coffer's 1–2 s rounds fork more often than mainnet's 30 s ones). The interval is what a new tab
 * pays: each certificate costs it ~430 bytes and a hash-to-curve and a Miller loop (~4 ms in mcl-wasm), so a chain of
 * 100,000 epochs is 1,000 certificates, ~420 KiB and ~4 s, where an instance per 20 epochs was 5,000, 2.1 MB and
 * ~20 s (`BENCH_ONLY=f3 npm run bench`); finality trails the head by 10–110 epochs (20 s – 4 min at 2 s an epoch).
 */
export const DEFAULT_F3_PARAMS: F3Params = { instanceEpochs: 100, finalityDepth: 10 }

export function validF3Params (p: unknown): p is F3Params {
  const { instanceEpochs, finalityDepth } = (p ?? {}) as Partial<F3Params>
  return typeof p === 'object' && p !== null && Number.isSafeInteger(instanceEpochs) && (instanceEpochs as number) > 0 &&
    Number.isSafeInteger(finalityDepth) && (finalityDepth as number) >= 0
}

/** The epoch the instance after one that finalized `baseEpoch` finalizes up to (a null round there: the tipset below). */
export function f3TargetEpoch (baseEpoch: Epoch, params: F3Params): Epoch {
  return (Math.floor(baseEpoch / params.instanceEpochs) + 1) * params.instanceEpochs
}

/** F3's view of one of Coffer's tipsets: its height, its blocks' CIDs in tipset order, the power table read from its state. */
export function f3TipSetOf (ts: Pick<TipSet, 'key' | 'height'>, powerTable: CID): F3TipSet {
  return { epoch: ts.height, key: tipSetKeyBytes(ts.key), powerTable, commitments: new Uint8Array(32) }
}
