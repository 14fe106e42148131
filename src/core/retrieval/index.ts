// Retrieval's sans-I/O core: the UnixFS walk both sides drive (the provider to choose what to send, the
// client to check what arrives), the incremental CAR v1 parser and writer, and the streaming verifier.
//
//   provider: walk = new UnixfsWalk(root, { range }); send carHeader(root); while ((cid = walk.next())) {
//             bytes = blockFromIndex(cid); send carSectionHead(cid, bytes.length), bytes; walk.accept(cid, bytes) }
//   client:   v = new CarVerifier(root, { range, hash }); for each chunk: for (b of v.push(chunk)) write(b.slice);
//             v.end()
export * from './errors'
export * from './unixfs-walk'
export * from './car-stream'
export * from './car-verifier'
export * from './retrieval-wire'
export * from './payment-interval'
export * from './channel-ledger'
