// Named failures of F3 finality certificates (go-f3's certs.ValidateFinalityCertificates refuses each
// with a message; Coffer gives each a code). Callers branch on `.name` or `.code`, never on the text.

export type CertificateErrorCode =
  | 'MALFORMED' // the bytes are not a FinalityCertificate (or a power table) in go-f3's CBOR layout
  | 'OVERSIZED' // more bytes, tipsets, signers or entries than go-f3's limits allow
  | 'WRONG_INSTANCE' // not the instance that follows the last one accepted (repeated or skipped)
  | 'BAD_CHAIN' // the ECChain breaks go-f3's rules (empty key, epochs not increasing, too long)
  | 'EMPTY_CHAIN' // a certificate for "bottom": nothing finalized
  | 'UNLINKED' // the chain does not start at the tipset the previous certificate finalized
  | 'BAD_SIGNER' // a signer index outside the power table, or one without scaled power
  | 'INSUFFICIENT_POWER' // the signers hold less than 2/3 of the table's scaled power
  | 'BAD_SIGNATURE' // the aggregate signature does not verify for these signers and this payload
  | 'BAD_POWER_DELTA' // the power-table delta cannot be applied (unsorted, empty, negative, new key without power…)
  | 'POWER_TABLE_MISMATCH' // the table after the delta is not the one the certificate's supplemental data names

/** A finality certificate (or its power table) broke go-f3's rules; `instance` is the certificate's. */
export class CertificateError extends Error {
  static override name = 'CertificateError'
  override name = 'CertificateError'
  constructor (readonly code: CertificateErrorCode, readonly instance: number | undefined, readonly reason: string) {
    super(`finality certificate${instance === undefined ? '' : ` for instance ${instance}`}: ${reason}`)
  }
}
