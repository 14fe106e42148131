// Parsing of gateway requests, without I/O: the path (/ipfs/{cid}[/…], /piece/{pieceCid}), the response format
// (format= and Accept, as the IPFS Trustless Gateway spec negotiates them), dag-scope and entity-bytes (IPIP-402),
// and HTTP Range (RFC 9110 §14). Each refusal is the GatewayError whose status the specs ask for.
import { CID } from 'multiformats/cid'
import { MalformedRequestError, NotAcceptableError, EntityBytesError, RangeNotSatisfiableHttpError } from './errors'

export type GatewayPath =
  | { kind: 'ipfs', cid: CID, /** Path segments after the CID (a UnixFS file has none). */ rest: string[] }
  | { kind: 'piece', cid: CID }

/** The longest CID string accepted: a CIDv1 with a 64-byte digest in base32 is ~110 characters. */
const MAX_CID_CHARS = 256

/** `/ipfs/{cid}[/…]` or `/piece/{cid}`; null for any other path (the server answers 404). */
export function parseGatewayPath (pathname: string): GatewayPath | null {
  const m = /^\/(ipfs|piece)\/([^/]*)(\/.*)?$/.exec(pathname)
  if (m === null) return null
  const kind = m[1] as 'ipfs' | 'piece'
  const text = m[2]!
  let cid: CID
  if (text.length === 0 || text.length > MAX_CID_CHARS) throw new MalformedRequestError(`/${kind}/ needs a CID`)
  try {
    cid = CID.parse(text)
  } catch (err) {
    throw new MalformedRequestError(`${text} is not a CID: ${(err as Error).message}`)
  }
  if (kind === 'piece') {
    if (m[3] !== undefined && m[3] !== '/') throw new MalformedRequestError('a piece has no paths inside it')
    return { kind, cid }
  }
  let rest: string[]
  try {
    rest = (m[3] ?? '').split('/').filter(s => s.length > 0).map(s => decodeURIComponent(s))
  } catch {
    throw new MalformedRequestError(`path ${m[3]} is not valid percent-encoding`)
  }
  return { kind, cid, rest }
}

export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'
export const RAW_MEDIA_TYPE = 'application/vnd.ipld.raw'

/**
 * What the response is: one raw block, or a CAR v1 in depth-first order, with or without duplicate blocks. The
 * walk (core/retrieval UnixfsWalk) visits every occurrence, so both are served: `dups=y` sends each visit,
 * `dups=n` (the spec's default when the client does not say) each block once.
 */
export type ResponseFormat = { kind: 'raw' } | { kind: 'car', dups: boolean }

/** format= values of the path gateway that this trustless-only gateway knows but does not produce. */
const UNSERVED_FORMATS = new Set(['tar', 'json', 'cbor', 'dag-json', 'dag-cbor', 'ipns-record'])

interface MediaRange { type: string, params: Map<string, string>, q: number }

/** RFC 9110 §12.5.1: `type/subtype *(OWS ";" OWS name=value)`, q taken out; malformed entries are skipped. */
function parseAccept (accept: string): MediaRange[] {
  const out: MediaRange[] = []
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map(s => s.trim())
    if (type === undefined || !/^[\w.+*-]+\/[\w.+*-]+$/.test(type)) continue
    const map = new Map<string, string>()
    let q = 1
    for (const p of params) {
      const eq = p.indexOf('=')
      if (eq <= 0) continue
      const name = p.slice(0, eq).trim().toLowerCase()
      const value = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      if (name === 'q') q = Number(value)
      else map.set(name, value.toLowerCase())
    }
    if (!(q > 0)) continue // q=0 is "not acceptable"; a q that is no number is ignored with its entry
    out.push({ type: type.toLowerCase(), params: map, q })
  }
  // a stable sort: equal q keep the client's order
  return out.sort((a, b) => b.q - a.q)
}

/** The CAR variants this gateway can produce for an Accept entry's parameters, or null. */
function carVariant (params: ReadonlyMap<string, string>): { dups: boolean } | null {
  const version = params.get('version')
  const order = params.get('order')
  const dups = params.get('dups')
  if (version !== undefined && version !== '1') return null
  if (order !== undefined && order !== 'dfs' && order !== 'unk') return null
  if (dups !== undefined && dups !== 'y' && dups !== 'n') return null
  return { dups: dups === 'y' }
}

