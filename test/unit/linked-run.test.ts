// Headers below a trusted tipset, checked by hash link alone (issue 14): a node that answers with a tipset that is
// not the one its child names is refused by name and the next node asked; runs longer than one exchange answer
// (900) are fetched in parts; a run stops at genesis.
import { describe, it, expect } from 'vitest'
import { createGenesis, produceHeader, idAddressBytes, blsPublicKey, ExchangeStatus, type Genesis, type SealedHeader, type CID, type ExchangeResponse } from '../../src/core'
import { fetchLinkedRun } from '../../src/light/linked-run'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const key = new Uint8Array(32).fill(7)
const genesis: Genesis = createGenesis({ beacon: TEST_BEACON, network: 'linked-run-test', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
const chain: SealedHeader[] = [genesis.header]
for (let i = 0; i < 30; i++) chain.push(produceHeader(chain[chain.length - 1]!, genesis, key, chain[chain.length - 1]!.header.timestamp + 1, testBeaconEntries(chain[chain.length - 1]!, genesis)))
const other = produceHeader(chain[10]!, genesis, key, chain[10]!.header.timestamp + 2, testBeaconEntries(chain[10]!, genesis)) // a fork's block at 11

/** A node serving `chain` (down from the CID asked for), or lying at height 11 when `lie`. */
const node = (lie: boolean) => async (_peer: string, want: CID[], length: number): Promise<ExchangeResponse> => {
  const at = chain.findIndex(h => h.cid.equals(want[0]!))
  const out: SealedHeader[][] = []
  for (let i = at; i >= 0 && out.length < length; i--) out.push([lie && i === 11 ? other : chain[i]!])
  return { status: ExchangeStatus.Ok, errorMessage: '', chain: out }
}

describe('fetchLinkedRun', () => {
  it('refuses a run that does not link, asks the next node, and returns the run ascending', async () => {
    const refused: string[] = []
    const peers = ['liar', 'honest']
    const run = await fetchLinkedRun({
      peers: () => peers,
      fetchChain: async (peer, want, length) => await node(peer === 'liar')(peer, want, length),
      onRejection: (peer, err) => { refused.push(`${peer}:${err.name}`) },
      onNetworkError: () => {}
    }, [chain[25]!.cid], 25, 20)
    expect(refused).toEqual(['liar:UnlinkedRunError'])
    expect(run.map(t => t.height)).toEqual(Array.from({ length: 21 }, (_, i) => 5 + i))
  })

  it('stops at genesis', async () => {
    const run = await fetchLinkedRun({ peers: () => ['a'], fetchChain: node(false), onRejection: () => {}, onNetworkError: () => {} }, [chain[8]!.cid], 8, 900)
    expect(run.map(t => t.height)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
  })
})
