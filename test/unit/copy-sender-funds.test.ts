// A provider whose own node lags a block or two (issue 12: providers sync the chain themselves) may refuse a
// proposal FUNDS while the client's AddBalance is already in the client's verified head: the copy is tried
// again a few blocks later, a bounded number of times, and a client that truly lacks the funds is still told.
import { describe, it, expect } from 'vitest'
import { DealRejectedError, type ClientDealProposal, type DealProposal } from '../../src/core'
import { sendCopy, FUNDS_RETRIES, FUNDS_RETRY_BLOCKS, type TransferOptions } from '../../src/light/copy-sender'
import { CID } from 'multiformats/cid'

const PIECE = CID.parse('baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq')
const proposal: ClientDealProposal = {
  proposal: {
    pieceCid: PIECE, pieceSize: 2 ** 20, verifiedDeal: false, client: new Uint8Array([1, 1]), provider: new Uint8Array([0, 0xe9, 7]),
    label: 'root', startEpoch: 60, endEpoch: 160, storagePricePerEpoch: 1n, providerCollateral: 0n, clientCollateral: 0n
  },
  clientSignature: { type: 1, data: new Uint8Array(65) }
}
const sign = async (p: DealProposal): Promise<ClientDealProposal> => ({ proposal: p, clientSignature: { type: 1, data: new Uint8Array(65) } })
type Transfer = (p: ClientDealProposal, o: TransferOptions) => Promise<{ dealId: number, message: string, confirmed: boolean }>

async function send (transfer: Transfer, waits: number[]): Promise<unknown> {
  return await sendCopy({
    proposal, payloadBytes: 1024, transfer, sign, head: () => 10, nowMs: () => 0,
    sleep: async (ms) => { waits.push(ms) }, blockDelaySecs: 3, provingPeriod: 10, onReplan: async () => {}, onProgress: () => {}
  })
}

describe('FUNDS refusals', () => {
  it('are tried again a few block times apart until the lagging provider sees the escrow', async () => {
    let lagging = 2
    const waits: number[] = []
    const r = await send(async (_, o) => {
      if (lagging-- > 0) throw new DealRejectedError('FUNDS', 'the client\'s free escrow (0 attoFIL) does not cover this deal')
      o.onProgress(1024)
      return { dealId: 7, message: 'bafy-publish', confirmed: true }
    }, waits)
    expect(r).toEqual({ dealId: 7, message: 'bafy-publish', confirmed: true })
    expect(waits).toEqual([FUNDS_RETRY_BLOCKS * 3000, FUNDS_RETRY_BLOCKS * 3000])
  })

  it('stand after a bounded number of tries', async () => {
    let tries = 0
    const err = await send(async () => { tries++; throw new DealRejectedError('FUNDS', 'no escrow') }, []).catch((e: Error) => e)
    expect(err).toBeInstanceOf(DealRejectedError)
    expect((err as DealRejectedError).code).toBe('FUNDS')
    expect(tries).toBe(FUNDS_RETRIES + 1)
  })
})