/**
 * The response format: `format=` first (the spec: it SHOULD take precedence over Accept), then the first
 * acceptable Accept entry by q. The car-version/car-order/car-dups query parameters override Accept's.
 * No format and no Accept is a 400 (the spec's strict trustless mode); an Accept naming nothing served, 406.
 */
export function negotiateFormat (query: URLSearchParams, accept: string | undefined): ResponseFormat {
  const format = query.get('format')
  let chosen: ResponseFormat | undefined
  if (format !== null && format !== '') {
    if (format === 'raw') chosen = { kind: 'raw' }
    else if (format === 'car') {
      // Accept may still carry the CAR parameters the query leaves out
      const fromAccept = parseAccept(accept ?? '').find(m => m.type === CAR_MEDIA_TYPE && carVariant(m.params) !== null)
      chosen = { kind: 'car', dups: fromAccept === undefined ? false : carVariant(fromAccept.params)!.dups }
    } else if (UNSERVED_FORMATS.has(format)) throw new NotAcceptableError(`format=${format} is not served: this is a trustless gateway (format=car or format=raw)`)
    else throw new MalformedRequestError(`format=${format} is not a gateway format`)
  } else {
    if (accept === undefined || accept.trim() === '') {
      throw new MalformedRequestError(`a trustless gateway needs format=car or format=raw, or Accept: ${CAR_MEDIA_TYPE} or ${RAW_MEDIA_TYPE}`)
    }
    for (const m of parseAccept(accept)) {
      if (m.type === RAW_MEDIA_TYPE) { chosen = { kind: 'raw' }; break }
      if (m.type === CAR_MEDIA_TYPE) {
        const v = carVariant(m.params)
        if (v !== null) { chosen = { kind: 'car', dups: v.dups }; break }
      }
    }
    if (chosen === undefined) throw new NotAcceptableError(`Accept: ${accept} names nothing this gateway serves: ${RAW_MEDIA_TYPE}, or ${CAR_MEDIA_TYPE}; version=1; order=dfs; dups=y|n`)
  }
  if (chosen.kind === 'car') {
    const version = query.get('car-version')
    const order = query.get('car-order')
    const dups = query.get('car-dups')
    if (version !== null && version !== '1') throw new NotAcceptableError(`car-version=${version}: only CAR version 1 is served`)
    if (order !== null && order !== 'dfs' && order !== 'unk') throw new NotAcceptableError(`car-order=${order}: only order=dfs is served`)
    if (dups !== null) {
      if (dups !== 'y' && dups !== 'n') throw new MalformedRequestError(`car-dups=${dups} is neither y nor n`)
      chosen = { kind: 'car', dups: dups === 'y' }
    }
  }
  return chosen
}

/** The Content-Type of a CAR response: every parameter stated, as the spec asks a gateway to. */
export const carContentType = (f: { dups: boolean }): string => `${CAR_MEDIA_TYPE}; version=1; order=dfs; dups=${f.dups ? 'y' : 'n'}`

export type DagScope = 'block' | 'entity' | 'all'

export function parseDagScope (query: URLSearchParams): DagScope | undefined {
  const s = query.get('dag-scope')
  if (s === null) return undefined
  if (s === 'block' || s === 'entity' || s === 'all') return s
  throw new MalformedRequestError(`dag-scope=${s} is not block, entity or all`)
}

/** `entity-bytes=from:to` as written: `to` inclusive or '*' (end of file); either may be negative (from the end). */
export interface EntityBytes { from: number, to: number | '*' }

const INTEGER = /^-?(0|[1-9][0-9]{0,15})$/

/**
 * IPIP-402's entity-bytes. Malformed values, and a `from` after a `to` when both count from the start (the one
 * case refusable before the file's size is known, as boxo refuses it), are 400s.
 */
