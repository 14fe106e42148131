// The light node as a SharedWorker: one node (connections, sync, wallet, deals, downloads) for every tab of the
// app. Each tab's port is a session (light-node-host.ts); when a tab closes (tab-lock.ts) the node ends its calls
// and stops using what the tab lent it (its hashing and OPFS writes: remote-platform.ts).
import { createWorkerNode } from './run-worker'
import { createTabPlatforms } from './remote-platform'
import { createPortCaller } from './port-caller'
import { opfsStaging } from './staging'
import { browserDownloadFiles } from './download-files'
import type { PlatformMethods } from './platform-protocol'
import type { Port } from './worker-protocol'
import { watchTabLock } from './tab-lock'
import { createRtcPages, installRtcBridge } from './bridged-rtc'

interface SharedScope { addEventListener: (type: 'connect', listener: (evt: MessageEvent) => void) => void }

export function runSharedLightNode (scope: SharedScope): void {
  const downloads = browserDownloadFiles()
  const platforms = createTabPlatforms({ staging: opfsStaging(), downloads })
  installRtcBridge()
  const host = createWorkerNode(platforms.platform, {
    rtcPages: createRtcPages(),
    stopWithLastPort: false,
    watchTab: watchTabLock,
    platformIn: platforms.preferring,
    lend: (tab, port) => {
      const { gone } = platforms.add(tab, createPortCaller<PlatformMethods>(port))
      port.start()
      watchTabLock(tab, () => { gone(); port.close() })
    }
  })
  scope.addEventListener('connect', (evt) => {
    const port = evt.ports[0]
    if (port === undefined) return
    host.connect(port as unknown as Port)
    port.start()
  })
}
