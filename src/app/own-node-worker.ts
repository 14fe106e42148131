// The light node in a dedicated worker of this tab: the tab's own node (`?node=tab`), or the one a leader tab runs
// for every tab (tab-leader.ts). A worker that fails to load is said through `onFailed`.
export function startOwnNodeWorker (onFailed: (message: string) => void): Worker {
  const worker = new Worker(new URL('../../workers/light-client.worker.ts', import.meta.url), { type: 'module', name: 'coffer-light-client' })
  worker.addEventListener('error', (evt) => { onFailed(evt.message || 'the light-client worker failed to start') })
  return worker
}
