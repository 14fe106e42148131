// The preview's type from magic bytes and name (src/app/preview-type.ts), and the range reader's checks of a
// requested range (src/light/range-reader.ts checkRange): each bad range refused by its own name.
import { describe, it, expect } from 'vitest'
import { previewType } from '../../src/app/preview-type'
import { checkRange, MAX_READ_BYTES } from '../../src/light/range-reader'

const bytes = (...parts: Array<string | number[]>): Uint8Array => new Uint8Array(parts.flatMap(p => typeof p === 'string' ? [...p].map(c => c.charCodeAt(0)) : p))

describe('previewType', () => {
  it('goes by magic bytes before the name', () => {
    expect(previewType('x.bin', bytes([0x89], 'PNG\r\n\x1a\n', [0, 0]))).toEqual({ kind: 'image', mime: 'image/png' })
    expect(previewType('photo.txt', bytes([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ kind: 'image', mime: 'image/jpeg' })
    expect(previewType('a', bytes('RIFF', [1, 2, 3, 4], 'WAVEfmt '))).toEqual({ kind: 'audio', mime: 'audio/wav' })
    expect(previewType('a', bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 '))).toEqual({ kind: 'image', mime: 'image/webp' })
    expect(previewType('clip', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]))).toEqual({ kind: 'video', mime: 'video/webm' })
    expect(previewType('song.weba', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]))).toEqual({ kind: 'audio', mime: 'audio/webm' })
    expect(previewType('m', bytes([0, 0, 0, 0x20], 'ftypisom'))).toEqual({ kind: 'video', mime: 'video/mp4' })
    expect(previewType('m', bytes('OggS', [0]))).toEqual({ kind: 'audio', mime: 'audio/ogg' })
  })
  it('shows UTF-8 as text, cut characters allowed, and binary as nothing', () => {
    const text = new TextEncoder().encode('héllo wörld\n'.repeat(10))
    expect(previewType('notes', text)).toEqual({ kind: 'text', mime: 'text/plain' })
    // cut inside the two-byte é
    expect(previewType('notes', text.subarray(0, 2))).toEqual({ kind: 'text', mime: 'text/plain' })
    expect(previewType('data.txt', bytes([0, 1, 2, 3, 0xfe]))).toEqual({ kind: 'none', mime: 'application/octet-stream' })
    expect(previewType('blob', bytes([0xc3, 0x28, 0x41]))).toEqual({ kind: 'none', mime: 'application/octet-stream' })
  })
  it('falls back on the name for formats with no signature checked here', () => {
    expect(previewType('pic.avif', bytes([0, 1, 2]))).toEqual({ kind: 'image', mime: 'image/avif' })
    expect(previewType('logo.SVG', new TextEncoder().encode('<svg/>'))).toEqual({ kind: 'image', mime: 'image/svg+xml' })
  })
})

describe('checkRange', () => {
  const name = (f: () => unknown): string => { try { f(); return 'accepted' } catch (e) { return (e as Error).name } }
  it('accepts a range inside the file, the last byte included', () => {
    expect(checkRange(0, 10, 10)).toEqual({ from: 0, to: 10 })
    expect(checkRange(9, 10, 10)).toEqual({ from: 9, to: 10 })
  })
  it('refuses each bad range by name', () => {
    expect(name(() => checkRange(5, 4, 10))).toBe('InvertedRangeError')
    expect(name(() => checkRange(5, 5, 10))).toBe('InvertedRangeError')
    expect(name(() => checkRange(0, 11, 10))).toBe('RangeBeyondEndError')
    expect(name(() => checkRange(-1, 5, 10))).toBe('MalformedRangeError')
    expect(name(() => checkRange(0.5, 5, 10))).toBe('MalformedRangeError')
    expect(name(() => checkRange('0', 5, 10))).toBe('MalformedRangeError')
    expect(name(() => checkRange(0, Infinity, 10))).toBe('MalformedRangeError')
    expect(name(() => checkRange(0, MAX_READ_BYTES + 1, 2 ** 40))).toBe('RangeTooLargeError')
  })
})
