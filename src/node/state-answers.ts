// Answers /coffer/state/1.0.0 requests from a NodeChain: each answer is the blocks a light client needs to
// re-run the same reader over a store that holds only blocks by their hash (recordReads/proveState). Kept
// out of devnet.ts so every node that holds a chain (devnet, full node, provider) serves the same answers.
import { readDeal, readEscrow, getMinerInfo, readChannel, listMiners, readPower, readF3PowerTable, readEcBlockState, type StateRequest, type StateResponse } from '../core'
import type { NodeChain } from './chain'

export async function answerState (chain: NodeChain, req: StateRequest): Promise<StateResponse> {
  if (req.kind === 'lookup' && req.tipset === true) {
    const found = await chain.tipSetInclusion(req.message)
    if (found === null) return { ok: false, error: 'message not executed yet', blocks: [] }
    return { ok: true, includedTipSet: found.included.key, included: found.included.key[0], executed: found.executed.cid, index: found.index, blocks: found.blocks }
  }
  if (req.kind === 'lookup') {
    const found = await chain.inclusion(req.message)
    if (found === null) return { ok: false, error: 'message not executed yet', blocks: [] }
    if (found.proof === null) return { ok: false, error: 'the message is in a tipset of several blocks, which no inclusion proof covers yet', blocks: [] }
    return { ok: true, included: found.included.cid, executed: found.executed.cid, index: found.proof.index, blocks: found.proof.blocks }
  }
  if (req.kind === 'ecBlock') {
    // from the roots alone, on any fork: a light client checks a fork's blocks before it knows which chain wins
    const { roots, miner } = req
    if (![roots.lookback, roots.lookbackParent, roots.parent, roots.own].every(r => chain.holdsBlock(r))) return { ok: false, error: 'unknown state root', blocks: [] }
    return { ok: true, blocks: chain.proveReads(g => readEcBlockState(g, roots, miner)) }
  }
  const header = await chain.headerByCid(req.kind === 'messages' ? req.block : req.at)
  if (header === undefined) return { ok: false, error: 'unknown header', blocks: [] }
  switch (req.kind) {
    case 'actor': return { ok: true, blocks: (await chain.stateProof(req.address, header)).proof.blocks }
    case 'messages': return { ok: true, blocks: chain.blockMessagesProof(header, req.full) }
    case 'deal': return { ok: true, blocks: chain.proveState((g, r) => readDeal(g, r, req.dealId), header) }
    case 'escrow': return { ok: true, blocks: chain.proveState((g, r) => readEscrow(g, r, req.address), header) }
    case 'miner': return { ok: true, blocks: chain.proveState((g, r) => getMinerInfo(g, r, req.address), header) }
    case 'channel': return { ok: true, blocks: chain.proveState((g, r) => readChannel(g, r, req.address), header) }
    case 'miners': return { ok: true, blocks: chain.proveState((g, r) => listMiners(g, r), header) }
    case 'power': return { ok: true, blocks: chain.proveState((g, r) => readPower(g, r, req.address), header) }
    case 'f3PowerTable': return { ok: true, blocks: chain.proveState((g, r) => readF3PowerTable(g, r, header.header.height), header) }
  }
}
