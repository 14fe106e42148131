// Why a proof of possession is refused; the code says which part was wrong.
export type PossessionProofCode = 'MALFORMED' | 'WRONG_CHALLENGE' | 'BAD_PATH' | 'EMPTY_SET'

export class PossessionProofError extends Error {
  static override name = 'PossessionProofError'
  override name = 'PossessionProofError'
  constructor (readonly code: PossessionProofCode, message: string) { super(message) }
}
