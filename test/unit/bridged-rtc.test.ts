// The WebRTC bridge's two halves (issue 15 part 1), over a real MessageChannel: the page's (rtc-page-host.ts) holding
// real connections (node-datachannel's RTCPeerConnection, the one @libp2p/webrtc uses in Node, standing where the
// browser's is) and the node's stand-ins (bridged-rtc.ts) that @libp2p/webrtc drives in the worker. Checked against a
// real remote peer: the offer/answer, a negotiated channel and one the remote opens, bytes both ways, bufferedAmount
// drained back to zero, ICE candidates trickled both ways with the remote's offer answered (WebRTC through a relay); a page that goes fails its connections and calls by name; no page, NoRtcPageError.
import { describe, it, expect, afterEach } from 'vitest'
import { RTCPeerConnection as NativePeerConnection } from 'node-datachannel/polyfill'
import { serveRtcBridge } from '../../src/light/rtc-page-host'
import { BridgedPeerConnection, BridgedDataChannel, BridgedSessionDescription, BridgedIceCandidate, createRtcPages, NoRtcPageError, RtcPageGoneError } from '../../src/light/bridged-rtc'
import type { NodeToPage, PageToNode, RtcPort } from '../../src/light/rtc-bridge-protocol'

const cleanups: Array<() => void> = []
afterEach(() => { for (const fn of cleanups.splice(0).reverse()) fn() })

const g = globalThis as { RTCPeerConnection?: unknown }
/** The page's RTCPeerConnection: node-datachannel's, for as long as the test runs. */
function pageHasWebRtc (): void {
  const before = g.RTCPeerConnection
  g.RTCPeerConnection = NativePeerConnection
  cleanups.push(() => { g.RTCPeerConnection = before })
}

function bridge (pages = createRtcPages()): { pages: typeof pages, gone: () => void } {
  const { port1, port2 } = new MessageChannel()
  const host = serveRtcBridge(port1 as unknown as RtcPort<PageToNode, NodeToPage>)
  const { gone } = pages.add(port2 as unknown as RtcPort<NodeToPage, PageToNode>)
  cleanups.push(() => { host.close(); port1.close(); port2.close() })
  return { pages, gone }
}

const once = async (target: EventTarget, type: string): Promise<Event> => await new Promise(resolve => { target.addEventListener(type, resolve, { once: true }) })

/** Offer from the bridged side, answer (with its candidates) from a real peer: the bridged side then reaches it by ICE. */
async function connect (local: BridgedPeerConnection): Promise<RTCPeerConnection> {
  const remote = new NativePeerConnection() as unknown as RTCPeerConnection
  cleanups.push(() => { remote.close() })
  await local.setLocalDescription(await local.createOffer())
  expect(local.localDescription?.sdp).toMatch(/a=fingerprint:sha-256 /) // what libp2p reads for the Noise prologue
  await remote.setRemoteDescription(local.localDescription!)
  await remote.setLocalDescription(await remote.createAnswer())
  if (remote.iceGatheringState !== 'complete') await once(remote, 'icegatheringstatechange')
  await local.setRemoteDescription(remote.localDescription!.toJSON())
  return remote
}

