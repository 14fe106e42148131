// The node's half of the WebRTC bridge (rtc-bridge-protocol.ts): stand-ins for RTCPeerConnection and RTCDataChannel
// with the surface @libp2p/webrtc's WebRTC-Direct dialer uses (SDP calls, negotiated and remote-opened channels,
// their events, bufferedAmount for backpressure), each backed by a real one in a page (rtc-page-host.ts). A worker
// has no RTCPeerConnection, so installing the stand-in as the global lets the library's browser code run unchanged.
// A connection lives in the page that made it: when that tab closes, the connection fails like a dropped network
// and libp2p dials again (through another tab, if one is open).
import { plainDescription, type NodeToPage, type PageToNode, type RtcPort } from './rtc-bridge-protocol'

/** No open tab has lent the node its page for WebRTC (the node may go on over WebSockets). */
export class NoRtcPageError extends Error {
  static override name = 'NoRtcPageError'
  override name = 'NoRtcPageError'
  constructor () { super('no open tab can make a WebRTC connection for the light node') }
}

/** The tab holding a WebRTC connection closed while something waited on it. */
export class RtcPageGoneError extends Error {
  static override name = 'RtcPageGoneError'
  override name = 'RtcPageGoneError'
  constructor () { super('the tab holding this WebRTC connection closed') }
}

type NodePort = RtcPort<NodeToPage, PageToNode>

interface PageLink {
  post: (msg: NodeToPage, transfer?: Transferable[]) => void
  pcs: Map<number, BridgedPeerConnection>
  channels: Map<number, BridgedDataChannel>
  calls: Map<number, { resolve: (m: Extract<PageToNode, { ev: 'result', ok: true }>) => void, reject: (err: Error) => void }>
  next: { pc: number, ch: number, call: number }
  gone: boolean
}

