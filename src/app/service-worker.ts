// Registers the workbox service worker through workbox-window. A new version waits until the user
// accepts it ("update available"), so a running sync is never swapped out from under them.
import { Workbox } from 'workbox-window'

export function registerServiceWorker (onUpdateAvailable: (apply: () => void) => void): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return
  const wb = new Workbox('/sw.js')
  wb.addEventListener('waiting', () => {
    onUpdateAvailable(() => {
      wb.addEventListener('controlling', () => { window.location.reload() })
      wb.messageSkipWaiting()
    })
  })
  wb.register().catch((err: Error) => { console.warn('service worker registration failed:', err.message) })
}
