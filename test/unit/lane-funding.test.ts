// What a retrieval funds its lane for (core laneFundingBytes): at least every byte the vouchers can pay for when the
// quote is the file's size alone. The vouchers pay for block bytes, which are fewer than the CAR's, so the CAR our
// packer writes for the file must fit: a bound that fell short left the last vouchers waiting for a top-up (a block
// or two) at the end of every whole-file download.
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { laneFundingBytes } from '../../src/core'
import { writeUnixfsCar } from '../../src/light/unixfs-car'

const MiB = 2 ** 20

async function carBytesOf (size: number): Promise<number> {
  const chunks = function * (): Iterable<Uint8Array> {
    for (let at = 0; at < size; at += MiB) yield new Uint8Array(randomBytes(Math.min(MiB, size - at)))
  }
  const car = await writeUnixfsCar(chunks(), { write: async () => {}, writeAt: async () => {} })
  return car.carBytes
}

describe('laneFundingBytes', () => {
  it('covers the whole CAR of a file quoted by its size, from one byte to 64 MiB, and is not far above it', async () => {
    for (const size of [1, 256 * 1024, 256 * 1024 + 1, 3 * MiB + 17, 64 * MiB]) {
      const car = await carBytesOf(size)
      const funded = laneFundingBytes(size, 0)
      expect(funded, `${size} bytes: CAR ${car}`).toBeGreaterThanOrEqual(car)
      // a margin of tenths of a per mille (and 4 KiB), not a second copy of the file
      expect(funded - car, `${size} bytes`).toBeLessThan(8192 + size / 2000)
    }
  })

  it('adds one payment interval on top', () => {
    expect(laneFundingBytes(10 * MiB, MiB) - laneFundingBytes(10 * MiB, 0)).toBe(MiB)
  })
})
