// A free provider's retrieval service for scripted tests: every block of the request's walk, one section each, sent
// without waiting for anything (a real UnixFS walk over the blocks given, so a ranged or resumed request gets only
// the blocks on its path).
import { serveRetrievals, type CofferLibp2p, type CarPart, type RetrievalServerSession } from '../../src/net'
import { UnixfsWalk, carHeader, carSection, type CID, type RetrievalRequest } from '../../src/core'

/** Serves `root` from `blocks` on `node`, free; `sentAll` once a stream has handed its last block to the stream. */
export async function serveFreeRetrievals (node: CofferLibp2p, root: CID, blocks: Map<string, Uint8Array>, interval: number): Promise<{ sentAll: () => boolean }> {
  let done = false
  await serveRetrievals(node, {
    accept: async (req: RetrievalRequest) => {
      const session: RetrievalServerSession = {
        terms: { pricePerGiB: 0n, paymentInterval: interval, paymentIntervalIncrease: 0 },
        car: (async function * (): AsyncIterable<CarPart> {
          const walk = new UnixfsWalk(root, req.range === undefined ? {} : { range: req.range })
          const rootBytes = blocks.get(root.toString())!
          walk.accept(root, rootBytes)
          yield { bytes: carHeader(root), charged: 0 }
          yield { bytes: carSection(root, rootBytes), charged: 0 }
          for (let cid = walk.next(); cid !== null; cid = walk.next()) {
            const bytes = blocks.get(cid.toString())!
            walk.accept(cid, bytes)
            yield { bytes: carSection(cid, bytes), charged: 0 }
          }
          done = true
        })(),
        voucher: async () => 0n,
        end: async () => {}
      }
      return session
    }
  })
  return { sentAll: () => done }
}
