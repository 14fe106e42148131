// Each tab holds a Web Lock while it is open, so a shared light node learns that the tab closed (crashed,
// navigated away) when it can take that lock: a MessagePort says nothing when its other side goes.

/** The Web Lock a tab holds while it is open: the page takes it before it says `start`. */
export const tabLockName = (tab: string): string => `coffer-tab-${tab}`

/** Calls `gone` once the tab has released its lock. */
export function watchTabLock (tab: string, gone: () => void): void {
  void navigator.locks.request(tabLockName(tab), async () => {}).then(gone, gone)
}
