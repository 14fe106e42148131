// Tabs' announcements (tab-rendezvous.ts): what a tab says of where it can be reached is taken only as relayed
// WebRTC addresses of the tab that signed it; everything else is refused by name before anyone dials it.
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import * as dagCbor from '@ipld/dag-cbor'
import { encodeTabAnnouncement, decodeTabAnnouncement, relayOf, BadTabAnnouncementError, MAX_TAB_ADDRS, MAX_TAB_ANNOUNCEMENT_BYTES } from '../../src/net'

const tab = '12D3KooWNTsM5ttcxNjasYvmrhv4ht1VwP4ppUZk4rYZBYzTfD9S'
const other = '12D3KooWQCavy3eZECTuAfXEDHVWkSUsmx4cAQcsRHvZWTEYEnqH'
const relayed = (peer = tab): string => `/ip4/127.0.0.1/tcp/4001/ws/p2p/${other}/p2p-circuit/webrtc/p2p/${peer}`

describe('tab announcements', () => {
  it('round-trips a tab\'s relayed WebRTC addresses', () => {
    const addrs = [multiaddr(relayed()), multiaddr(relayed().replace('4001', '4002'))]
    expect(decodeTabAnnouncement(encodeTabAnnouncement(addrs), tab).map(String)).toEqual(addrs.map(String))
  })

  it('refuses by name what is not a relayed WebRTC address of its author', () => {
    const bad: Array<[string, Uint8Array]> = [
      ['not DAG-CBOR', new Uint8Array([0xff, 0x00])],
      ['not a list', dagCbor.encode({ addrs: [] })],
      ['empty', dagCbor.encode([])],
      ['too many', dagCbor.encode(Array.from({ length: MAX_TAB_ADDRS + 1 }, () => multiaddr(relayed()).bytes))],
      ['a string, not bytes', dagCbor.encode([relayed()])],
      ['not a multiaddr', dagCbor.encode([new Uint8Array([0xff, 0xff, 0xff])])],
      ['another peer\'s address', encodeTabAnnouncement([multiaddr(relayed(other))])],
      ['a direct address, not through a relay', encodeTabAnnouncement([multiaddr(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${tab}`)])],
      ['oversized', new Uint8Array(MAX_TAB_ANNOUNCEMENT_BYTES + 1)]
    ]
    for (const [what, bytes] of bad) {
      expect(() => decodeTabAnnouncement(bytes, tab), what).toThrow(BadTabAnnouncementError)
    }
  })

  it('names the relay an address goes through (a tab dials only through relays it is connected to)', () => {
    expect(relayOf(multiaddr(relayed()))).toBe(other)
    expect(relayOf(multiaddr(`/dns4/example.org/tcp/443/wss/p2p/${other}/p2p-circuit/webrtc/p2p/${tab}`))).toBe(other)
    expect(relayOf(multiaddr(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${tab}`))).toBeUndefined()
  })
})
