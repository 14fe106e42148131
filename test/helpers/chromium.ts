// Real Chromium for browser tests, driven by playwright-core: CHROME_PATH, else Debian's /usr/bin/chromium.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export function chromiumPath (): string {
  const candidates = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '')
  const found = candidates.find(p => existsSync(p))
  if (found === undefined) {
    throw new Error(`no Chromium found (tried ${candidates.join(', ')}): install it with \`apt-get install -y chromium\` or set CHROME_PATH`)
  }
  return found
}

export interface Browser { context: BrowserContext, close: () => Promise<void>, /** the profile's folder (names the browser's process) */ userDataDir: string }

export async function launchChromium (extraArgs: string[] = []): Promise<Browser> {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'coffer-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 390, height: 844 }, // phone-sized: the layout must work there
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs]
  })
  // COFFER_CPU_THROTTLE=4 runs every page as on a CPU four times slower (CDP Emulation.setCPUThrottlingRate):
  // nothing a user does may fail because it took longer than planned
  const rate = Number(process.env.COFFER_CPU_THROTTLE ?? 1)
  if (rate > 1) {
    const throttle = async (page: import('playwright-core').Page): Promise<void> => {
      const cdp = await context.newCDPSession(page)
      await cdp.send('Emulation.setCPUThrottlingRate', { rate })
    }
    for (const page of context.pages()) await throttle(page)
    context.on('page', (page) => { void throttle(page).catch(() => {}) })
  }
  return {
    context,
    userDataDir,
    close: async () => {
      await context.close().catch(() => {})
      await rm(userDataDir, { recursive: true, force: true })
    }
  }
}
