// Headers below a tipset the tab already trusts (finalized by certificate, or the lowest it holds), fetched by chain
// exchange and checked by hash link alone: the first tipset's blocks must be the trusted key's, and each tipset
// below must be the one its child names as Parents. No consensus check is needed — a finalized tipset's ancestors
// are finalized with it — so a run of 900 is some milliseconds of blake2b, not 900 block validations (issue 14).
import {
  makeTipSet, tipSetKeyString, MAX_EXCHANGE_LENGTH, ExchangeStatus, MalformedMessageError,
  type CID, type TipSet, type Epoch, type ExchangeResponse
} from '../core'

/** A node answered with headers that are not the chain below the tipset asked for. */
export class UnlinkedRunError extends Error {
  static override name = 'UnlinkedRunError'
  override name = 'UnlinkedRunError'
  constructor (readonly height: Epoch, why: string) { super(`headers below height ${height} do not link: ${why}`) }
}

export interface LinkedRunInit {
  fetchChain: (peer: string, key: CID[], length: number) => Promise<ExchangeResponse>
  peers: () => string[]
  onRejection: (peer: string, err: Error) => void
  onNetworkError: (peer: string, err: Error) => void
}

/**
 * The tipset `key` at `height` and the `below` tipsets under it (fewer at genesis), ascending, each the parent
 * of the next. Asks each node in turn; throws when none served a linked run.
 */
export async function fetchLinkedRun (init: LinkedRunInit, key: CID[], height: Epoch, below: number): Promise<TipSet[]> {
  let lastErr: Error = new Error('no node to ask for headers')
  for (const peer of init.peers()) {
    try {
      return await runFrom(init, peer, key, height, below)
    } catch (err) {
      lastErr = err as Error
      if (err instanceof UnlinkedRunError || err instanceof MalformedMessageError) init.onRejection(peer, err)
      else init.onNetworkError(peer, err as Error)
    }
  }
  throw lastErr
}

async function runFrom (init: LinkedRunInit, peer: string, key: CID[], height: Epoch, below: number): Promise<TipSet[]> {
  const out: TipSet[] = [] // descending while fetched
  let want = key
  let wantHeight = height
  while (out.length < below + 1) {
    const length = Math.min(MAX_EXCHANGE_LENGTH, below + 1 - out.length)
    const resp = await init.fetchChain(peer, want, length)
    if ((resp.status !== ExchangeStatus.Ok && resp.status !== ExchangeStatus.Partial) || resp.chain.length === 0) {
      throw new Error(`node has no headers below height ${wantHeight} (status ${resp.status}: ${resp.errorMessage})`)
    }
    for (const blocks of resp.chain) {
      const ts = makeTipSet(blocks)
      if (tipSetKeyString(ts.key) !== tipSetKeyString(want)) throw new UnlinkedRunError(wantHeight, `a tipset at ${ts.height} is not the one its child names`)
      if (out.length === 0 && ts.height !== height) throw new UnlinkedRunError(height, `the finalized tipset came at height ${ts.height}`)
      if (out.length > 0 && ts.height >= out[out.length - 1]!.height) throw new UnlinkedRunError(ts.height, 'heights do not fall')
      out.push(ts)
      if (ts.height === 0 || out.length === below + 1) return out.reverse()
      want = ts.blocks[0]!.header.parents
      wantHeight = ts.height
    }
  }
  return out.reverse()
}
