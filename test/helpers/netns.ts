// A second "host" for integration tests (issue 12 part 5): a Linux network namespace joined to the root one by a
// veth pair on a private /24, so a process started in it (`ip netns exec <ns> …`) has its own address and reaches
// the test's servers only over that link, as a remote machine would. Needs root on Linux; anything else gets a
// reason string instead, which the caller prints before falling back to loopback.
import { execFileSync } from 'node:child_process'

export interface Netns {
  /** The namespace's name, for `ip netns exec`. */
  ns: string
  /** The root namespace's end of the veth pair: where the test's own servers listen. */
  hostIp: string
  /** The namespace's end: the address its process listens on and announces. */
  peerIp: string
  /** Deletes the namespace and the veth pair; kill the processes in it first (a live process keeps it alive). */
  remove: () => Promise<void>
}

/** Third octet candidates: 10.213.0.0/16 is left to these tests; 0 and 255 are skipped to keep names obvious. */
const SUBNETS = 254

const ip = (...args: string[]): string => execFileSync('ip', args, { stdio: 'pipe' }).toString()

/**
 * Makes a namespace with a private /24 at 10.213.<n>.0 (host .1, namespace .2), n chosen at random among the
 * subnets no interface uses and no namespace is named after. `ip netns add` fails on a name that exists, so two
 * tests picking the same n at once cannot both take it: the loser tries another.
 * `label` keeps the interface names (15 bytes at most) telling which test made them.
 */
export function makeNetns (label = 'c'): Netns | string {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root'
  let lastError = ''
  for (let attempt = 0; attempt < 8; attempt++) {
    let taken: string
    try {
      taken = ip('-o', '-4', 'addr') + ip('netns', 'list')
    } catch (err) {
      return `ip failed: ${(err as Error).message.split('\n')[0]!}`
    }
    const free = Array.from({ length: SUBNETS }, (_, i) => i + 1).filter(n => !taken.includes(`10.213.${n}.`) && !taken.includes(`coffer-${label}${n} `) && !taken.includes(`coffer-${label}${n}\n`))
    if (free.length === 0) return 'no free 10.213.x.0/24 subnet'
    const n = free[Math.floor(Math.random() * free.length)]!
    const ns = `coffer-${label}${n}`
    const [vh, vp] = [`cfh${label}${n}`.slice(0, 15), `cfp${label}${n}`.slice(0, 15)]
    try {
      ip('netns', 'add', ns)
    } catch (err) {
      lastError = (err as Error).message.split('\n')[0]!
      continue // another test took this name between the listing and now
    }
    const remove = async (): Promise<void> => {
      try { ip('netns', 'delete', ns) } catch {}
      // the pair goes with the namespace's end; this only matters if the move into the namespace never happened
      try { ip('link', 'delete', vh) } catch {}
    }
    try {
      ip('link', 'add', vh, 'type', 'veth', 'peer', 'name', vp)
      ip('link', 'set', vp, 'netns', ns)
      ip('addr', 'add', `10.213.${n}.1/24`, 'dev', vh)
      ip('link', 'set', vh, 'up')
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `10.213.${n}.2/24`, 'dev', vp)
      ip('netns', 'exec', ns, 'ip', 'link', 'set', vp, 'up')
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
      return { ns, hostIp: `10.213.${n}.1`, peerIp: `10.213.${n}.2`, remove }
    } catch (err) {
      void remove()
      return `ip netns failed: ${(err as Error).message.split('\n')[0]!}`
    }
  }
  return `ip netns add failed: ${lastError}`
}
