// GGUF v3 writer: metadata of every type and F32 / F16 / BF16 / Q8_0 tensors, produced
// one tensor at a time from a callback so an export never holds the whole model.

import { open, rename, rm } from 'node:fs/promises'
import { VerimeshError } from '../../../runtime/errors.js'
import { alignUp, assertLittleEndian, bytesOf, writeAll } from './fileio.js'
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GgmlType, bf16FromFloatBits, floatToHalf, halfFromFloatBits, VALUE_TYPE_OF, type GgufArrayItem, type GgufScalarKind, type GgufValue } from './gguf.js'

export type GgufWriteType = 'F32' | 'F16' | 'BF16' | 'Q8_0'

const TYPE_IDS: Readonly<Record<GgufWriteType, number>> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16, Q8_0: GgmlType.Q8_0 }

export type GgufTensorToWrite = {
  readonly name: string
  /** ggml order: [cols, rows] for a matrix. */
  readonly dims: readonly number[]
} & ({
  readonly type: GgufWriteType
  /** The values in row-major order; called once, when the tensor's turn comes. */
  readonly data: () => Float32Array | Promise<Float32Array>
} | {
  /** Already-encoded data of any ggml type (test fixtures of types we cannot produce). */
  readonly ggmlType: number
  readonly raw: () => Uint8Array
})

export interface WriteGgufOptions {
  readonly metadata: ReadonlyArray<readonly [string, GgufValue]>
  readonly tensors: readonly GgufTensorToWrite[]
  readonly alignment?: number
  /** 2 or 3 (default 3); they share one layout for little-endian files. */
  readonly version?: 2 | 3
  readonly onTensor?: (index: number, total: number, name: string, bytes: number) => void
}

/** Growable little-endian byte builder for the header. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16)
  length = 0

  private room (n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u8 (v: number): void { this.room(1); this.buf.writeUInt8(v, this.length); this.length += 1 }
  i8 (v: number): void { this.room(1); this.buf.writeInt8(v, this.length); this.length += 1 }
  u16 (v: number): void { this.room(2); this.buf.writeUInt16LE(v, this.length); this.length += 2 }
  i16 (v: number): void { this.room(2); this.buf.writeInt16LE(v, this.length); this.length += 2 }
  u32 (v: number): void { this.room(4); this.buf.writeUInt32LE(v, this.length); this.length += 4 }
  i32 (v: number): void { this.room(4); this.buf.writeInt32LE(v, this.length); this.length += 4 }
  f32 (v: number): void { this.room(4); this.buf.writeFloatLE(v, this.length); this.length += 4 }
  f64 (v: number): void { this.room(8); this.buf.writeDoubleLE(v, this.length); this.length += 8 }
  u64 (v: bigint | number): void { this.room(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8 }
  i64 (v: bigint | number): void { this.room(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8 }
  string (s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u64(b.length)
    this.room(b.length)
    b.copy(this.buf, this.length)
    this.length += b.length
  }

  bytes (): Buffer { return this.buf.subarray(0, this.length) }
}

function writeScalar (w: ByteWriter, kind: GgufScalarKind, v: GgufArrayItem, key: string): void {
  const num = (): number => {
    if (typeof v !== 'number') throw new VerimeshError('INTERNAL', `GGUF metadata ${key}: ${kind} needs a number`)
    return v
  }
  switch (kind) {
    case 'u8': w.u8(num()); break
    case 'i8': w.i8(num()); break
    case 'u16': w.u16(num()); break
    case 'i16': w.i16(num()); break
    case 'u32': w.u32(num()); break
    case 'i32': w.i32(num()); break
    case 'f32': w.f32(num()); break
    case 'f64': w.f64(num()); break
    case 'u64': w.u64(typeof v === 'bigint' ? v : num()); break
    case 'i64': w.i64(typeof v === 'bigint' ? v : num()); break
    case 'bool': w.u8(v === true ? 1 : 0); break
    case 'string':
      if (typeof v !== 'string') throw new VerimeshError('INTERNAL', `GGUF metadata ${key}: string expected`)
      w.string(v)
      break
  }
}

function writeValue (w: ByteWriter, v: GgufValue, key: string): void {
  if (v.type !== 'array') {
    writeScalar(w, v.type, v.value, key)
    return
  }
  w.u32(VALUE_TYPE_OF[v.itemType])
  w.u64(v.value.length)
  for (const item of v.value) {
    if (v.itemType === 'array') {
      const inner = item as GgufValue
      if (typeof inner !== 'object' || inner === null || inner.type !== 'array') throw new VerimeshError('INTERNAL', `GGUF metadata ${key}: nested array expected`)
      writeValue(w, inner, key)
    } else {
      writeScalar(w, v.itemType, item, key)
    }
  }
}

/** ggml's quantize_row_q8_0_ref in float32 arithmetic: d = amax/127 (as fp16), q = roundf(x/d). */
export function quantizeQ8_0 (x: Float32Array, out: Uint8Array): void {
  if (x.length % 32 !== 0) throw new VerimeshError('INTERNAL', `Q8_0 needs a multiple of 32 values, got ${x.length}`)
  if (out.byteOffset % 2 !== 0 || out.length < x.length / 32 * 34) throw new VerimeshError('INTERNAL', 'Q8_0 output must be even-aligned and large enough')
  const q = new Int8Array(out.buffer, out.byteOffset, out.length)
  const d16 = new Uint16Array(out.buffer, out.byteOffset, out.length >> 1)
  // Stores into a Float32Array round to float32 exactly as C's float arithmetic does.
  const f = new Float32Array(1)
  const n = x.length / 32
  for (let b = 0; b < n; b++) {
    const o = b * 32
    let amax = 0
    for (let j = 0; j < 32; j++) { const a = Math.abs(x[o + j]!); if (a > amax) amax = a }
    f[0] = amax / 127
    const d = f[0]!
    f[0] = d !== 0 ? 1 / d : 0
    const id = f[0]!
    const at = b * 34
    d16[at >> 1] = floatToHalf(d)
    for (let j = 0; j < 32; j++) {
      f[0] = x[o + j]! * id
      const v = f[0]!
      // roundf: half away from zero (v + 0.5 is exact in double for a float32 |v| ≤ 128).
      q[at + 2 + j] = v < 0 ? -Math.floor(0.5 - v) : Math.floor(v + 0.5)
    }
  }
}

