// Filecoin pieces: FR32 padding, the sha2-256-trunc254 tree (CommP) computed as a stream, piece CIDs v1/v2.
export * from './fr32'
export * from './node-hash'
export * from './zero-comm'
export * from './piece-hasher'
export * from './piece-cid'
export * from './segments'
