// What kind of preview a file gets: from the magic bytes of its first verified range, then its name's extension
// (magic first: a name is only a claim, and a browser fed the wrong type for media refuses to play it).
export type PreviewKind = 'image' | 'text' | 'audio' | 'video' | 'none'
export interface PreviewType { kind: PreviewKind, mime: string }

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (b.length < at + s.length) return false
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false
  return true
}

/** Signatures of the formats a browser shows or plays (WHATWG MIME Sniffing §6, plus the media containers). */
function byMagic (b: Uint8Array): PreviewType | null {
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n')) return { kind: 'image', mime: 'image/png' }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { kind: 'image', mime: 'image/jpeg' }
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) return { kind: 'image', mime: 'image/gif' }
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return { kind: 'image', mime: 'image/webp' }
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WAVE')) return { kind: 'audio', mime: 'audio/wav' }
  if (ascii(b, 0, 'OggS')) return { kind: 'audio', mime: 'audio/ogg' }
  if (ascii(b, 0, 'fLaC')) return { kind: 'audio', mime: 'audio/flac' }
  if (ascii(b, 0, 'ID3') || (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0)) return { kind: 'audio', mime: 'audio/mpeg' }
  // EBML: WebM (or Matroska); video unless the name says audio (checked by the caller)
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { kind: 'video', mime: 'video/webm' }
  if (ascii(b, 4, 'ftyp')) return ascii(b, 8, 'M4A ') ? { kind: 'audio', mime: 'audio/mp4' } : { kind: 'video', mime: 'video/mp4' }
  return null
}

const BY_EXT: Record<string, PreviewType> = {
  png: { kind: 'image', mime: 'image/png' }, jpg: { kind: 'image', mime: 'image/jpeg' }, jpeg: { kind: 'image', mime: 'image/jpeg' },
  gif: { kind: 'image', mime: 'image/gif' }, webp: { kind: 'image', mime: 'image/webp' }, avif: { kind: 'image', mime: 'image/avif' },
  svg: { kind: 'image', mime: 'image/svg+xml' },
  wav: { kind: 'audio', mime: 'audio/wav' }, mp3: { kind: 'audio', mime: 'audio/mpeg' }, ogg: { kind: 'audio', mime: 'audio/ogg' },
  oga: { kind: 'audio', mime: 'audio/ogg' }, opus: { kind: 'audio', mime: 'audio/ogg' }, flac: { kind: 'audio', mime: 'audio/flac' }, m4a: { kind: 'audio', mime: 'audio/mp4' },
  weba: { kind: 'audio', mime: 'audio/webm' },
  webm: { kind: 'video', mime: 'video/webm' }, mp4: { kind: 'video', mime: 'video/mp4' }, m4v: { kind: 'video', mime: 'video/mp4' }, ogv: { kind: 'video', mime: 'video/ogg' },
  txt: { kind: 'text', mime: 'text/plain' }, md: { kind: 'text', mime: 'text/plain' }, json: { kind: 'text', mime: 'text/plain' }, csv: { kind: 'text', mime: 'text/plain' },
  log: { kind: 'text', mime: 'text/plain' }, ts: { kind: 'text', mime: 'text/plain' }, js: { kind: 'text', mime: 'text/plain' }, html: { kind: 'text', mime: 'text/plain' }
}

/** True when `b` decodes as UTF-8 with no NUL or other control bytes but tab and line ends (a cut last character allowed). */
function looksLikeText (b: Uint8Array): boolean {
  if (b.length === 0) return false
  for (const x of b.subarray(0, 4096)) if (x < 0x20 && x !== 0x09 && x !== 0x0a && x !== 0x0d && x !== 0x0c) return false
  try { new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: true }); return true } catch { return false }
}

export function previewType (name: string, head: Uint8Array): PreviewType {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase()
  const named = ext === undefined ? undefined : BY_EXT[ext]
  const magic = byMagic(head)
  // SVG is text: only the name tells it from other XML (and it is shown as an image, never inlined)
  if (named?.mime === 'image/svg+xml') return named
  if (magic !== null) return magic.mime === 'video/webm' && named?.kind === 'audio' ? { kind: 'audio', mime: 'audio/webm' } : magic
  if (looksLikeText(head)) return { kind: 'text', mime: 'text/plain' }
  // a name that says text over bytes that are not: shown as nothing rather than as mojibake
  return named !== undefined && named.kind !== 'text' ? named : { kind: 'none', mime: 'application/octet-stream' }
}
