// WebRTC-Direct for Node nodes (issue 15 part 1): a browser dials it with no TLS certificate from a CA, trusting the
// node's self-signed one by its hash in the multiaddr (`/udp/<port>/webrtc-direct/certhash/<sha256>`), which is how
// a PWA served over HTTPS reaches a node that has only an IP address. The certificate is kept in the node's folder,
// so a restart keeps its certhash and every address handed out before (a bootstrap document, a miner's on-chain
// record) stays dialable. Made here with @peculiar/x509, as @libp2p/webrtc makes its own (ECDSA P-256, self-signed);
// libp2p's would live only in memory without a keychain and datastore, and change at every start.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first (as @libp2p/webrtc does)
import 'reflect-metadata'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import * as x509 from '@peculiar/x509'
import { webRTCDirect } from '@libp2p/webrtc'
import { sha256 } from 'multiformats/hashes/sha2'
import { base64url } from 'multiformats/bases/base64'
import { writeFileDurably } from './provider/durable-write'

/** The folder file holding the node's WebRTC-Direct certificate and key. */
export const WEBRTC_DIRECT_CERT_FILE = 'webrtc-direct.json'

/** A year: renewing changes the certhash, so every address handed out would have to be handed out again. */
const CERT_LIFETIME_MS = 365 * 24 * 3600 * 1000
/** A certificate this close to its end is replaced at the next start. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000

/** @libp2p/webrtc's TransportCertificate: PEM key and certificate, and the multibase certhash of its DER. */
export interface WebRtcDirectCertificate { privateKey: string, pem: string, certhash: string }

interface Stored extends WebRtcDirectCertificate { notAfterMs: number }

const pem = (label: string, der: ArrayBuffer): string =>
  [`-----BEGIN ${label}-----`, ...(Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []), `-----END ${label}-----`].join('\n')

async function createCertificate (nowMs: number): Promise<Stored> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  // the keys must come from the WebCrypto x509 signs with (@libp2p/webrtc sets @peculiar/webcrypto's as its provider):
  // Node's own CryptoKeys are refused by it
  const subtle = x509.cryptoProvider.get().subtle
  const keys = await subtle.generateKey(alg, true, ['sign', 'verify'])
  const notBefore = new Date(Math.floor(nowMs / 1000) * 1000 - 60_000) // a minute of clock skew
  const notAfter = new Date(notBefore.getTime() + CERT_LIFETIME_MS)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=coffer-node',
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)]
  })
  return {
    privateKey: pem('PRIVATE KEY', await subtle.exportKey('pkcs8', keys.privateKey)),
    pem: cert.toString('pem'),
    certhash: base64url.encode((await sha256.digest(new Uint8Array(cert.rawData))).bytes),
    notAfterMs: notAfter.getTime()
  }
}

/** The folder's certificate, made (and kept) when there is none or it ends within a month. */
export async function loadOrCreateWebRtcCertificate (dir: string, nowMs = Date.now()): Promise<WebRtcDirectCertificate> {
  const file = path.join(dir, WEBRTC_DIRECT_CERT_FILE)
  const stored = await readFile(file, 'utf8').then(t => JSON.parse(t) as Stored, () => null)
  if (stored !== null && typeof stored.pem === 'string' && typeof stored.privateKey === 'string' && typeof stored.certhash === 'string' && stored.notAfterMs - RENEW_BEFORE_MS > nowMs) {
    return { privateKey: stored.privateKey, pem: stored.pem, certhash: stored.certhash }
  }
  const made = await createCertificate(nowMs)
  await writeFileDurably(file, JSON.stringify(made))
  return { privateKey: made.privateKey, pem: made.pem, certhash: made.certhash }
}

/** The WebRTC-Direct transport with the folder's certificate, for createCofferLibp2p's `transports`. */
export async function webRtcDirectTransport (dir: string): Promise<ReturnType<typeof webRTCDirect>> {
  return webRTCDirect({ certificate: await loadOrCreateWebRtcCertificate(dir) })
}
