// The most a file's CAR can be (carBytesAtMost), which a download's lane is funded for when its link carries only the
// file's size: the vouchers pay for block bytes, fewer than the CAR's, so the CAR our packer writes for the file must
// fit. A bound that fell short left the last vouchers waiting for a top-up (a block or two) at the end of every such
// download.
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { writeUnixfsCar, carBytesAtMost } from '../../src/light/unixfs-car'

const MiB = 2 ** 20

async function carBytesOf (size: number): Promise<number> {
  const chunks = function * (): Iterable<Uint8Array> {
    for (let at = 0; at < size; at += MiB) yield new Uint8Array(randomBytes(Math.min(MiB, size - at)))
  }
  const car = await writeUnixfsCar(chunks(), { write: async () => {}, writeAt: async () => {} })
  return car.carBytes
}

describe('carBytesAtMost', () => {
  it('holds the whole CAR of files from one byte to 64 MiB, and is not far above it', async () => {
    for (const size of [1, 256 * 1024, 256 * 1024 + 1, 3 * MiB + 17, 64 * MiB]) {
      const car = await carBytesOf(size)
      const bound = carBytesAtMost(size)
      expect(bound, `${size} bytes: CAR ${car}`).toBeGreaterThanOrEqual(car)
      // a margin of tenths of a per mille (and 4 KiB), not a second copy of the file
      expect(bound - car, `${size} bytes`).toBeLessThan(8192 + size / 2000)
    }
  })
})