describe('the WebRTC bridge between a page and the node in a worker', () => {
  it('connects, carries bytes both ways on a negotiated and a remote-opened channel, and drains bufferedAmount', async () => {
    pageHasWebRtc()
    bridge()
    const local = new BridgedPeerConnection()
    cleanups.push(() => { local.close() })
    const states: string[] = []
    local.onconnectionstatechange = () => { states.push(local.connectionState) }
    const dc = local.createDataChannel('', { negotiated: true, id: 0 })
    const remote = await connect(local)
    const remoteDc = remote.createDataChannel('', { negotiated: true, id: 0 })
    remoteDc.binaryType = 'arraybuffer'
    if (dc.readyState !== 'open') await once(dc, 'open')
    expect(dc.readyState).toBe('open')
    // the state change and the channel's open cross the bridge as separate messages, in either order (seen once in
    // a whole unit run: 'open' first, the state still 'connecting'): the state must get there, not be there first
    while (!states.includes('connected')) await new Promise(resolve => setTimeout(resolve, 10))
    expect(states).toContain('connected')

    // node → remote: 300 KiB in chunks; bufferedAmount counts what the page has not sent yet, and drains to 0
    const received: number[] = []
    const got = new Promise<void>(resolve => {
      remoteDc.onmessage = (e: MessageEvent<ArrayBuffer>) => { received.push(...new Uint8Array(e.data)); if (received.length >= 300 * 1024) resolve() }
    })
    const low = once(dc, 'bufferedamountlow')
    for (let i = 0; i < 300; i++) dc.send(new Uint8Array(1024).fill(i & 0xff))
    expect(dc.bufferedAmount).toBe(300 * 1024)
    await got
    await low
    expect(dc.bufferedAmount).toBe(0)
    expect(received.filter((b, i) => b !== (Math.floor(i / 1024) & 0xff))).toHaveLength(0)

    // remote → node, on a channel the remote opens: the node hears of it with its messages in order
    const opened = once(local, 'datachannel') as Promise<Event & { channel: BridgedDataChannel }>
    const theirs = remote.createDataChannel('')
    await once(theirs, 'open')
    const { channel } = await opened
    const messages: string[] = []
    const three = new Promise<void>(resolve => { channel.onmessage = (e) => { messages.push(new TextDecoder().decode(e.data as ArrayBuffer)); if (messages.length === 3) resolve() } })
    for (const m of ['one', 'two', 'three']) theirs.send(new TextEncoder().encode(m))
    await three
    expect(messages).toEqual(['one', 'two', 'three'])

    // the remote closes its channel: the node's stand-in closes too
    const closed = once(channel, 'close')
    theirs.close()
    await closed
    expect(channel.readyState).toBe('closed')
  }, 30_000)

  it('trickles ICE candidates both ways (WebRTC through a relay signals them) and opens the remote\'s offer', async () => {
    pageHasWebRtc()
    bridge()
    // the stand-in answers: the remote offers, as a tab dialling this one through a relay would
    const local = new BridgedPeerConnection()
    cleanups.push(() => { local.close() })
    const remote = new NativePeerConnection() as unknown as RTCPeerConnection
    cleanups.push(() => { remote.close() })
    // signalled in order after the answer, as the relayed signalling stream carries them
    const toRemote: Array<RTCIceCandidateInit | null> = []
    let answered = false
    local.onicecandidate = ({ candidate }) => {
      const init = candidate === null ? null : candidate.toJSON()
      toRemote.push(init)
      if (init !== null && answered) void remote.addIceCandidate(init)
    }
    remote.onicecandidate = ({ candidate }) => { if (candidate !== null && candidate.candidate !== '') void local.addIceCandidate(candidate.toJSON()) }
    const theirs = remote.createDataChannel('hello')
    await remote.setLocalDescription(await remote.createOffer())
    const opened = once(local, 'datachannel') as Promise<Event & { channel: BridgedDataChannel }>
    await local.setRemoteDescription(new BridgedSessionDescription(remote.localDescription!.toJSON()))
    const answer = await local.createAnswer()
    expect(answer.type).toBe('answer')
    await local.setLocalDescription(answer)
    await remote.setRemoteDescription(local.localDescription!)
    answered = true
    for (const c of toRemote) if (c !== null) await remote.addIceCandidate(c)
    const { channel } = await opened
    expect(channel.label).toBe('hello')
    const got = new Promise<string>(resolve => { channel.onmessage = (e) => { resolve(new TextDecoder().decode(e.data as ArrayBuffer)) } })
    if (theirs.readyState !== 'open') await once(theirs, 'open')
    theirs.send(new TextEncoder().encode('over trickled candidates'))
    expect(await got).toBe('over trickled candidates')
    expect(toRemote.some(c => c !== null && /typ host/.test(c.candidate ?? ''))).toBe(true)
    const first = toRemote.find(c => c !== null)!
    expect(new BridgedIceCandidate(first).toJSON()).toEqual({ candidate: first.candidate, sdpMid: first.sdpMid ?? null, sdpMLineIndex: first.sdpMLineIndex ?? null, usernameFragment: first.usernameFragment ?? null })
  }, 30_000)

  it('a page that goes fails its connections like a dropped network, and its waiting calls by name', async () => {
    pageHasWebRtc()
    const { pages, gone } = bridge()
    const local = new BridgedPeerConnection()
    const dc = local.createDataChannel('', { negotiated: true, id: 0 })
    await connect(local)
    if (dc.readyState !== 'open') await once(dc, 'open')
    const second = new BridgedPeerConnection()
    const waiting = second.createOffer() // answered by no one: the page goes first
    const failed = once(local, 'connectionstatechange')
    const dcClosed = once(dc, 'close')
    gone()
    await failed
    expect(local.connectionState).toBe('failed')
    await dcClosed
    expect(dc.readyState).toBe('closed')
    await expect(waiting).rejects.toThrow(RtcPageGoneError)
    expect(() => dc.send(new Uint8Array(1))).toThrow(/closed/)
    // no page left: a new connection cannot be made here
    expect(pages.count()).toBe(0)
    expect(() => new BridgedPeerConnection()).toThrow(NoRtcPageError)
  }, 30_000)

  it('new connections open in the newest page; junk from a page is ignored', async () => {
    pageHasWebRtc()
    const pages = createRtcPages()
    const first = new MessageChannel()
    const seen: NodeToPage[] = []
    first.port1.onmessage = (e: MessageEvent<NodeToPage>) => { seen.push(e.data) }
    const a = pages.add(first.port2 as unknown as RtcPort<NodeToPage, PageToNode>)
    cleanups.push(() => { first.port1.close() })
    // junk a page might send: nothing throws, nothing changes
    for (const junk of [null, 7, { ev: 'message', ch: 99, data: 'x' }, { ev: 'result', id: 5, ok: true }, { ev: 'state', pc: 42, state: 'connected' }]) first.port1.postMessage(junk)
    bridge(pages) // a newer page, serving for real
    const pc = new BridgedPeerConnection()
    cleanups.push(() => { pc.close() })
    pc.createDataChannel('', { negotiated: true, id: 0 }) // as a dial does first (node-datachannel makes no offer without one)
    const offer = await pc.createOffer()
    expect(offer.sdp).toMatch(/^v=0/)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(seen).toEqual([]) // the older page was not asked
    a.gone()
    expect(pages.count()).toBe(1)
  }, 30_000)
})
