// F3 finality on a node: the certificate store and the service that votes, assembles, relays and serves certificates.
export { startF3Service, type F3Service, type F3ServiceInit } from './f3-service'
export { F3Store } from './f3-store'
