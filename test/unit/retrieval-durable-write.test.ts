// The provider's voucher records survive a crash: the temporary file is synced before the rename, and the
// directory after it (the rename is an entry of the directory; syncing the file does not persist it). The
// filesystem calls are recorded in order through a wrapped node:fs/promises.
import { describe, it, expect, vi, beforeEach } from 'vitest'
import { mkdtemp, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

const ops = vi.hoisted(() => [] as string[])
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const name = (p: unknown): string => path.basename(String(p))
  const open = async (p: string, flags?: string): Promise<import('node:fs/promises').FileHandle> => {
    const fh = await fs.open(p, flags)
    ops.push(`open ${name(p)}`)
    return new Proxy(fh, {
      get (t, k) {
        if (k === 'sync') return async () => { ops.push(`sync ${name(p)}`); await t.sync() }
        const v = Reflect.get(t, k) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
      }
    })
  }
  const rename = async (a: string, b: string): Promise<void> => { ops.push(`rename ${name(a)} ${name(b)}`); await fs.rename(a, b) }
  return { ...fs, default: { ...fs, open, rename }, open, rename }
})

const { writeFileDurably } = await import('../../src/node/provider/durable-write')
const { RetrievalServer } = await import('../../src/node/provider/retrieval-server')
const { writeVoucherRecord } = await import('../../src/node/provider/voucher-records')

beforeEach(() => { ops.length = 0 })

describe('durable record writes', () => {
  it('syncs the temporary file, renames it over the record, then syncs the directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-durable-'))
    const file = path.join(dir, 'rec.json')
    await writeFileDurably(file, '{"a":1}')
    await writeFileDurably(file, '{"a":2}')
    expect(await readFile(file, 'utf8')).toBe('{"a":2}')
    expect(await readdir(dir)).toEqual(['rec.json'])
    const one = ['open rec.json.tmp', 'sync rec.json.tmp', 'rename rec.json.tmp rec.json', `open ${path.basename(dir)}`, `sync ${path.basename(dir)}`]
    expect(ops).toEqual([...one, ...one])
  })

  it('the retrieval server\'s channel record (vouchers and ledger) is written that way', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coffer-durable-'))
    await RetrievalServer.open({ provider: { store: { dir } } as never })
    ops.length = 0
    await writeVoucherRecord(path.join(dir, 'vouchers', 't01500.json'), { channel: 't01500', address: 't01500', lanes: [], ledger: { sentBytes: 5, charged: 5n, paid: 0n } })
    expect(ops).toEqual(['open t01500.json.tmp', 'sync t01500.json.tmp', 'rename t01500.json.tmp t01500.json', 'open vouchers', 'sync vouchers'])
    // and what it wrote is read back on a restart, the debt included
    const again = await RetrievalServer.open({ provider: { store: { dir } } as never })
    expect(again.status().channels).toEqual([{ channel: 't01500', address: 't01500', lanes: [], ledger: { sentBytes: 5, charged: 5n, paid: 0n } }])
  })
})
