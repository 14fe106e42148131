// WebSockets against WebRTC-Direct from the tab (issue 15 part 1), in real Chromium against one devnet that listens
// with both: a fresh profile per run, its own node (`?node=tab`), one transport only (`?transports=`), the two
// alternated so a warming machine favours neither. Figures: page opened → first connection shown (page and worker
// load are the same for both, so the difference is the dial), and the cold sync of the devnet's prefilled chain
// (headers/s end to end). WebRTC-Direct in the tab goes through the page (src/light/bridged-rtc.ts): its cost is in
// these figures too.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDevnet } from '../../src/node/devnet'
import { launchChromium } from '../helpers/chromium'
import { requireBuiltApp } from '../helpers/dist'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }

export async function benchTransports (headers = Number(process.env.BENCH_TRANSPORT_HEADERS ?? 2000), rounds = Number(process.env.BENCH_TRANSPORT_ROUNDS ?? 2)): Promise<void> {
  const distDir = requireBuiltApp()
  const init = { dataDir: path.join(root, '.coffer', `bench-transports-${headers}`), distDir, httpPort: 0, rpcPort: null, prefill: headers, webrtcDirect: true }
  const t0 = performance.now()
  const d = await startDevnet(init).catch(async (err: Error) => {
    if (err.name !== 'OldDataDirError') throw err
    return await startDevnet({ ...init, reset: true })
  })
  console.log(`\nWebSockets vs WebRTC-Direct from the tab (devnet with ${d.head().header.height} headers, ready in ${fmt((performance.now() - t0) / 1000)} s):`)
  const figures: Record<'websockets' | 'webrtc-direct', { connectMs: number[], syncMs: number[], rate: number[] }> = {
    websockets: { connectMs: [], syncMs: [], rate: [] },
    'webrtc-direct': { connectMs: [], syncMs: [], rate: [] }
  }
  try {
    for (let r = 0; r < rounds; r++) {
      for (const t of (r % 2 === 0 ? ['websockets', 'webrtc-direct'] : ['webrtc-direct', 'websockets']) as Array<keyof typeof figures>) {
        const b = await launchChromium()
        try {
          const page = await b.context.newPage()
          const target = d.head().header.height
          const opened = performance.now()
          await page.goto(`${d.url!}?node=tab&transports=${t}#chain`)
          await page.waitForSelector(`[data-testid=peer][data-transport=${t}]`, { timeout: 120_000 })
          const connectMs = performance.now() - opened
          await page.waitForFunction((n) => Number(document.querySelector('[data-testid=verified-height]')?.textContent) >= n, target, { timeout: 1_200_000, polling: 100 })
          const syncMs = performance.now() - opened
          figures[t].connectMs.push(connectMs)
          figures[t].syncMs.push(syncMs)
          figures[t].rate.push(target / ((syncMs - connectMs) / 1000))
          console.log(`  ${t.padEnd(13)} round ${r + 1}: connection shown ${fmt(connectMs, 0)} ms after opening, ${target} headers verified ${fmt(syncMs / 1000)} s after opening`)
        } finally { await b.close() }
      }
    }
    const ws = figures.websockets; const rtc = figures['webrtc-direct']
    console.log(`  page opened → connection (median): WebSocket ${fmt(median(ws.connectMs), 0)} ms, WebRTC-Direct ${fmt(median(rtc.connectMs), 0)} ms (${fmt(median(rtc.connectMs) / median(ws.connectMs), 2)}x)`)
    console.log(`  cold sync after connecting (median): WebSocket ${fmt(median(ws.rate), 0)} headers/s, WebRTC-Direct ${fmt(median(rtc.rate), 0)} headers/s (${fmt(median(rtc.rate) / median(ws.rate), 2)}x)`)
  } finally {
    await d.stop()
  }
}
