// Browser and CLI tests run against the built app; `npm test` builds it first.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** COFFER_DIST points the tests at another build (an engineer's own, while others build the shared one). */
export const distDir = process.env.COFFER_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url))

export function requireBuiltApp (): string {
  if (!existsSync(`${distDir}/index.html`) || !existsSync(`${distDir}/sw.js`)) {
    throw new Error(`the app is not built in ${distDir}: run \`npm run build\` (npm test does this first)`)
  }
  return distDir
}
