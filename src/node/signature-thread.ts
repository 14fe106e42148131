// The body of the node's signature thread (signature-verifier.ts): decodes each SignedMessage it is sent
// and answers whether its signature verifies, in arrival order.
import { parentPort } from 'node:worker_threads'
import { decodeSignedMessage, verifyMessageSignature } from '../core'
import type { ThreadRequest, ThreadReply } from './signature-verifier'

const port = parentPort!
port.on('message', (req: ThreadRequest) => {
  let ok = false
  try {
    verifyMessageSignature(decodeSignedMessage(req.bytes))
    ok = true
  } catch {}
  port.postMessage({ id: req.id, ok } satisfies ThreadReply)
})
