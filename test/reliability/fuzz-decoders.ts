// Fuzzing every decoder (issue 16 part 3) with fast-check: random bytes, random DAG-CBOR values, and valid
// inputs with bytes flipped, cut or spliced and with one node of their CBOR tree replaced, dropped or repeated.
// A decoder must return or throw a named error; an engine error (TypeError, RangeError …) or a bare Error is a
// crash here, and so is a case that takes over HANG_MS (a decoder that loops on what a peer sent stalls the node).
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DECODER_TARGETS, type DecoderTarget } from './decoder-targets'
import { buildSeeds, type Seeds } from './decoder-seeds'
import type { Row } from './table'

const HANG_MS = 1000
const ENGINE_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError', 'InternalError'])

export function isNamedError (err: unknown): boolean {
  return err instanceof Error && !ENGINE_ERRORS.has(err.name)
}

function cborValue (cids: CID[]): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.integer(), fc.integer({ min: 0, max: 40 }), fc.bigInt({ min: -(1n << 64n) + 1n, max: (1n << 64n) - 1n }),
    fc.uint8Array({ maxLength: 80 }), fc.constantFrom(0, 1, 32, 48, 65, 96, 97).map(n => new Uint8Array(n).fill(n & 0xff)),
    fc.string({ maxLength: 24 }), fc.boolean(), fc.constant(null), fc.constantFrom(...cids),
    fc.double({ noNaN: true, noDefaultInfinity: true })
  )
  const { value } = fc.letrec<{ value: unknown }>(tie => ({
    value: fc.oneof({ depthSize: 'small', maxDepth: 5 },
      leaf,
      fc.array(tie('value'), { maxLength: 10 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 })
    )
  }))
  return value
}

type Op = { op: 'flip' | 'set' | 'cut' | 'insert' | 'delete', at: number, byte: number, len: number }

function mutateBytes (seed: Uint8Array, ops: Op[]): Uint8Array {
  let b = Uint8Array.from(seed)
  for (const o of ops) {
    const at = b.length === 0 ? 0 : o.at % b.length
    if (o.op === 'flip' && b.length > 0) b[at] = b[at]! ^ (1 << (o.byte & 7))
    else if (o.op === 'set' && b.length > 0) b[at] = o.byte
    else if (o.op === 'cut') b = b.slice(0, at)
    else if (o.op === 'insert') b = Uint8Array.from([...b.slice(0, at), ...new Uint8Array(o.len % 9).fill(o.byte), ...b.slice(at)])
    else if (o.op === 'delete') b = Uint8Array.from([...b.slice(0, at), ...b.slice(at + 1 + (o.len % 8))])
  }
  return b
}

/** One node of the tree, found by `path` (each step picks a child modulo the count), replaced, dropped or repeated. */
function mutateValue (v: unknown, path: number[], op: 'replace' | 'drop' | 'repeat', replacement: unknown): unknown {
  const kids = (x: unknown): Array<[string | number, unknown]> | null =>
    Array.isArray(x) ? x.map((c, i) => [i, c]) : (x !== null && typeof x === 'object' && !(x instanceof Uint8Array) && CID.asCID(x) === null) ? Object.entries(x) : null
  const walk = (x: unknown, depth: number): unknown => {
    const k = kids(x)
    if (k === null || k.length === 0 || depth >= path.length) return depth === 0 ? replacement : x
    const [key] = k[path[depth]! % k.length]!
    const child = (x as Record<string | number, unknown>)[key]
    const deeper = depth + 1 < path.length && kids(child) !== null && kids(child)!.length > 0
    if (deeper) {
      const copy: any = Array.isArray(x) ? [...x] : { ...(x as object) }
      copy[key] = walk(child, depth + 1)
      return copy
    }
    if (Array.isArray(x)) {
      const copy = [...x]
      if (op === 'drop') copy.splice(key as number, 1)
      else if (op === 'repeat') copy.splice(key as number, 0, child)
      else copy[key as number] = replacement
      return copy
    }
    const copy: Record<string, unknown> = { ...(x as object) }
    if (op === 'drop') delete copy[key as string]
    else copy[key as string] = replacement
    return copy
  }
  return walk(v, 0)
}

function encodeOrNull (v: unknown): Uint8Array | null {
  try { return dagCbor.encode(v) } catch { return null }
}

/** Every node of a CBOR tree (what a `raw` decoder may be handed is often a field deep inside a block). */
function subvalues (v: unknown, out: unknown[] = []): unknown[] {
  out.push(v)
  if (Array.isArray(v)) for (const c of v) subvalues(c, out)
  else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null) for (const c of Object.values(v)) subvalues(c, out)
  return out
}

/** The seeds `t` decodes: mutating those reaches its deeper checks; none (a decoder we have no sample for) means all. */
function seedsFor (t: DecoderTarget, pool: unknown[]): unknown[] {
  const valid = pool.filter(x => { try { (t.decode as (y: unknown) => unknown)(x); return true } catch { return false } })
  return valid.length > 0 ? valid : pool
}

