// A Filecoin JavaScript library, iso-filecoin, used exactly as against Lotus: it reads the devnet's head,
// prepares a transfer (nonce and gas from the node), signs it, pushes it, waits for it and reads balances.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { RPC } from 'iso-filecoin/rpc'
import { Message } from 'iso-filecoin/message'
import * as Wallet from 'iso-filecoin/wallet'
import { startDevnet } from '../../src/node/devnet'
import { parseAddress, parseFil, signedMessageCid, type Message as CoreMessage } from '../../src/core'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('iso-filecoin against the devnet JSON-RPC', () => {
  it('reads the head, signs and pushes a transfer, and sees it land', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-rpc-'))
    const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0 })
    cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
    expect(d.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rpc\/v1$/)
    const rpc = new RPC({ api: d.rpcUrl!, network: 'testnet' })

    const head = await rpc.chainHead()
    expect(head.error).toBeUndefined()
    // the devnet makes a block a second: the head may have moved on since the answer, so the answer is checked
    // against the devnet's header at the height it names (seen in CI: a block landed between the two reads)
    expect(head.result!.Cids[0]!['/']).toBe((await d.headerAt(head.result!.Height))?.cid.toString())
    expect((await rpc.networkName()).result).toBe('coffer-devnet')

    const sender = Wallet.create('SECP256K1', 'testnet')
    const recipient = Wallet.create('BLS', 'testnet')
    // Coffer.Faucet is Coffer's own method; iso-filecoin's typings only admit Filecoin.* names
    const faucet = await rpc.call<{ '/': string }>({ method: 'Coffer.Faucet' as 'Filecoin.Faucet', params: [sender.address.toString()] })
    expect(faucet.error).toBeUndefined()
    const funded = await rpc.waitMsg({ cid: faucet.result! })
    expect(funded.error).toBeUndefined()
    expect((await rpc.balance(sender.address.toString())).result).toBe(parseFil('100').toString())

    const msg = await new Message({ from: sender.address.toString(), to: recipient.address.toString(), value: parseFil('12.5').toString() }).prepare(rpc)
    expect(msg.gasLimit).toBeGreaterThan(0)
    const signature = Wallet.signMessage(sender.privateKey!, 'SECP256K1', msg)
    const pushed = await rpc.pushMessage({ msg, signature })
    expect(pushed.error).toBeUndefined()
    // the CID the node gives is the one Coffer computes for the same signed bytes
    expect(pushed.result!['/']).toBe(signedMessageCid({ message: toCore(msg), signature: { type: 1, data: signature.data } }).toString())

    const landed = await rpc.waitMsg({ cid: pushed.result! })
    expect(landed.error).toBeUndefined()
    const lookup = landed.result as unknown as { Receipt: { ExitCode: number, GasUsed: number }, Height: number, TipSet: Array<{ '/': string }> }
    expect(lookup.Receipt.ExitCode).toBe(0)
    expect(lookup.TipSet[0]!['/']).toBe((await d.headerAt(lookup.Height))!.cid.toString())
    expect((await rpc.balance(recipient.address.toString())).result).toBe(parseFil('12.5').toString())
    const actor = await rpc.call<{ Nonce: number, Balance: string }>({ method: 'Filecoin.StateGetActor', params: [sender.address.toString(), null] })
    expect(actor.result?.Nonce).toBe(1)
    expect((await rpc.nonce(sender.address.toString())).result).toBe(1)

    // Lotus's own refusals come back as JSON-RPC errors, and nothing is applied
    const replay = await rpc.pushMessage({ msg, signature })
    expect(replay.error?.message).toMatch(/nonce/i)
    const wrongNet = await rpc.call({ method: 'Filecoin.WalletBalance', params: [sender.address.toString().replace(/^t/, 'f')] })
    expect(wrongNet.error).toBeDefined()
  })
})

function toCore (m: Message): CoreMessage {
  return {
    version: 0, to: parseAddress(m.to).bytes, from: parseAddress(m.from).bytes, nonce: m.nonce, value: BigInt(m.value),
    gasLimit: m.gasLimit, gasFeeCap: BigInt(m.gasFeeCap), gasPremium: BigInt(m.gasPremium), method: m.method, params: new Uint8Array(0)
  }
}
