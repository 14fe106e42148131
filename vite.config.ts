// Builds the PWA (React page, light-client worker, workbox service worker) and configures the test runs.
import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'
import { VitePWA } from 'vite-plugin-pwa'
import { fileURLToPath } from 'node:url'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))

const nodeTests = {
  environment: 'node' as const,
  // Node 20: libp2p needs Promise.withResolvers, and dialing ws needs a global WebSocket
  setupFiles: ['test/setup-node.ts'],
  execArgv: ['--experimental-websocket'],
  pool: 'forks' as const
}

export default defineConfig({
  // the page lives in src/app; the repository top level stays as the layout fixes it
  root: here('src/app'),
  publicDir: here('public'),
  plugins: [
    react(),
    VitePWA({
      registerType: 'prompt',
      injectRegister: false, // registered by hand through workbox-window (src/app/service-worker.ts)
      manifest: {
        name: 'Coffer',
        short_name: 'Coffer',
        description: 'A Filecoin-style storage network light node in your browser',
        theme_color: '#14213d',
        background_color: '#0b1020',
        display: 'standalone',
        start_url: '/',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' }
        ]
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg,webmanifest,wasm}'],
        // libp2p chunks are 0.5-0.6 MB (NOTES.md)
        maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/bootstrap\.json/]
      }
    })
  ],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, outDir: here('dist'), emptyOutDir: true },
  test: {
    root: here('.'),
    projects: [
      { test: { ...nodeTests, name: 'unit', root: here('.'), include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts'] } },
      { test: { ...nodeTests, name: 'integration', root: here('.'), include: ['test/integration/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      { test: { ...nodeTests, name: 'browser', root: here('.'), include: ['test/browser/**/*.browser.test.ts'], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } }
    ]
  }
})