function inputs (t: DecoderTarget, seeds: Seeds, cids: CID[]): fc.Arbitrary<unknown> {
  const value = cborValue(cids)
  const op = fc.record({ op: fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete') as fc.Arbitrary<Op['op']>, at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), len: fc.nat(64) })
  const treeEditOf = (vals: unknown[]): fc.Arbitrary<unknown> =>
    fc.tuple(fc.nat(vals.length - 1), fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.constantFrom('replace', 'drop', 'repeat') as fc.Arbitrary<'replace' | 'drop' | 'repeat'>, value)
      .map(([i, path, o, r]) => mutateValue(vals[i], path, o, r))
  if (t.input === 'raw') {
    const own = seedsFor(t, seeds.values.flatMap(v => subvalues(v)).slice(0, 5000))
    return fc.oneof(value, { arbitrary: treeEditOf(own), weight: 4 }, fc.constantFrom(...own))
  }
  if (t.input === 'text') {
    const own = seedsFor(t, seeds.texts) as string[]
    const textEdit = fc.tuple(fc.nat(own.length - 1), fc.array(op, { minLength: 1, maxLength: 3 }))
      .map(([i, ops]) => new TextDecoder().decode(mutateBytes(new TextEncoder().encode(own[i]!), ops)))
    return fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.json({ maxDepth: 3 }), { arbitrary: textEdit, weight: 4 })
  }
  const own = seedsFor(t, seeds.bytes) as Uint8Array[]
  const ownValues = own.map(b => { try { return dagCbor.decode(b) } catch { return undefined } }).filter(v => v !== undefined)
  const byteEdit = fc.tuple(fc.nat(own.length - 1), fc.array(op, { minLength: 1, maxLength: 3 })).map(([i, ops]) => mutateBytes(own[i]!, ops))
  return fc.oneof(
    fc.constantFrom(...own),
    fc.uint8Array({ maxLength: 200 }),
    value.map(encodeOrNull).filter((b): b is Uint8Array => b !== null),
    { arbitrary: byteEdit, weight: 3 },
    { arbitrary: treeEditOf(ownValues.length > 0 ? ownValues : seeds.values).map(encodeOrNull).filter((b): b is Uint8Array => b !== null), weight: 4 }
  )
}

export interface FuzzOptions {
  /** Cases per decoder. */
  casesPerTarget: number
  seed?: number
  only?: (name: string) => boolean
  /** Per decoder: inputs it took, and errors it named (to see how deep the inputs reach). */
  stats?: Map<string, { ok: number, named: number }>
}

/** Decoders none of whose seeds they take: their fuzzing stays near the first layout check (a seed is missing). */
export function targetsWithoutSeeds (): string[] {
  const seeds = buildSeeds()
  return DECODER_TARGETS.filter(t => {
    const pool: unknown[] = t.input === 'bytes' ? seeds.bytes : t.input === 'text' ? seeds.texts : seeds.values.flatMap(v => subvalues(v)).slice(0, 5000)
    return seedsFor(t, pool) === pool && !pool.some(x => { try { (t.decode as (y: unknown) => unknown)(x); return true } catch { return false } })
  }).map(t => t.name)
}

/** Runs every decoder on `casesPerTarget` inputs; the row counts engine errors and hangs as crashes. */
export function fuzzDecoders (opts: FuzzOptions): Row {
  const started = performance.now()
  const seeds = buildSeeds()
  const cids = seeds.values.flatMap(v => { const c = CID.asCID(v); return c === null ? [] : [c] })
  const cidList = cids.length > 0 ? cids : [CID.parse('bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4')]
  let tries = 0
  let crashes = 0
  const kinds = new Map<string, string>()
  for (const t of DECODER_TARGETS) {
    if (opts.only !== undefined && !opts.only(t.name)) continue
    fc.assert(fc.property(inputs(t, seeds, cidList), (input) => {
      tries++
      const t0 = performance.now()
      let failure: string | null = null
      const st = opts.stats === undefined ? undefined : opts.stats.get(t.name) ?? opts.stats.set(t.name, { ok: 0, named: 0 }).get(t.name)!
      try {
        (t.decode as (x: unknown) => unknown)(input)
        if (st !== undefined) st.ok++
      } catch (err) {
        if (st !== undefined && isNamedError(err)) st.named++
        if (!isNamedError(err)) failure = `${(err as Error)?.name ?? typeof err}: ${String((err as Error)?.message ?? err).slice(0, 120)}`
      }
      const ms = performance.now() - t0
      if (failure === null && ms > HANG_MS) failure = `took ${Math.round(ms)} ms`
      if (failure !== null) {
        crashes++
        const key = `${t.name} ${failure.replace(/[0-9]+/g, 'N')}`
        if (!kinds.has(key)) kinds.set(key, `${t.name}: ${failure} on ${show(input)}`)
      }
      return true
    }), { numRuns: opts.casesPerTarget, ...(opts.seed === undefined ? {} : { seed: opts.seed }) })
  }
  return { scenario: 'fuzz: every decoder', tries, acceptedLies: 0, crashes, dataLost: 0, ms: performance.now() - started, failures: [...kinds.values()] }
}

function show (input: unknown): string {
  if (input instanceof Uint8Array) return `0x${Buffer.from(input).toString('hex').slice(0, 160)}`
  if (typeof input === 'string') return JSON.stringify(input.slice(0, 120))
  try { return Buffer.from(dagCbor.encode(input)).toString('hex').slice(0, 160) } catch { return String(input).slice(0, 120) }
}
