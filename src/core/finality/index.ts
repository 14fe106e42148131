// F3 finality certificates in go-f3's formats and rules: the power table and its deltas, the ECChain,
// the certificate and its signing payload, BDN aggregation, and validating a chain of certificates.
export * from './finality-errors'
export * from './power-table'
export * from './ec-chain'
export * from './certificate'
export * from './bdn'
export * from './validate-certificates'
export { blake2xs } from './blake2xs'
export { merkleRoot } from './merkle'
export * from './make-certificate'