export function parseEntityBytes (query: URLSearchParams): EntityBytes | undefined {
  const v = query.get('entity-bytes')
  if (v === null) return undefined
  const m = /^([^:]*):([^:]*)$/.exec(v)
  if (m === null || !INTEGER.test(m[1]!) || (m[2] !== '*' && !INTEGER.test(m[2]!))) {
    throw new EntityBytesError(`entity-bytes=${v} is not from:to (integers, to may be *)`)
  }
  const from = Number(m[1])
  const to = m[2] === '*' ? '*' : Number(m[2])
  if (!Number.isSafeInteger(from) || (to !== '*' && !Number.isSafeInteger(to))) throw new EntityBytesError(`entity-bytes=${v} is beyond 2^53`)
  if (to !== '*' && from >= 0 && to >= 0 && to < from) throw new EntityBytesError(`entity-bytes=${v}: from is after to`)
  return { from, to }
}

/**
 * entity-bytes resolved against the file's size, as [from, to) (to exclusive): negative values count from the end,
 * a `to` past the end is cut to it. A range wholly outside the file is refused (the spec: a gateway SHOULD answer
 * 400 when it can tell up front); one that resolves to nothing inside it is null (served as dag-scope=block).
 */
export function resolveEntityBytes (e: EntityBytes, size: number): { from: number, to: number } | null {
  const from = e.from < 0 ? Math.max(0, size + e.from) : e.from
  const last = e.to === '*' ? size - 1 : e.to < 0 ? size + e.to : Math.min(e.to, size - 1)
  if (from >= size && !(size === 0 && from === 0)) throw new EntityBytesError(`entity-bytes=${e.from}:${e.to} starts past the end of the ${size}-byte file`)
  if (last < from) return null
  return { from, to: last + 1 }
}

/** A Range header as RFC 9110 §14.1.2 writes one byte range: first-last, first- or -suffix. */
export type ByteRangeSpec = { first: number, last?: number } | { suffix: number }

/**
 * The Range header, or null when it is absent or must be ignored (RFC 9110 §14.2: a server MAY ignore Range,
 * and MUST ignore a range unit it does not know): a unit other than bytes, a syntax error, an inverted range
 * (§14.1.1: last-pos below first-pos makes it invalid), or several ranges (no multipart/byteranges here).
 * The response is then the whole representation with 200. `reason` says why it was ignored.
 */
export function parseRange (header: string | undefined): { range: ByteRangeSpec | null, ignored?: string } {
  if (header === undefined) return { range: null }
  const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(header)
  if (m === null) return { range: null, ignored: 'Range does not parse' }
  if (m[1]!.toLowerCase() !== 'bytes') return { range: null, ignored: `range unit ${m[1]} is not bytes` }
  const specs = m[2]!.split(',').map(s => s.trim()).filter(s => s.length > 0)
  if (specs.length !== 1) return { range: null, ignored: specs.length === 0 ? 'Range names no range' : 'several ranges are not served (no multipart/byteranges)' }
  const spec = specs[0]!
  const digits = /^[0-9]{1,16}$/
  const r = /^([0-9]*)-([0-9]*)$/.exec(spec)
  if (r === null) return { range: null, ignored: `${spec} is not a byte range` }
  const [a, b] = [r[1]!, r[2]!]
  if (a === '') {
    if (!digits.test(b)) return { range: null, ignored: `${spec} is not a byte range` }
    return { range: { suffix: Number(b) } }
  }
  if (!digits.test(a) || (b !== '' && !digits.test(b))) return { range: null, ignored: `${spec} is not a byte range` }
  const first = Number(a)
  if (b === '') return { range: { first } }
  const last = Number(b)
  if (last < first) return { range: null, ignored: `${spec} is inverted: last-pos below first-pos makes it invalid` }
  return { range: { first, last } }
}

/**
 * A byte range resolved against a representation of `size` bytes, as [from, to): last-pos past the end is cut to
 * it; a first-pos at or past the end, or a zero suffix, is not satisfiable (416, RFC 9110 §14.1.2).
 */
export function resolveRange (r: ByteRangeSpec, size: number): { from: number, to: number } {
  if ('suffix' in r) {
    if (r.suffix === 0 || size === 0) throw new RangeNotSatisfiableHttpError(size, `bytes=-${r.suffix} selects nothing of ${size} bytes`)
    return { from: Math.max(0, size - r.suffix), to: size }
  }
  if (r.first >= size) throw new RangeNotSatisfiableHttpError(size, `bytes=${r.first}- starts at or past the end (${size} bytes)`)
  return { from: r.first, to: r.last === undefined ? size : Math.min(r.last, size - 1) + 1 }
}