export function encodeTensor (type: GgufWriteType, x: Float32Array): Uint8Array {
  // Int32, not Uint32: values above 2^31 would leave V8's small-integer fast path.
  const bits = new Int32Array(x.buffer, x.byteOffset, x.length)
  switch (type) {
    case 'F32': return bytesOf(x)
    case 'F16': {
      const h = new Uint16Array(x.length)
      for (let i = 0; i < x.length; i++) h[i] = halfFromFloatBits(bits[i]!)
      return bytesOf(h)
    }
    case 'BF16': {
      const h = new Uint16Array(x.length)
      for (let i = 0; i < x.length; i++) h[i] = bf16FromFloatBits(bits[i]!)
      return bytesOf(h)
    }
    case 'Q8_0': {
      const out = new Uint8Array(x.length / 32 * 34)
      quantizeQ8_0(x, out)
      return out
    }
  }
}

export function tensorBytes (type: GgufWriteType, elements: number): number {
  const t = GGML_TYPES[TYPE_IDS[type]]!
  return elements / t.block * t.bytes
}

export async function writeGguf (file: string, opts: WriteGgufOptions): Promise<{ bytes: number }> {
  assertLittleEndian()
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT
  const h = new ByteWriter()
  h.u32(0x46554747) // "GGUF"
  h.u32(opts.version ?? 3)
  h.u64(opts.tensors.length)
  const metadata = [...opts.metadata]
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.some(([k]) => k === 'general.alignment')) metadata.push(['general.alignment', { type: 'u32', value: alignment }])
  h.u64(metadata.length)
  const keys = new Set<string>()
  for (const [key, value] of metadata) {
    if (keys.has(key)) throw new VerimeshError('INTERNAL', `duplicate GGUF metadata key ${key}`)
    keys.add(key)
    h.string(key)
    h.u32(VALUE_TYPE_OF[value.type])
    writeValue(h, value, key)
  }
  let offset = 0
  const offsets: number[] = []
  for (const t of opts.tensors) {
    const elements = t.dims.reduce((a, b) => a * b, 1)
    const typeId = 'raw' in t ? t.ggmlType : TYPE_IDS[t.type]
    const info = GGML_TYPES[typeId]
    if (info === undefined) throw new VerimeshError('INTERNAL', `tensor ${t.name}: unknown ggml type ${typeId}`)
    if (t.dims[0]! % info.block !== 0) throw new VerimeshError('MODEL_INVALID', `tensor ${t.name}: rows of ${t.dims[0]} cannot be stored as ${info.name} (block ${info.block})`, { tensor: t.name })
    h.string(t.name)
    h.u32(t.dims.length)
    for (const d of t.dims) h.u64(d)
    h.u32(typeId)
    h.u64(offset)
    offsets.push(offset)
    offset = alignUp(offset + elements / info.block * info.bytes, alignment)
  }
  const header = h.bytes()
  const dataStart = alignUp(header.length, alignment)
  const tmp = `${file}.partial`
  const fh = await open(tmp, 'w')
  let total = dataStart
  try {
    await writeAll(fh, header, 0)
    for (const [i, t] of opts.tensors.entries()) {
      const elements = t.dims.reduce((a, b) => a * b, 1)
      let bytes: Uint8Array
      if ('raw' in t) {
        bytes = t.raw()
        const info = GGML_TYPES[t.ggmlType]!
        if (bytes.length !== elements / info.block * info.bytes) throw new VerimeshError('INTERNAL', `tensor ${t.name}: ${bytes.length} bytes for dims [${t.dims.join(', ')}] of ${info.name}`)
      } else {
        const x = await t.data()
        if (x.length !== elements) throw new VerimeshError('INTERNAL', `tensor ${t.name}: ${x.length} values for dims [${t.dims.join(', ')}]`)
        bytes = encodeTensor(t.type, x)
      }
      await writeAll(fh, bytes, dataStart + offsets[i]!)
      total = dataStart + offsets[i]! + bytes.length
      opts.onTensor?.(i + 1, opts.tensors.length, t.name, bytes.length)
    }
    // Pad the last tensor too, as gguf_write does, so the file length is aligned.
    total = alignUp(total, alignment)
    await fh.truncate(total)
    await fh.sync()
  } catch (err) {
    await fh.close()
    await rm(tmp, { force: true })
    throw err
  }
  await fh.close()
  await rename(tmp, file)
  return { bytes: total }
}
