// Expected Consensus sortition: how many blocks a miner's election VRF wins, as Lotus's
// ElectionProof.ComputeWinCount (chain/types/electionproof.go) computes it, bit for bit in Q.256 fixed point.
import { blake2b256 } from '../cid'
import type { StoragePower } from '../power'
import { BLOCKS_PER_EPOCH, MAX_WIN_COUNT } from './params'

const PRECISION = 256n
const ONE = 1n << PRECISION

// Lotus's e^-x rational approximation, integer parameters that are coefficients * 2^128 (electionproof.go
// init(), highest order first), moved from Q.128 to Q.256 as Lotus does (<< 256 - 128).
const q256 = (coef: string): bigint => BigInt(coef) << (PRECISION - 128n)
const EXP_NUM = [
  '-648770010757830093818553637600',
  '67469480939593786226847644286976',
  '-3197587544499098424029388939001856',
  '89244641121992890118377641805348864',
  '-1579656163641440567800982336819953664',
  '17685496037279256458459817590917169152',
  '-115682590513835356866803355398940131328',
  '340282366920938463463374607431768211456'
].map(q256)
const EXP_DENO = [
  '1225524182432722209606361',
  '114095592300906098243859450',
  '5665570424063336070530214243',
  '194450132448609991765137938448',
  '5068267641632683791026134915072',
  '104716890604972796896895427629056',
  '1748338658439454459487681798864896',
  '23704654329841312470660182937960448',
  '259380097567996910282699886670381056',
  '2250336698853390384720606936038375424',
  '14978272436876548034486263159246028800',
  '72144088983913131323343765784380833792',
  '224599776407103106596571252037123047424',
  '340282366920938463463374607431768211456'
].map(q256)

/**
 * Go's big.Int Div, which is Euclidean (the remainder is never negative): JavaScript's `/` truncates toward
 * zero and differs for a negative dividend, which the numerator polynomial can be.
 */
export function euclidDiv (x: bigint, y: bigint): bigint {
  const q = x / y
  const r = x - q * y
  if (r >= 0n) return q
  return y > 0n ? q - 1n : q + 1n
}

// Horner's method in Q.256; `>>` on a negative bigint floors, as Go's big.Int Rsh does.
function polyval (p: bigint[], x: bigint): bigint {
  let res = p[0]!
  for (let i = 1; i < p.length; i++) res = ((res * x) >> PRECISION) + p[i]!
  return res
}

/** e^-x for x in Q.256, in Q.256 (Lotus expneg: error < 3.4e-30 on [0, 1.725), < 4.6e-15 on [0, 5)). */
export function expNeg (x: bigint): bigint {
  return euclidDiv(polyval(EXP_NUM, x) << PRECISION, polyval(EXP_DENO, x))
}

/** λ = power · BlocksPerEpoch / totalPower in Q.256 (Lotus lambda). */
export function electionLambda (power: StoragePower, totalPower: StoragePower): bigint {
  return euclidDiv((power * BigInt(BLOCKS_PER_EPOCH)) << PRECISION, totalPower)
}

/**
 * Lotus's newPoiss: `icdf` starts at 1 - P(X ≤ 0) for X ~ Poisson(λ); each `next()` moves to the next k
 * and returns 1 - P(X ≤ k), all in Q.256, with Lotus's exact rounding (pmf divided by k before × λ).
 */
export function poissonTail (lambda: bigint): { icdf: bigint, next: () => bigint } {
  let pmf = expNeg(lambda)
  let k = 0n
  const state = {
    icdf: ONE - pmf,
    next: (): bigint => {
      k++
      pmf = (euclidDiv(pmf, k) * lambda) >> PRECISION
      state.icdf -= pmf
      return state.icdf
    }
  }
  return state
}

/**
 * Number of blocks won by an election VRF (the worker's BLS signature over the election base), given the
 * miner's and the network's quality-adjusted power at the lookback: Algorand-style sortition with a
 * Poisson(λ) distribution. The VRF's blake2b-256 digest read big-endian is a Q.256 number h in [0, 1);
 * the count is the number of k with h < 1 - P(X ≤ k - 1), capped at MAX_WIN_COUNT.
 */
export function computeWinCount (vrfProof: Uint8Array, minerPower: StoragePower, totalPower: StoragePower): number {
  // Lotus panics dividing by a zero total; a negative power has no meaning. Both are caller errors here.
  if (totalPower <= 0n) throw new RangeError(`total power must be positive, got ${totalPower}`)
  if (minerPower < 0n) throw new RangeError(`miner power must not be negative, got ${minerPower}`)
  let lhs = 0n
  for (const b of blake2b256(vrfProof)) lhs = (lhs << 8n) | BigInt(b)
  const p = poissonTail(electionLambda(minerPower, totalPower))
  let rhs = p.icdf
  let j = 0
  while (lhs < rhs && j < MAX_WIN_COUNT) {
    rhs = p.next()
    j++
  }
  return j
}
