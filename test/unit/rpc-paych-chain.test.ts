// The CLI's chain for payment channels (retrieve-cli.ts): messages for channels to different providers are sent side
// by side (paych-client.ts queues per provider), so the pushes themselves must not take one nonce twice — the node's
// MpoolGetNonce counts only what the pool already took.
import { describe, it, expect } from 'vitest'
import { secpPublicKey, secpAddressBytes, idAddressBytes, METHOD_SEND } from '../../src/core'
import { rpcPaychChain, type Rpc } from '../../src/node/retrieve-cli'

describe('rpcPaychChain', () => {
  it('two sends at once push nonces 0 and 1, and neither waits for the other\'s execution', async () => {
    const secret = new Uint8Array(32).fill(7)
    const address = secpAddressBytes(secpPublicKey(secret))
    const pushed: number[] = []
    const executed = new Map<string, () => void>()
    const tick = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 5)) }
    const rpc = (async (method: string, params: unknown[]): Promise<unknown> => {
      await tick() // a round trip: two unordered sends would both ask before either pushed
      if (method === 'Filecoin.MpoolGetNonce') return pushed.length
      if (method === 'Filecoin.MpoolPush') {
        const nonce = (params[0] as { Message: { Nonce: number } }).Message.Nonce
        pushed.push(nonce)
        return { '/': `bafy-message-${nonce}` }
      }
      if (method === 'Filecoin.StateWaitMsg') {
        const cid = (params[0] as { '/': string })['/']
        await new Promise<void>(resolve => executed.set(cid, resolve))
        return { Receipt: { ExitCode: 0, Return: null } }
      }
      throw new Error(`unexpected ${method}`)
    }) as Rpc
    const chain = rpcPaychChain(rpc, { secret, address })
    const send = (to: number): ReturnType<typeof chain.send> => chain.send({ to: idAddressBytes(to), method: METHOD_SEND, params: new Uint8Array(0), value: 1n })
    const [a, b] = [send(1001), send(1002)]
    while (pushed.length < 2) await tick()
    expect(pushed.sort()).toEqual([0, 1])
    while (executed.size < 2) await tick() // both waiting at once: the second push did not wait for the first to execute
    for (const done of executed.values()) done()
    expect((await Promise.all([a, b])).map(r => r.exitCode)).toEqual([0, 0])
  })
})
