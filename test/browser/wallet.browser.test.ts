// The wallet in real Chromium: keys created and kept encrypted in the worker, devnet FIL from the faucet,
// a transfer signed in the tab and gossiped, and both balances shown only once their state proofs check.
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import type { Page } from 'playwright-core'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { secpAddressBytes, secpPublicKey, addressToString, parseAddress, parseFil } from '../../src/core'
import { chromiumPath } from '../helpers/chromium'
import { openAppPage } from '../helpers/app-page'
import { accountFromLotus } from 'iso-filecoin/wallet'
import { requireBuiltApp } from '../helpers/dist'

let distDir: string
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {}) })

beforeAll(() => {
  chromiumPath()
  distDir = requireBuiltApp()
})

const PASS = 'correct horse battery'

async function balanceOf (page: Page, address: string, atto: bigint): Promise<void> {
  await page.waitForSelector(`[data-testid=balance][data-address="${address}"][data-atto="${atto}"][data-verified=true]`, { timeout: 30_000 })
}

describe('wallet in Chromium', () => {
  it('faucet → send → the recipient balance is verified in the UI', async () => {
    const { devnet: d, page, errors } = await openAppPage(distDir, cleanups, { rpcPort: 0 }, '#wallet')

    await page.fill('[data-testid=new-passphrase]', PASS)
    await page.fill('[data-testid=new-passphrase2]', PASS)
    await page.click('[data-testid=create-wallet]')
    const address = (await page.textContent('[data-testid=wallet-address]', { timeout: 30_000 }))!
    expect(address).toMatch(/^t1[a-z2-7]{39}$/)
    await balanceOf(page, address, 0n)
    // the key never reaches the page or its storage in the clear
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => { const r = indexedDB.open('coffer-wallet'); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
      const all = await new Promise<unknown[]>((resolve, reject) => { const r = db.transaction('keys').objectStore('keys').getAll(); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
      db.close()
      return all.length
    })
    expect(stored).toBe(1)

    await page.click('[data-testid=faucet]')
    await balanceOf(page, address, parseFil('100'))

    const recipient = addressToString(secpAddressBytes(secpPublicKey(secp256k1.utils.randomSecretKey())), 't')
    await page.fill('[data-testid=send-to]', recipient)
    await page.fill('[data-testid=send-amount]', '2.5')
    await page.click('[data-testid=send]')
    await page.waitForSelector('[data-testid=history-row][data-state=pending]', { timeout: 10_000 }).catch(() => {})
    await page.waitForSelector('[data-testid=history-row][data-state=included][data-kind=send]', { timeout: 30_000 })
    await balanceOf(page, recipient, parseFil('2.5'))
    const recipientBytes = parseAddress(recipient).bytes
    expect((await d.chain.getActor(recipientBytes))?.balance).toBe(parseFil('2.5')) // the node agrees

    // the chain view counts the including block's messages and decodes it
    const sent = page.locator('[data-testid=history-row][data-state=included][data-kind=send]')
    const includedHeight = await sent.getAttribute('data-included-height')
    const cid = (await sent.getAttribute('data-cid'))!
    await page.click('[data-testid=tab-chain]')
    const row = page.locator(`[data-testid=header-row][data-height="${includedHeight}"]`)
    await expect.poll(async () => await row.locator('[data-testid=message-count]').textContent(), { timeout: 15_000 }).toBe('1')
    await row.click()
    await page.waitForSelector(`[data-testid=detail-message]:has-text("${cid.slice(0, 14)}")`, { timeout: 15_000 })
    expect(await page.textContent('[data-testid=header-detail] [data-field=Miner]')).toBe('t01000')
    expect(await page.textContent('[data-testid=header-detail] [data-field=Height]')).toBe(includedHeight)
    // the devnet's beacon starts with the chain, one round an epoch: the block at height h carries round h
    expect(await page.textContent('[data-testid=header-detail] [data-field=BeaconEntries]')).toMatch(new RegExp(`^round ${includedHeight} [0-9a-f]{12}…[0-9a-f]{8}$`))

    // locked: no sending; a wrong passphrase is refused and the wallet stays intact
    await page.click('[data-testid=tab-wallet]')
    await page.click('[data-testid=lock]')
    await page.fill('[data-testid=unlock-passphrase]', 'wrong passphrase')
    await page.click('[data-testid=unlock]')
    await expect.poll(async () => await page.textContent('[data-testid=wallet-error]'), { timeout: 15_000 }).toMatch(/WrongPassphraseError/)
    await page.fill('[data-testid=unlock-passphrase]', PASS)
    await page.click('[data-testid=unlock]')
    await page.waitForSelector('[data-testid=lock]', { timeout: 15_000 })
    expect(await page.textContent('[data-testid=wallet-address]')).toBe(address)

    // export asks for the passphrase in a password field and gives Lotus's format, which iso-filecoin reads back
    await page.click('text=Export')
    expect(await page.getAttribute('[data-testid=ask-passphrase-input]', 'type')).toBe('password')
    await page.fill('[data-testid=ask-passphrase-input]', PASS)
    await page.click('[data-testid=ask-passphrase-ok]')
    const hex = await page.locator('textarea[readonly]').inputValue({ timeout: 15_000 })
    expect(accountFromLotus(hex, 'testnet').address.toString()).toBe(address)

    // another web page cannot use the node's RPC (and so its faucet) through the browser
    const foreign = await fetch(d.rpcUrl!, { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.example' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Coffer.Faucet', params: [recipient] }) })
    expect(foreign.status).toBe(403)
    expect(errors).toEqual([])
  })
})
