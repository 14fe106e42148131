// Host side of the piece WASM module (workers/wasm/assembly/piece.ts): instantiates it from its bytes or a
// compiled module and offers its node hash through the same NodeHasher interface as the TypeScript
// reference, so one test suite and one tree builder serve both.
import type { NodeHasher } from '../../src/core'

interface PieceExports {
  memory: WebAssembly.Memory
  heapBase: () => number
  hashPairs: (input: number, output: number, pairs: number) => void
  hashPairsX4: (input: number, output: number, pairs: number) => void
  fr32Pad: (input: number, output: number, chunks: number) => void
  verifyPath: (root: number, value: number, path: number, levels: number, leaf: bigint, scratch: number) => number
  subtreeRoot: (input: number, chunks: number, scratch: number, out: number) => void
}

export interface PieceWasm {
  /** Four pairs at a time in SIMD lanes, and whole batches (FR32 + every level) in one call. */
  simd: NodeHasher
  /** One pair at a time (the same compression, without lanes). */
  scalar: NodeHasher
  fr32Pad: (input: Uint8Array, output: Uint8Array, chunks: number) => void
  /** The whole Merkle path check inside WASM (same contract as core's verifyMerklePath). */
  verifyMerklePath: (root: Uint8Array, leaf: number, value: Uint8Array, path: Uint8Array[]) => boolean
}

export async function instantiatePieceWasm (source: BufferSource | WebAssembly.Module): Promise<PieceWasm> {
  const instance = source instanceof WebAssembly.Module
    ? await WebAssembly.instantiate(source, { env: { abort: abortFromWasm } })
    : (await WebAssembly.instantiate(source, { env: { abort: abortFromWasm } })).instance
  const x = instance.exports as unknown as PieceExports
  const base = (x.heapBase() + 15) & ~15
  /** A region of `bytes` for input and one for output above the module's own data; the output follows the input (fr32Pad reads up to 8 bytes past its input, masked off). */
  const regions = (inBytes: number, outBytes: number): { input: number, output: number } => {
    const needed = base + inBytes + outBytes
    if (needed > x.memory.buffer.byteLength) x.memory.grow(Math.ceil((needed - x.memory.buffer.byteLength) / 65536))
    return { input: base, output: base + inBytes }
  }
  const via = (fn: (input: number, output: number, pairs: number) => void): NodeHasher => ({
    hashPairs (input, output, pairs) {
      const r = regions(pairs * 64, pairs * 32)
      new Uint8Array(x.memory.buffer, r.input, pairs * 64).set(input.subarray(0, pairs * 64))
      fn(r.input, r.output, pairs)
      output.set(new Uint8Array(x.memory.buffer, r.output, pairs * 32))
    }
  })
  const subtreeRoot = (payload: Uint8Array, chunks: number): Uint8Array => {
    if (chunks < 1 || (chunks & (chunks - 1)) !== 0) throw new RangeError('a subtree needs a power-of-two number of chunks')
    const r = regions(chunks * 127, chunks * 128 + 32)
    new Uint8Array(x.memory.buffer, r.input, chunks * 127).set(payload.subarray(0, chunks * 127))
    x.subtreeRoot(r.input, chunks, r.output, r.output + chunks * 128)
    return new Uint8Array(x.memory.buffer, r.output + chunks * 128, 32).slice()
  }
  return {
    simd: { ...via(x.hashPairsX4), subtreeRoot },
    scalar: via(x.hashPairs),
    fr32Pad (input, output, chunks) {
      const r = regions(chunks * 127, chunks * 128)
      new Uint8Array(x.memory.buffer, r.input, chunks * 127).set(input.subarray(0, chunks * 127))
      x.fr32Pad(r.input, r.output, chunks)
      output.set(new Uint8Array(x.memory.buffer, r.output, chunks * 128))
    },
    verifyMerklePath (root, leaf, value, path) {
      if (root.length !== 32 || value.length !== 32 || !Number.isSafeInteger(leaf) || leaf < 0 || leaf >= 2 ** path.length || path.some(p => p.length !== 32)) return false
      const r = regions(64 + path.length * 32, 64)
      const mem = new Uint8Array(x.memory.buffer)
      mem.set(root, r.input)
      mem.set(value, r.input + 32)
      path.forEach((p, k) => { mem.set(p, r.input + 64 + k * 32) })
      return x.verifyPath(r.input, r.input + 32, r.input + 64, path.length, BigInt(leaf), r.output) === 1
    }
  }
}

function abortFromWasm (): never {
  throw new Error('the piece WASM module aborted')
}
