// The channel's charged blocks on disk: what a restarted provider reads back, a torn last append ignored and cut
// off (so the next append starts its own line), and a damaged line refused by name.
import { describe, it, expect } from 'vitest'
import { mkdtemp, readFile, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from '../../src/core'
import { ChargedBlocks, ChargedBlockRecordError } from '../../src/node/provider/charged-blocks'

const cidOf = async (n: number): Promise<string> => CID.createV1(0x55, await sha256.digest(new Uint8Array([n]))).toString()

describe('charged blocks on disk', () => {
  it('are read back after a restart; only what was flushed counts', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'coffer-charged-')), 't01002.charged')
    const a = await ChargedBlocks.open(file)
    expect(a.size).toBe(0)
    const [x, y, z] = await Promise.all([cidOf(1), cidOf(2), cidOf(3)])
    a.add(x); a.add(y); a.add(x)
    await a.flush()
    a.add(z) // never flushed: a crash here loses it, and no ledger written counted it
    const b = await ChargedBlocks.open(file)
    expect([b.has(x), b.has(y), b.has(z), b.size]).toEqual([true, true, false, 2])
    expect(b.snapshot()).toEqual(new Set([x, y]))
  })

  it('a torn last append is ignored and cut off; a damaged complete line is refused by name', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'coffer-charged-')), 't01002.charged')
    const [x, y] = await Promise.all([cidOf(1), cidOf(2)])
    await writeFile(file, `${x}\n${y.slice(0, 20)}`)
    const a = await ChargedBlocks.open(file)
    expect([a.has(x), a.size]).toEqual([true, 1])
    a.add(y)
    await a.flush()
    expect(await readFile(file, 'utf8')).toBe(`${x}\n${y}\n`)
    expect((await ChargedBlocks.open(file)).size).toBe(2)
    await appendFile(file, 'not a cid\n')
    const err = await ChargedBlocks.open(file).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(ChargedBlockRecordError)
    expect((err as ChargedBlockRecordError).line).toBe(3)
  })
})
