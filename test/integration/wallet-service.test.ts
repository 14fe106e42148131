// The worker's wallet service in Node against a devnet: balances verified by proof, a send signed by the
// keystore and gossiped, its receipt verified against two headers, and refusals that send nothing.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevnet } from '../../src/node/devnet'
import { startLightClient, openWalletStore, createWalletService, parseLotusExport, SEND_GAS_LIMIT, SEND_GAS_FEE_CAP, SEND_GAS_PREMIUM, type WalletView } from '../../src/light'
import { parseAddress, parseFil, signMessage, type Message } from '../../src/core'
import { until } from '../helpers/until'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

describe('wallet service', () => {
  it('sends from a verified balance and follows the message to its verified receipt', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-wallet-'))
    const d = await startDevnet({ dataDir: dir, distDir: '/nonexistent', serveApp: false, rpcPort: 0 })
    cleanups.push(async () => { await d.stop(); await rm(dir, { recursive: true, force: true }) })
    const lc = await startLightClient({ bootstrap: d.bootstrap(), bootstrapSource: 'network', onStatus: () => {} })
    cleanups.push(lc.stop)
    const keystore = await openWalletStore({ dbName: `wallet-${Math.random()}`, iterations: 1000 })
    let view: WalletView | null = null
    const wallet = await createWalletService({ client: lc, keystore, rpcUrl: d.bootstrap().rpc, onChange: (v) => { view = v } })

    const alice = await wallet.call({ method: 'create', passphrase: 'pass phrase' }) as string
    const bob = await wallet.call({ method: 'create', passphrase: 'pass phrase' }) as string
    await wallet.call({ method: 'lock' })
    await expect(wallet.call({ method: 'send', from: alice, to: bob, amount: '1' })).rejects.toMatchObject({ name: 'WalletLockedError' })
    await expect(wallet.call({ method: 'unlock', passphrase: 'wrong' })).rejects.toMatchObject({ name: 'WrongPassphraseError' })
    await wallet.call({ method: 'unlock', passphrase: 'pass phrase' })
    // nothing to spend yet: refused before anything is signed or sent
    await expect(wallet.call({ method: 'send', from: alice, to: bob, amount: '1' })).rejects.toMatchObject({ name: 'InsufficientFundsError' })

    await wallet.call({ method: 'faucet', address: alice })
    await expect(wallet.call({ method: 'faucet', address: alice })).rejects.toMatchObject({ name: 'FaucetUnavailableError', message: expect.stringMatching(/FaucetLimitError|try again/) })
    const funded = await until(() => view?.balances.find(b => b.address === alice && b.verified && b.attoFil === parseFil('100').toString()))
    expect(funded.verified && funded.proofBytes).toBeGreaterThan(0)

    await expect(wallet.call({ method: 'send', from: alice, to: 'f1abc', amount: '1' })).rejects.toMatchObject({ name: 'InvalidAddressError' })
    await expect(wallet.call({ method: 'send', from: alice, to: bob, amount: '1.0000000000000000001' })).rejects.toMatchObject({ name: 'InvalidAmountError' })
    const cid = await wallet.call({ method: 'send', from: alice, to: bob, amount: '3.25' }) as string
    const second = await wallet.call({ method: 'send', from: alice, to: bob, amount: '0.75' }) as string // next nonce, before the first lands
    const done = await until(() => {
      const h = view?.history ?? []
      return h.filter(e => e.kind === 'send' && e.state === 'included').length === 2 ? h : undefined
    })
    const first = done.find(e => e.cid === cid)!
    expect(first).toMatchObject({ nonce: 0, exitCode: 0, state: 'included' })
    expect(first.executedHeight).toBe(first.includedHeight! + 1)
    expect(done.find(e => e.cid === second)).toMatchObject({ nonce: 1, exitCode: 0 })
    await until(() => view?.balances.find(b => b.address === bob && b.verified && b.attoFil === parseFil('4').toString()))
    expect((await d.chain.getActor(parseAddress(bob).bytes))?.balance).toBe(parseFil('4'))

    // the same key used elsewhere takes the nonce first: the tab's message is refused by the pool, shown as
    // dropped once the verified nonce passes it, and the next send does not wait behind it
    const { secret } = parseLotusExport(await wallet.call({ method: 'export', address: alice, passphrase: 'pass phrase' }) as string)
    const elsewhere = signMessage(secret, { version: 0, to: parseAddress(bob).bytes, from: parseAddress(alice).bytes, nonce: 2, value: 1n, gasLimit: SEND_GAS_LIMIT, gasFeeCap: SEND_GAS_FEE_CAP, gasPremium: SEND_GAS_PREMIUM, method: 0, params: new Uint8Array(0) } satisfies Message)
    await d.chain.mpoolPush(elsewhere)
    const lost = await wallet.call({ method: 'send', from: alice, to: bob, amount: '1' }) as string
    await until(() => view?.history.find(e => e.cid === lost && e.state === 'dropped'))
    const after = await wallet.call({ method: 'send', from: alice, to: bob, amount: '1' }) as string
    expect((await until(() => view?.history.find(e => e.cid === after && e.state === 'included'))).nonce).toBe(3)
    // two sends at once take consecutive nonces, and both land
    const both = await Promise.all([1, 2].map(async () => await wallet.call({ method: 'send', from: alice, to: bob, amount: '0.1' }) as string))
    const landed = await until(() => {
      const found = both.map(cid => view?.history.find(e => e.cid === cid && e.state === 'included'))
      return found.every(e => e !== undefined) ? found : undefined
    })
    expect(landed.map(e => e!.nonce).sort()).toEqual([4, 5])

    // a BLS key's sends travel unsigned in the block's BlsMessages, under the header's BLSAggregate
    const carol = await wallet.call({ method: 'create', passphrase: 'pass phrase', keyType: 'bls' }) as string
    expect(carol).toMatch(/^t3/)
    await wallet.call({ method: 'faucet', address: carol })
    await until(() => view?.balances.find(b => b.address === carol && b.verified && b.attoFil === parseFil('100').toString()))
    const fromBls = await wallet.call({ method: 'send', from: carol, to: bob, amount: '2' }) as string
    const blsDone = await until(() => view?.history.find(e => e.cid === fromBls && e.state === 'included'))
    const including = (await d.headerAt(blsDone.includedHeight!))!
    expect(including.header.blsAggregate?.type).toBe(2)

    // a reloaded tab remembers what it sent, with the receipts it verified
    let reopened: WalletView | null = null
    const again = await createWalletService({ client: lc, keystore, rpcUrl: d.bootstrap().rpc, onChange: (v) => { reopened = v } })
    expect(again.view().history.map(e => [e.cid, e.state])).toEqual(view!.history.map(e => [e.cid, e.state]))
    await until(() => reopened?.balances.some(b => b.address === bob && b.verified))
  })
})
