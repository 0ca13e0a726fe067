// GGUF constants shared by the reader and the writer (ggml/include/gguf.h, ggml.h).

export const GGUF_MAGIC = 'GGUF'
export const GGUF_DEFAULT_ALIGNMENT = 32

export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12
} as const

export type GgufScalarKind = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64'

export const VALUE_KINDS: Readonly<Record<number, GgufScalarKind | 'array'>> = {
  0: 'u8', 1: 'i8', 2: 'u16', 3: 'i16', 4: 'u32', 5: 'i32', 6: 'f32', 7: 'bool', 8: 'string', 9: 'array', 10: 'u64', 11: 'i64', 12: 'f64'
}

export const VALUE_TYPE_OF: Readonly<Record<GgufScalarKind | 'array', number>> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12
}

export type GgufValue =
  | { readonly type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64', readonly value: number }
  | { readonly type: 'u64' | 'i64', readonly value: bigint }
  | { readonly type: 'bool', readonly value: boolean }
  | { readonly type: 'string', readonly value: string }
  | { readonly type: 'array', readonly itemType: GgufScalarKind | 'array', readonly value: readonly GgufArrayItem[] }

export type GgufArrayItem = number | bigint | boolean | string | GgufValue

/** ggml_type ids and their (block size, bytes per block). */
export const GGML_TYPES: Readonly<Record<number, { readonly name: string, readonly block: number, readonly bytes: number }>> = {
  0: { name: 'F32', block: 1, bytes: 4 },
  1: { name: 'F16', block: 1, bytes: 2 },
  2: { name: 'Q4_0', block: 32, bytes: 18 },
  3: { name: 'Q4_1', block: 32, bytes: 20 },
  6: { name: 'Q5_0', block: 32, bytes: 22 },
  7: { name: 'Q5_1', block: 32, bytes: 24 },
  8: { name: 'Q8_0', block: 32, bytes: 34 },
  9: { name: 'Q8_1', block: 32, bytes: 36 },
  10: { name: 'Q2_K', block: 256, bytes: 84 },
  11: { name: 'Q3_K', block: 256, bytes: 110 },
  12: { name: 'Q4_K', block: 256, bytes: 144 },
  13: { name: 'Q5_K', block: 256, bytes: 176 },
  14: { name: 'Q6_K', block: 256, bytes: 210 },
  15: { name: 'Q8_K', block: 256, bytes: 292 },
  16: { name: 'IQ2_XXS', block: 256, bytes: 66 },
  17: { name: 'IQ2_XS', block: 256, bytes: 74 },
  18: { name: 'IQ3_XXS', block: 256, bytes: 98 },
  19: { name: 'IQ1_S', block: 256, bytes: 50 },
  20: { name: 'IQ4_NL', block: 32, bytes: 18 },
  21: { name: 'IQ3_S', block: 256, bytes: 110 },
  22: { name: 'IQ2_S', block: 256, bytes: 82 },
  23: { name: 'IQ4_XS', block: 256, bytes: 136 },
  24: { name: 'I8', block: 1, bytes: 1 },
  25: { name: 'I16', block: 1, bytes: 2 },
  26: { name: 'I32', block: 1, bytes: 4 },
  27: { name: 'I64', block: 1, bytes: 8 },
  28: { name: 'F64', block: 1, bytes: 8 },
  29: { name: 'IQ1_M', block: 256, bytes: 56 },
  30: { name: 'BF16', block: 1, bytes: 2 },
  34: { name: 'TQ1_0', block: 256, bytes: 54 },
  35: { name: 'TQ2_0', block: 256, bytes: 66 },
  39: { name: 'MXFP4', block: 32, bytes: 17 }
}

export const GgmlType = { F32: 0, F16: 1, Q4_K: 12, Q8_0: 8, BF16: 30 } as const

export function ggmlTypeName (t: number): string {
  return GGML_TYPES[t]?.name ?? `type ${t}`
}

/** The types the importer dequantizes. */
export const IMPORTABLE_TYPES: readonly number[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0]

// ---------------------------------------------------------------------------------------
// Half precision. Exact conversions both ways (round to nearest even on the way down).

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

let halfTable: Float32Array | undefined

/** All 65536 half values as floats: conversion becomes one lookup. */
export function halfToFloatTable (): Float32Array {
  if (halfTable !== undefined) return halfTable
  const t = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const e = (h >> 10) & 0x1f
    const m = h & 0x3ff
    if (e === 0) t[h] = sign * m * 2 ** -24
    else if (e === 31) t[h] = m === 0 ? sign * Infinity : NaN
    else t[h] = sign * (1024 + m) * 2 ** (e - 25)
  }
  halfTable = t
  return t
}

export function floatToHalf (v: number): number {
  f32[0] = v
  return halfFromFloatBits(u32[0]!)
}

/** The half nearest (ties to even) to the float32 with bit pattern `x`. */
export function halfFromFloatBits (x: number): number {
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  const e = exp - 112
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let h = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (h & 1) === 1)) h++
    return sign | h
  }
  let h = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++
  return sign | h
}

export function bf16ToFloat (h: number): number {
  u32[0] = h << 16
  return f32[0]!
}

export function floatToBf16 (v: number): number {
  f32[0] = v
  return bf16FromFloatBits(u32[0]!)
}

export function bf16FromFloatBits (x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff
}
