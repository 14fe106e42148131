// The messages between a light node in a worker and the page that makes its WebRTC connections: Chromium has no
// RTCPeerConnection in any worker (measured in Chromium 150–156: dedicated and shared), so a page holds each real
// connection and its data channels and relays their bytes over a MessagePort (rtc-page-host.ts), while the node's
// libp2p uses stand-ins with the same surface (bridged-rtc.ts). smoldot splits page and worker the same way.
// A data channel cannot be handed to the node instead: Chromium transfers one to a dedicated worker but not to a
// SharedWorker, which has no RTCDataChannel at all (measured), and the node lives there.

/** The node asks the page (numbers are the node's: `pc` a connection, `ch` a channel it opened, > 0). */
export type NodeToPage =
  | { op: 'open', pc: number, config: { iceServers?: RTCIceServer[] } }
  | { op: 'call', id: number, pc: number, method: 'createOffer' | 'createAnswer' | 'setLocalDescription' | 'setRemoteDescription', arg?: RTCSessionDescriptionInit }
  /** A candidate the remote side sent by signalling (WebRTC through a relay); null: it has no more. */
  | { op: 'call', id: number, pc: number, method: 'addIceCandidate', arg: RTCIceCandidateInit | null }
  | { op: 'close', pc: number }
  | { op: 'channel', pc: number, ch: number, label: string, init: RTCDataChannelInit }
  | { op: 'send', ch: number, data: ArrayBuffer }
  | { op: 'close-channel', ch: number }

/** The page tells the node (a channel the remote side opened gets a number < 0 from the page). */
export type PageToNode =
  | { ev: 'result', id: number, ok: true, value?: RTCSessionDescriptionInit | null, local?: RTCSessionDescriptionInit | null }
  | { ev: 'result', id: number, ok: false, name: string, message: string }
  | { ev: 'state', pc: number, state: RTCPeerConnectionState }
  /** A local candidate to signal to the remote side; null when gathering is over. */
  | { ev: 'icecandidate', pc: number, candidate: RTCIceCandidateInit | null }
  | { ev: 'datachannel', pc: number, ch: number, label: string, protocol: string, id: number | null, readyState: RTCDataChannelState }
  | { ev: 'open', ch: number, id: number | null }
  | { ev: 'message', ch: number, data: ArrayBuffer }
  /** `left` bytes of those the node sent on the channel have left the page's buffer. */
  | { ev: 'drained', ch: number, left: number }
  | { ev: 'error', ch: number, message: string }
  | { ev: 'closed', ch: number }

/** A description as plain data: what structured clone carries, whatever class the browser or the library made it of. */
export const plainDescription = (d: RTCSessionDescriptionInit): RTCSessionDescriptionInit => ({ type: d.type, ...(d.sdp === undefined ? {} : { sdp: d.sdp }) })

/** The part of a MessagePort either side uses. */
export interface RtcPort<Out, In> {
  postMessage: (msg: Out, transfer: Transferable[]) => void
  addEventListener: (type: 'message', listener: (evt: MessageEvent<In>) => void) => void
  removeEventListener?: (type: 'message', listener: (evt: MessageEvent<In>) => void) => void
  start?: () => void
  close?: () => void
}
