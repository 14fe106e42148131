// The page's half of the WebRTC bridge (rtc-bridge-protocol.ts): real RTCPeerConnections and data channels, made
// when the light node asks, their events and bytes relayed to it. It keeps no protocol of its own: the node's libp2p
// does the SDP, the Noise handshake and the streams; this only holds what a worker cannot.
import { plainDescription, type NodeToPage, type PageToNode, type RtcPort } from './rtc-bridge-protocol'

/** How often a channel with bytes still buffered is looked at again (beside its 'bufferedamountlow' event). */
const DRAIN_POLL_MS = 50

export interface RtcPageHost { close: () => void }

/** Serves the node on `port` until `close` (or the page goes, taking its connections with it). */
export function serveRtcBridge (port: RtcPort<PageToNode, NodeToPage>): RtcPageHost {
  const pcs = new Map<number, RTCPeerConnection>()
  /** Each channel and the bytes the page has sent on it. */
  const channels = new Map<number, { dc: RTCDataChannel, sent: number, checking: boolean, pc: number }>()
  /** Forgets a connection and its channels: a closed RTCPeerConnection fires no close event on them (spec). */
  const forget = (pc: number): void => {
    pcs.delete(pc)
    for (const [ch, e] of channels) if (e.pc === pc) { channels.delete(ch); post({ ev: 'closed', ch }) }
  }
  let nextInbound = -1
  const post = (msg: PageToNode, transfer: Transferable[] = []): void => { port.postMessage(msg, transfer) }

  /**
   * Tells the node how many bytes have left the channel's buffer. Sent after each turn of sends and on
   * 'bufferedamountlow', and polled while bytes wait: an implementation that sends at once never lets the amount rise,
   * so it never fires the event (node-datachannel's: measured), and a node waiting on it would stall for good.
   */
  const report = (ch: number): void => {
    const entry = channels.get(ch)
    if (entry === undefined) return
    post({ ev: 'drained', ch, left: entry.sent - entry.dc.bufferedAmount })
  }
  const check = (ch: number): void => {
    const entry = channels.get(ch)
    if (entry === undefined) return
    entry.checking = false
    report(ch)
    if (entry.dc.bufferedAmount > 0 && entry.dc.readyState === 'open') { entry.checking = true; setTimeout(() => { check(ch) }, DRAIN_POLL_MS) }
  }

  const watchChannel = (ch: number, dc: RTCDataChannel, pc: number): void => {
    const entry = { dc, sent: 0, checking: false, pc }
    channels.set(ch, entry)
    dc.binaryType = 'arraybuffer'
    // the node counts what it handed over as buffered until this says it left: its streams wait on that (backpressure)
    dc.bufferedAmountLowThreshold = 0
    dc.addEventListener('bufferedamountlow', () => { report(ch) })
    dc.addEventListener('open', () => { post({ ev: 'open', ch, id: dc.id }) })
    dc.addEventListener('message', (e: MessageEvent<ArrayBuffer | string>) => {
      const data = typeof e.data === 'string' ? new TextEncoder().encode(e.data).buffer : e.data
      post({ ev: 'message', ch, data }, [data])
    })
    dc.addEventListener('error', (e) => { post({ ev: 'error', ch, message: (e as RTCErrorEvent).error?.message ?? 'data channel error' }) })
    dc.addEventListener('close', () => { channels.delete(ch); post({ ev: 'closed', ch }) })
  }

  const call = async (pc: RTCPeerConnection, msg: Extract<NodeToPage, { op: 'call' }>): Promise<RTCSessionDescriptionInit | null | undefined> => {
    switch (msg.method) {
      case 'createOffer': return await pc.createOffer()
      case 'createAnswer': return await pc.createAnswer()
      case 'setLocalDescription': await pc.setLocalDescription(msg.arg); return undefined
      case 'setRemoteDescription': await pc.setRemoteDescription(msg.arg!); return undefined
      case 'addIceCandidate': await pc.addIceCandidate(msg.arg ?? undefined); return undefined
    }
  }

  const listener = (e: MessageEvent<NodeToPage>): void => {
    const msg = e.data
    switch (msg.op) {
      case 'open': {
        // the browser's own certificate (Chromium's default is ECDSA P-256, what libp2p asks for): a worker cannot make one
        const pc = new RTCPeerConnection({ ...(msg.config.iceServers === undefined ? {} : { iceServers: msg.config.iceServers }) })
        pcs.set(msg.pc, pc)
        pc.addEventListener('connectionstatechange', () => {
          post({ ev: 'state', pc: msg.pc, state: pc.connectionState })
          if (pc.connectionState === 'closed' || pc.connectionState === 'failed') { if (pc.connectionState === 'failed') pc.close(); forget(msg.pc) }
        })
        pc.addEventListener('icecandidate', ({ candidate }) => {
          post({ ev: 'icecandidate', pc: msg.pc, candidate: candidate === null ? null : { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex, usernameFragment: candidate.usernameFragment } })
        })
        pc.addEventListener('datachannel', ({ channel }) => {
          const ch = nextInbound--
          // listened to before this handler returns: Chromium may deliver its first message right after
          watchChannel(ch, channel, msg.pc)
          post({ ev: 'datachannel', pc: msg.pc, ch, label: channel.label, protocol: channel.protocol, id: channel.id, readyState: channel.readyState })
        })
        return
      }
      case 'call': {
        const pc = pcs.get(msg.pc)
        if (pc === undefined) { post({ ev: 'result', id: msg.id, ok: false, name: 'InvalidStateError', message: 'the connection is closed' }); return }
        call(pc, msg).then(
          value => { post({ ev: 'result', id: msg.id, ok: true, value: value == null ? null : plainDescription(value), local: pc.localDescription === null ? null : plainDescription(pc.localDescription) }) }
        ).catch((err: Error) => { post({ ev: 'result', id: msg.id, ok: false, name: err.name, message: err.message }) })
        return
      }
      case 'close': pcs.get(msg.pc)?.close(); forget(msg.pc); return
      case 'channel': {
        const pc = pcs.get(msg.pc)
        if (pc === undefined) { post({ ev: 'closed', ch: msg.ch }); return }
        try {
          const dc = pc.createDataChannel(msg.label, msg.init)
          watchChannel(msg.ch, dc, msg.pc)
          if (dc.readyState === 'open') post({ ev: 'open', ch: msg.ch, id: dc.id })
        } catch (err) {
          post({ ev: 'error', ch: msg.ch, message: (err as Error).message })
          post({ ev: 'closed', ch: msg.ch })
        }
        return
      }
      case 'send': {
        const entry = channels.get(msg.ch)
        if (entry === undefined || entry.dc.readyState !== 'open') return // its close is on its way to the node
        try {
          entry.sent += msg.data.byteLength
          entry.dc.send(msg.data)
          if (!entry.checking) { entry.checking = true; setTimeout(() => { check(msg.ch) }, 0) }
        } catch (err) { post({ ev: 'error', ch: msg.ch, message: (err as Error).message }) }
        return
      }
      case 'close-channel': channels.get(msg.ch)?.dc.close()
    }
  }
  port.addEventListener('message', listener)
  port.start?.()
  return {
    close: () => {
      port.removeEventListener?.('message', listener)
      for (const pc of pcs.values()) pc.close()
      pcs.clear()
      channels.clear()
      port.close?.()
    }
  }
}
