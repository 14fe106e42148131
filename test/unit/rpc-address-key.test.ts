// The key the JSON-RPC server keeps per-address limits under: IPv4 as is, IPv4-mapped IPv6 as its IPv4, and
// IPv6 by its /64 (a host is commonly handed a whole /64, so per-address limits count the prefix).
import { describe, it, expect } from 'vitest'
import { addressKey } from '../../src/node/rpc/rpc-limits'

describe('addressKey', () => {
  it('keeps IPv4 addresses, and unwraps IPv4-mapped IPv6', () => {
    expect(addressKey('127.0.0.1')).toBe('127.0.0.1')
    expect(addressKey('::ffff:127.0.0.2')).toBe('127.0.0.2')
    expect(addressKey('::FFFF:10.1.2.3')).toBe('10.1.2.3')
  })

  it('keys IPv6 by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64'
    expect(addressKey('2001:db8:0:1::1')).toBe(key)
    expect(addressKey('2001:0db8:0000:0001:abcd:ef01:2345:6789')).toBe(key)
    expect(addressKey('2001:db8::1:aaaa:bbbb:cccc:dddd')).toBe(key)
    expect(addressKey('2001:db8:0:1:ffff::')).toBe(key)
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('2001:db8:0:2::1')).not.toBe(key)
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
  })

  it('puts an unknown address under one key', () => {
    expect(addressKey(undefined)).toBe('?')
    expect(addressKey('')).toBe('?')
  })
})
