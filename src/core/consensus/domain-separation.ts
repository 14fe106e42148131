// Filecoin's randomness domain separation tags: go-state-types crypto/randomness.go (`DomainSeparationTag`,
// `1 + iota` in this order), the `pers` argument of Lotus's DrawRandomnessFromBase.
export const DomainSeparationTag = {
  TicketProduction: 1,
  ElectionProofProduction: 2,
  WinningPoStChallengeSeed: 3,
  WindowedPoStChallengeSeed: 4,
  SealRandomness: 5,
  InteractiveSealChallengeSeed: 6,
  WindowedPoStDeadlineAssignment: 7,
  MarketDealCronSeed: 8,
  PoStChainCommit: 9
} as const

export type DomainSeparationTag = typeof DomainSeparationTag[keyof typeof DomainSeparationTag]
