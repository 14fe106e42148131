// The lint rule that keeps src/core free of I/O (STYLE.md habit 1): no platform imports, no clocks, no
// randomness, no storage or DOM globals. Time and randomness come in as parameters.
import { describe, it, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const coreDir = fileURLToPath(new URL('../../src/core', import.meta.url))
const FORBIDDEN = [
  /from ['"](idb|libp2p|@libp2p\/[^'"]*|react[^'"]*|node:[^'"]*|fs|path|ws|classic-level)['"]/,
  /\b(window|document|indexedDB|localStorage|navigator|self)\./,
  /\bDate\.now\(|\bnew Date\(|\bperformance\.now\(|\bMath\.random\(|\bfetch\(|\bsetTimeout\(|\bcrypto\.getRandomValues\(/,
  // Node's own objects and the other timers (the issue 13 review: the first list let them through)
  /\bBuffer\.|\bprocess\.|\bsetInterval\(|\bsetImmediate\(|\bqueueMicrotask\(|\bglobalThis\.crypto\b|\brequire\(/
]

describe('src/core does no I/O', () => {
  // every file under src/core, subfolders included (market, pdp, piece, paych, retrieval, …)
  const files = (readdirSync(coreDir, { recursive: true }) as string[]).filter(f => f.endsWith('.ts'))
  it('finds the subfolders too', () => { expect(files.some(f => f.includes('/'))).toBe(true) })
  for (const file of files) {
    it(file, () => {
      const code = readFileSync(`${coreDir}/${file}`, 'utf8').split('\n').filter(l => !/^\s*(\/\/|\*)/.test(l)).join('\n')
      for (const rule of FORBIDDEN) expect(code, `${file} matches ${rule}`).not.toMatch(rule)
    })
  }
})
