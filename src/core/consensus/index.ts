// Expected Consensus (issue 13): Filecoin's leader election by storage power, as Lotus implements it. Pure
// rules only: the election VRF and its Poisson win count, tickets chained from the parent's min ticket, the
// lookback that says which state power is read from, chain weight and its tie-break, each check a named error.
export * from './params'
export * from './domain-separation'
export * from './consensus-errors'
export { computeWinCount } from './win-count'
export * from './election'
export * from './ticket'
export * from './weight'
export * from './lookback'
export type { Consensus, WeighedTipSet } from './consensus'
export { isHeavierTipSet, tipSetTickets } from './consensus'
export * from './single-producer'
export {
  EcBlockError, MalformedEcBlockError, ParentTipSetError, NotAboveParentError, OffScheduleTimestampError, FutureBlockError,
  UnknownMinerError, IneligibleMinerError, ParentWeightError, BlockSignatureError, BlockBeaconError,
  type EcBlockRejectCode, type IneligibleReason
} from './ec-errors'
export * from './ec-validate'
export * from './ec-mine'
export * from './ec-miner-view'
