// The node's Lotus-compatible JSON-RPC API: `startRpcServer` serves an RpcBackend at /rpc/v1 and /rpc/v0
// (HTTP and WebSocket); lotus-json converts core objects to and from the JSON Lotus speaks.
export { startRpcServer } from './rpc-server'
export { RpcErrorCode } from './rpc-dispatcher'
export { MAX_BODY_BYTES, MAX_BATCH } from './rpc-limits'
export { FULL_API_VERSION_V1, FULL_API_VERSION_V0 } from './rpc-methods'
export type { RpcServer, RpcServerInit } from './rpc-server'
export type { RpcBackend, MsgLookup, StateProofResult } from './backend'
export { estimateMessageGas, GAS_LIMIT_OVERESTIMATION, MIN_GAS_PREMIUM, DEFAULT_MAX_FEE } from './gas-estimate'
export * from './lotus-json'
export * from './errors'
