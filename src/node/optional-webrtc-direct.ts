// WebRTC-Direct where it can run: its transport brings a native module (node-datachannel), loaded only when a node
// listens with it. Where that module cannot load (a platform without a prebuilt binary), the node says so and goes
// on with WebSockets alone rather than not starting: a browser still reaches it through a TLS-fronted WebSocket.
import type { Libp2pOptions } from 'libp2p'

type Transport = NonNullable<Libp2pOptions['transports']>[number]

/** The transport and the address to listen on, or nothing (logged) where WebRTC-Direct cannot load. */
export async function tryWebRtcDirect (dataDir: string, host: string, port: number, log: (line: string) => void): Promise<{ transports: Transport[], listen: string[] }> {
  try {
    const transport = await (await import('./webrtc-direct')).webRtcDirectTransport(dataDir)
    return { transports: [transport], listen: [`/ip4/${host}/udp/${port}/webrtc-direct`] }
  } catch (err) {
    log(`WebRTC-Direct cannot run here (${(err as Error).message}): listening with WebSockets only`)
    return { transports: [], listen: [] }
  }
}