/** An EventTarget whose `on<type>` properties behave as a browser's: one handler each, beside the listeners. */
class HandlerTarget extends EventTarget {
  readonly #handlers = new Map<string, EventListener>()
  protected handler (type: string): EventListener | null { return this.#handlers.get(type) ?? null }
  protected setHandler (type: string, fn: EventListener | null): void {
    const old = this.#handlers.get(type)
    if (old !== undefined) this.removeEventListener(type, old)
    if (typeof fn === 'function') { this.#handlers.set(type, fn); this.addEventListener(type, fn) } else this.#handlers.delete(type)
  }
}

const event = <T extends object>(type: string, fields?: T): Event & T => Object.assign(new Event(type), fields)

export class BridgedDataChannel extends HandlerTarget {
  readyState: RTCDataChannelState
  binaryType: BinaryType = 'arraybuffer'
  bufferedAmountLowThreshold = 0
  /** Bytes handed to the page, and how many of them it said have left its buffer. */
  #posted = 0
  #drained = 0

  constructor (
    private readonly link: PageLink, readonly ch: number, readonly label: string, public id: number | null,
    readonly protocol: string, readyState: RTCDataChannelState, readonly pc: BridgedPeerConnection
  ) {
    super()
    this.readyState = readyState
    link.channels.set(ch, this)
  }

  get bufferedAmount (): number { return this.#posted - this.#drained }
  get onopen (): EventListener | null { return this.handler('open') }
  set onopen (fn: EventListener | null) { this.setHandler('open', fn) }
  get onclose (): EventListener | null { return this.handler('close') }
  set onclose (fn: EventListener | null) { this.setHandler('close', fn) }
  get onerror (): EventListener | null { return this.handler('error') }
  set onerror (fn: EventListener | null) { this.setHandler('error', fn) }
  get onmessage (): ((e: MessageEvent) => void) | null { return this.handler('message') as ((e: MessageEvent) => void) | null }
  set onmessage (fn: ((e: MessageEvent) => void) | null) { this.setHandler('message', fn as EventListener | null) }
  get onbufferedamountlow (): EventListener | null { return this.handler('bufferedamountlow') }
  set onbufferedamountlow (fn: EventListener | null) { this.setHandler('bufferedamountlow', fn) }

  send (data: ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 'open') throw new DOMException(`the data channel is ${this.readyState}`, 'InvalidStateError')
    // a copy the page may own: the caller's view may share a buffer it goes on using
    const bytes = data instanceof ArrayBuffer ? data.slice(0) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer
    this.#posted += bytes.byteLength
    this.link.post({ op: 'send', ch: this.ch, data: bytes }, [bytes])
  }

  close (): void {
    if (this.readyState === 'closing' || this.readyState === 'closed') return
    this.readyState = 'closing'
    this.link.post({ op: 'close-channel', ch: this.ch })
  }

  /** The page's news of this channel. */
  onPage (msg: Extract<PageToNode, { ch: number }>): void {
    switch (msg.ev) {
      case 'open':
        if (this.readyState !== 'connecting') return
        this.id = msg.id
        this.readyState = 'open'
        this.dispatchEvent(event('open'))
        return
      case 'message':
        if (msg.data instanceof ArrayBuffer) this.dispatchEvent(new MessageEvent('message', { data: msg.data }))
        return
      case 'drained': {
        const before = this.bufferedAmount
        this.#drained = Math.max(this.#drained, Math.min(msg.left, this.#posted))
        if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold) this.dispatchEvent(event('bufferedamountlow'))
        return
      }
      case 'error': this.dispatchEvent(event('error', { error: new Error(msg.message) })); return
      case 'closed': this.ended(); return
      case 'datachannel':
    }
  }

  /** Closed: by the page, with its connection, or with the page itself. */
  ended (): void {
    if (this.readyState === 'closed') return
    this.readyState = 'closed'
    this.link.channels.delete(this.ch)
    this.dispatchEvent(event('close'))
  }
}

/** A candidate as plain data (the library hands class instances; only data crosses to the page). */
const plainCandidate = (c: RTCIceCandidateInit): RTCIceCandidateInit => ({
  ...(c.candidate === undefined ? {} : { candidate: c.candidate }),
  ...(c.sdpMid === undefined ? {} : { sdpMid: c.sdpMid }),
  ...(c.sdpMLineIndex === undefined ? {} : { sdpMLineIndex: c.sdpMLineIndex }),
  ...(c.usernameFragment === undefined ? {} : { usernameFragment: c.usernameFragment })
})

/** RTCSessionDescription where a worker has none: the data, as a browser's would carry it. */
export class BridgedSessionDescription implements RTCSessionDescriptionInit {
  readonly type: RTCSdpType
  readonly sdp: string
  constructor (init: RTCSessionDescriptionInit) { this.type = init.type; this.sdp = init.sdp ?? '' }
  toJSON (): RTCSessionDescriptionInit { return { type: this.type, sdp: this.sdp } }
}

/** RTCIceCandidate where a worker has none: the candidate's data and its toJSON, which the library signals. */
export class BridgedIceCandidate {
  readonly candidate: string
  readonly sdpMid: string | null
  readonly sdpMLineIndex: number | null
  readonly usernameFragment: string | null
  constructor (init: RTCIceCandidateInit = {}) {
    this.candidate = init.candidate ?? ''
    this.sdpMid = init.sdpMid ?? null
    this.sdpMLineIndex = init.sdpMLineIndex ?? null
    this.usernameFragment = init.usernameFragment ?? null
  }

  toJSON (): RTCIceCandidateInit { return { candidate: this.candidate, sdpMid: this.sdpMid, sdpMLineIndex: this.sdpMLineIndex, usernameFragment: this.usernameFragment } }
}

export class BridgedPeerConnection extends HandlerTarget {
  /** The page's browser makes the DTLS certificate (a worker cannot): this only stands for "its own". */
  static async generateCertificate (_alg: AlgorithmIdentifier): Promise<object> { return {} }

