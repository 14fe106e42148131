// Header sync (issue 13 part 7): a fork tree of validated tipsets keyed by TipSetKey, and a sans-I/O sync
// machine that says which headers to fetch and validate and is told what arrived, as smoldot's sync/all.rs.
// The caller sends the requests, runs the consensus checks, applies head changes and calls finalize (at a
// finality certificate, or ChainFinality below the head) so the tree stays within its bound.
export * from './errors'
export { ForkTree, tipSetKeyString, type ForkTreeInit, type TipSetKeyString, type TipSetNode, type ReorgPath } from './fork-tree'
export {
  SyncMachine, REJECTED_CACHE_SIZE,
  type SyncMachineInit, type SyncMachineOptions, type SyncRequest, type ValidationTask, type HeadChange, type PeerFault
} from './sync-machine'
