// FR32 padding: every 127 payload bytes (1016 bits) become 128 bytes holding four 254-bit values, each in
// 32 bytes with its top two bits zero, so every 32-byte leaf is a BLS12-381 field element (Filecoin spec,
// "Piece" / FR32). Written out bit-shift by bit-shift: quad q starts at bit 254·q of the input.
export const FR32_IN_BYTES = 127
export const FR32_OUT_BYTES = 128

/** Pads `count` 127-byte chunks of `input` (from `inOffset`) into `output` (from `outOffset`). */
export function fr32Pad (input: Uint8Array, inOffset: number, output: Uint8Array, outOffset: number, count: number): void {
  for (let c = 0; c < count; c++) {
    const i = inOffset + c * FR32_IN_BYTES
    const o = outOffset + c * FR32_OUT_BYTES
    for (let j = 0; j < 32; j++) output[o + j] = input[i + j]!
    output[o + 31]! &= 0x3f
    for (let j = 0; j < 32; j++) output[o + 32 + j] = (input[i + 31 + j]! >> 6) | (input[i + 32 + j]! << 2)
    output[o + 63]! &= 0x3f
    for (let j = 0; j < 32; j++) output[o + 64 + j] = (input[i + 63 + j]! >> 4) | (input[i + 64 + j]! << 4)
    output[o + 95]! &= 0x3f
    for (let j = 0; j < 31; j++) output[o + 96 + j] = (input[i + 95 + j]! >> 2) | (input[i + 96 + j]! << 6)
    output[o + 127] = input[i + 126]! >> 2
  }
}