  connectionState: RTCPeerConnectionState = 'new'
  localDescription: RTCSessionDescriptionInit | null = null
  remoteDescription: RTCSessionDescriptionInit | null = null
  readonly #link: PageLink
  readonly #pc: number

  constructor (config: RTCConfiguration = {}) {
    super()
    const link = BridgedPeerConnection.pickPage()
    this.#link = link
    this.#pc = link.next.pc++
    link.pcs.set(this.#pc, this)
    link.post({ op: 'open', pc: this.#pc, config: config.iceServers === undefined ? {} : { iceServers: config.iceServers } })
  }

  /** Set by createRtcPages: the page new connections open in. */
  static pickPage: () => PageLink = () => { throw new NoRtcPageError() }

  get onconnectionstatechange (): EventListener | null { return this.handler('connectionstatechange') }
  set onconnectionstatechange (fn: EventListener | null) { this.setHandler('connectionstatechange', fn) }
  get onicecandidate (): ((e: Event & { candidate: BridgedIceCandidate | null }) => void) | null { return this.handler('icecandidate') as never }
  set onicecandidate (fn: ((e: Event & { candidate: BridgedIceCandidate | null }) => void) | null) { this.setHandler('icecandidate', fn as EventListener | null) }
  /** Never fired (the page's errors in gathering end in a failed connection, which is): kept for the library to set. */
  onicecandidateerror: ((e: Event) => void) | null = null
  get ondatachannel (): ((e: Event & { channel: BridgedDataChannel }) => void) | null { return this.handler('datachannel') as never }
  set ondatachannel (fn: ((e: Event & { channel: BridgedDataChannel }) => void) | null) { this.setHandler('datachannel', fn as EventListener | null) }

  async createOffer (): Promise<RTCSessionDescriptionInit> { return (await this.#call('createOffer')).value! }
  async createAnswer (): Promise<RTCSessionDescriptionInit> { return (await this.#call('createAnswer')).value! }
  async setLocalDescription (desc?: RTCSessionDescriptionInit): Promise<void> { this.localDescription = (await this.#call('setLocalDescription', desc === undefined ? undefined : plainDescription(desc))).local ?? null }
  async setRemoteDescription (desc: RTCSessionDescriptionInit): Promise<void> { await this.#call('setRemoteDescription', plainDescription(desc)); this.remoteDescription = desc }
  async addIceCandidate (candidate?: RTCIceCandidateInit | null): Promise<void> { await this.#call('addIceCandidate', candidate == null ? null : plainCandidate(candidate)) }

  createDataChannel (label: string, init: RTCDataChannelInit = {}): BridgedDataChannel {
    if (this.connectionState === 'closed') throw new DOMException('the connection is closed', 'InvalidStateError')
    const ch = this.#link.next.ch++
    const dc = new BridgedDataChannel(this.#link, ch, label, init.negotiated === true ? init.id ?? null : null, init.protocol ?? '', 'connecting', this)
    this.#link.post({ op: 'channel', pc: this.#pc, ch, label, init })
    return dc
  }

  /** A server's view of the remote certificate: a browser only dials, so never asked. */
  remoteFingerprint (): undefined { return undefined }

  close (): void {
    if (this.connectionState === 'closed') return
    this.connectionState = 'closed' // as a browser's close(): no state-change event
    if (!this.#link.gone) this.#link.post({ op: 'close', pc: this.#pc })
    this.#end()
  }

  /** The page's news of this connection. */
  onPage (msg: Extract<PageToNode, { ev: 'state' | 'datachannel' | 'icecandidate' }>): void {
    if (this.connectionState === 'closed') return
    if (msg.ev === 'icecandidate') {
      this.dispatchEvent(event('icecandidate', { candidate: msg.candidate === null ? null : new BridgedIceCandidate(msg.candidate) }))
      return
    }
    if (msg.ev === 'state') {
      this.connectionState = msg.state
      this.dispatchEvent(event('connectionstatechange'))
      if (msg.state === 'closed') this.#end()
      return
    }
    const channel = new BridgedDataChannel(this.#link, msg.ch, msg.label, msg.id, msg.protocol, msg.readyState, this)
    this.dispatchEvent(event('datachannel', { channel }))
  }

  /** The page went with this connection in it: as a network that failed. */
  pageGone (): void {
    if (this.connectionState === 'closed') return
    this.connectionState = 'failed'
    this.dispatchEvent(event('connectionstatechange'))
    this.#end()
  }

  #end (): void {
    this.#link.pcs.delete(this.#pc)
    for (const dc of [...this.#link.channels.values()]) if (dc.pc === this) dc.ended()
  }

  async #call (method: Extract<NodeToPage, { op: 'call' }>['method'], arg?: RTCSessionDescriptionInit | RTCIceCandidateInit | null): Promise<Extract<PageToNode, { ev: 'result', ok: true }>> {
    if (this.#link.gone) throw new RtcPageGoneError()
    if (this.connectionState === 'closed') throw new DOMException('the connection is closed', 'InvalidStateError')
    const id = this.#link.next.call++
    return await new Promise((resolve, reject) => {
      this.#link.calls.set(id, { resolve, reject })
      this.#link.post({ op: 'call', id, pc: this.#pc, method, ...(arg === undefined ? {} : { arg }) } as NodeToPage, [])
    })
  }
}

export interface RtcPages {
  /** The page on `port` makes WebRTC connections from now on (the newest page is used); `gone` when it has closed. */
  add: (port: NodePort) => { gone: () => void }
  /** How many pages can make connections. */
  count: () => number
}

/** The pages lending their WebRTC to this node; new connections open in the newest. */
export function createRtcPages (): RtcPages {
  const links: PageLink[] = []
  BridgedPeerConnection.pickPage = () => {
    const link = links.at(-1)
    if (link === undefined) throw new NoRtcPageError()
    return link
  }
  return {
    add: (port) => {
      const link: PageLink = {
        post: (msg, transfer = []) => { if (!link.gone) port.postMessage(msg, transfer) },
        pcs: new Map(),
        channels: new Map(),
        calls: new Map(),
        next: { pc: 1, ch: 1, call: 1 },
        gone: false
      }
      port.addEventListener('message', (e: MessageEvent<PageToNode>) => {
        const msg = e.data as PageToNode | null
        if (link.gone || typeof msg !== 'object' || msg === null) return
        if (msg.ev === 'result') {
          const waiting = link.calls.get(msg.id)
          link.calls.delete(msg.id)
          if (msg.ok) waiting?.resolve(msg)
          else waiting?.reject(Object.assign(new Error(msg.message), { name: msg.name }))
        } else if (msg.ev === 'state' || msg.ev === 'datachannel' || msg.ev === 'icecandidate') link.pcs.get(msg.pc)?.onPage(msg)
        else link.channels.get(msg.ch)?.onPage(msg)
      })
      port.start?.()
      links.push(link)
      return {
        gone: () => {
          if (link.gone) return
          link.gone = true
          links.splice(links.indexOf(link), 1)
          for (const c of link.calls.values()) c.reject(new RtcPageGoneError())
          link.calls.clear()
          for (const pc of [...link.pcs.values()]) pc.pageGone()
          port.close?.()
        }
      }
    },
    count: () => links.length
  }
}

/**
 * Makes the stand-in the worker's RTCPeerConnection, where there is none (every worker in Chromium): @libp2p/webrtc's
 * browser code then dials through the page.
 */
export function installRtcBridge (): void {
  const g = globalThis as { RTCPeerConnection?: unknown, RTCSessionDescription?: unknown, RTCIceCandidate?: unknown }
  if (g.RTCPeerConnection !== undefined) return
  g.RTCPeerConnection = BridgedPeerConnection
  // the library reads these globals when it loads (its browser build's webrtc/index.js): install before importing it
  g.RTCSessionDescription ??= BridgedSessionDescription
  g.RTCIceCandidate ??= BridgedIceCandidate
}
