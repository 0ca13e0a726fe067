// GGUF v2/v3 reader. The header (metadata and tensor infos) is parsed through a small
// sliding buffer; tensor data is read one tensor at a time on demand, so a multi-GB
// file never sits in memory.

import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { VerimeshError } from '../../../runtime/errors.js'
import { alignUp, assertLittleEndian, bytesOf, readExactly } from './fileio.js'
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, ggmlTypeName, IMPORTABLE_TYPES, halfToFloatTable, VALUE_KINDS, type GgufArrayItem, type GgufScalarKind, type GgufValue } from './gguf.js'

export interface GgufTensorInfo {
  readonly name: string
  /** ggml order: ne[0] is the contiguous dimension (a matrix is [cols, rows]). */
  readonly dims: readonly number[]
  readonly type: number
  /** Relative to the data section. */
  readonly offset: number
  readonly elements: number
  /** Byte size, when the type is known. */
  readonly bytes: number | undefined
}

function fail (file: string, what: string, ctx: Record<string, unknown> = {}): VerimeshError {
  return new VerimeshError('MODEL_INVALID', `${path.basename(file)}: ${what}`, { file, ...ctx })
}

/** Sequential reads over a file handle through a buffer that grows only for single large items. */
class Cursor {
  private buf = Buffer.alloc(0)
  private bufPos = 0 // file position of buf[0]
  pos = 0

  constructor (private readonly fh: FileHandle, private readonly file: string, private readonly size: number) {}

  private async need (n: number, what: string): Promise<Buffer> {
    if (this.pos + n > this.size) {
      throw new VerimeshError('MODEL_CORRUPT', `${path.basename(this.file)} is truncated: reading ${what} needs bytes [${this.pos}, ${this.pos + n}) of a ${this.size}-byte file`, { file: this.file, what, offset: this.pos })
    }
    const end = this.bufPos + this.buf.length
    if (this.pos < this.bufPos || this.pos + n > end) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos)
      const b = Buffer.allocUnsafe(len)
      await readExactly(this.fh, b, this.pos, this.file, what)
      this.buf = b
      this.bufPos = this.pos
    }
    const at = this.pos - this.bufPos
    this.pos += n
    return this.buf.subarray(at, at + n)
  }

  async u32 (what: string): Promise<number> { return (await this.need(4, what)).readUInt32LE(0) }
  async u64 (what: string): Promise<bigint> { return (await this.need(8, what)).readBigUInt64LE(0) }

  /** A u64 that must fit a JS number and stay below `limit`. */
  async count (what: string, limit: number): Promise<number> {
    const v = await this.u64(what)
    if (v > BigInt(limit)) throw fail(this.file, `${what} is ${v}, more than this file can hold`, { what })
    return Number(v)
  }

  async string (what: string): Promise<string> {
    const len = await this.count(`the length of ${what}`, this.size - this.pos)
    return (await this.need(len, what)).toString('utf8')
  }

  async scalar (kind: GgufScalarKind, what: string): Promise<GgufArrayItem> {
    switch (kind) {
      case 'u8': return (await this.need(1, what)).readUInt8(0)
      case 'i8': return (await this.need(1, what)).readInt8(0)
      case 'u16': return (await this.need(2, what)).readUInt16LE(0)
      case 'i16': return (await this.need(2, what)).readInt16LE(0)
      case 'u32': return (await this.need(4, what)).readUInt32LE(0)
      case 'i32': return (await this.need(4, what)).readInt32LE(0)
      case 'f32': return (await this.need(4, what)).readFloatLE(0)
      case 'f64': return (await this.need(8, what)).readDoubleLE(0)
      case 'u64': return (await this.need(8, what)).readBigUInt64LE(0)
      case 'i64': return (await this.need(8, what)).readBigInt64LE(0)
      case 'bool': {
        const b = (await this.need(1, what)).readUInt8(0)
        if (b > 1) throw fail(this.file, `${what} is a bool with value ${b}`)
        return b === 1
      }
      case 'string': return await this.string(what)
    }
  }

  async value (typeId: number, what: string, depth = 0): Promise<GgufValue> {
    const kind = VALUE_KINDS[typeId]
    if (kind === undefined) throw fail(this.file, `${what} has unknown value type ${typeId}`)
    if (kind !== 'array') return { type: kind, value: await this.scalar(kind, what) } as GgufValue
    if (depth > 2) throw fail(this.file, `${what} nests arrays too deeply`)
    const itemTypeId = await this.u32(`the item type of ${what}`)
    const itemKind = VALUE_KINDS[itemTypeId]
    if (itemKind === undefined) throw fail(this.file, `${what} is an array of unknown type ${itemTypeId}`)
    const n = await this.count(`the length of ${what}`, this.size - this.pos)
    const items: GgufArrayItem[] = new Array<GgufArrayItem>(n)
    for (let i = 0; i < n; i++) {
      items[i] = itemKind === 'array' ? await this.value(itemTypeId, `${what}[${i}]`, depth + 1) : await this.scalar(itemKind, what)
    }
    return { type: 'array', itemType: itemKind, value: items }
  }
}

export class GgufReader {
  private constructor (
    readonly file: string,
    private readonly fh: FileHandle,
    readonly size: number,
    readonly version: number,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: readonly GgufTensorInfo[],
    readonly alignment: number,
    readonly dataOffset: number
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]))
  }

  private readonly byName: Map<string, GgufTensorInfo>

  static async open (file: string): Promise<GgufReader> {
    assertLittleEndian()
    let fh: FileHandle
    try {
      fh = await open(file, 'r')
    } catch (err) {
      throw new VerimeshError('MODEL_INVALID', `cannot open ${file}: ${(err as Error).message}`, { file }, { cause: err })
    }
    try {
      return await GgufReader.parse(file, fh)
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  private static async parse (file: string, fh: FileHandle): Promise<GgufReader> {
    const size = (await fh.stat()).size
    const c = new Cursor(fh, file, size)
    if (size < 4) throw new VerimeshError('MODEL_CORRUPT', `${path.basename(file)} is truncated: ${size} bytes is not even a GGUF magic`, { file })
    const magic = (await c.scalar('u32', 'the magic') as number)
    const magicText = Buffer.alloc(4)
    magicText.writeUInt32LE(magic)
    if (magicText.toString('latin1') !== GGUF_MAGIC) throw fail(file, `not a GGUF file: magic is ${JSON.stringify(magicText.toString('latin1'))} (0x${magicText.toString('hex')}), expected "GGUF"`)
    const version = await c.u32('the version')
    if (version === 1) throw fail(file, 'GGUF version 1 is not supported (only 2 and 3); convert it with a current llama.cpp')
    if (version !== 2 && version !== 3) {
      const swapped = Buffer.alloc(4)
      swapped.writeUInt32BE(version)
      const hint = swapped.readUInt32LE(0) <= 3 ? ' (this looks like a big-endian GGUF, which is not supported)' : ''
      throw fail(file, `unsupported GGUF version ${version}${hint}`)
    }
    const nTensors = await c.count('the tensor count', Math.floor(size / 24))
    const nKv = await c.count('the metadata count', Math.floor(size / 13))
    const metadata = new Map<string, GgufValue>()
    for (let i = 0; i < nKv; i++) {
      const key = await c.string(`metadata key ${i}`)
      const type = await c.u32(`the type of ${key}`)
      if (metadata.has(key)) throw fail(file, `duplicate metadata key ${key}`)
      metadata.set(key, await c.value(type, key))
    }
    const alignValue = metadata.get('general.alignment')
    let alignment = GGUF_DEFAULT_ALIGNMENT
    if (alignValue !== undefined) {
      if (alignValue.type !== 'u32' || alignValue.value === 0 || (alignValue.value & (alignValue.value - 1)) !== 0) throw fail(file, `general.alignment must be a power-of-two u32, got ${String(alignValue.value)}`)
      alignment = alignValue.value
    }
    const infos: GgufTensorInfo[] = []
    const seen = new Set<string>()
    for (let i = 0; i < nTensors; i++) {
      const name = await c.string(`tensor name ${i}`)
      if (seen.has(name)) throw fail(file, `duplicate tensor ${name}`)
      seen.add(name)
      const nDims = await c.u32(`the dimension count of ${name}`)
      if (nDims < 1 || nDims > 4) throw fail(file, `tensor ${name} has ${nDims} dimensions (ggml allows 1 to 4)`, { tensor: name })
      const dims: number[] = []
      for (let d = 0; d < nDims; d++) dims.push(await c.count(`dimension ${d} of ${name}`, 2 ** 40))
      const type = await c.u32(`the type of ${name}`)
      const offset = await c.count(`the offset of ${name}`, size)
      const elements = dims.reduce((a, b) => a * b, 1)
      const t = GGML_TYPES[type]
      if (t !== undefined && dims[0]! % t.block !== 0) throw fail(file, `tensor ${name}: its row of ${dims[0]} is not a multiple of ${t.name}'s block of ${t.block}`, { tensor: name })
      if (offset % alignment !== 0) throw fail(file, `tensor ${name} is at offset ${offset}, not a multiple of the alignment ${alignment}`, { tensor: name })
      infos.push({ name, dims, type, offset, elements, bytes: t === undefined ? undefined : elements / t.block * t.bytes })
    }
    const dataOffset = alignUp(c.pos, alignment)
    for (const t of infos) {
      const end = dataOffset + t.offset + (t.bytes ?? 0)
      if (end > size) {
        throw new VerimeshError('MODEL_CORRUPT', `${path.basename(file)} is truncated: tensor ${t.name} needs bytes up to ${end}, the file has ${size}`, { file, tensor: t.name, needed: end, size })
      }
    }
    return new GgufReader(file, fh, size, version, metadata, infos, alignment, dataOffset)
  }

  async close (): Promise<void> {
    await this.fh.close()
  }

  tensor (name: string): GgufTensorInfo | undefined {
    return this.byName.get(name)
  }

  // -- metadata accessors -----------------------------------------------------------------

  get (key: string): GgufValue | undefined {
    return this.metadata.get(key)
  }

  /** A numeric value of any integer or float type, as a JS number. */
  number (key: string): number | undefined {
    const v = this.metadata.get(key)
    if (v === undefined) return undefined
    if (v.type === 'u64' || v.type === 'i64') {
      if (v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < -BigInt(Number.MAX_SAFE_INTEGER)) throw fail(this.file, `${key} = ${v.value} does not fit a number`)
      return Number(v.value)
    }
    if (typeof v.value === 'number') return v.value
    throw fail(this.file, `${key} should be a number, it is a ${v.type}${v.type === 'array' ? ` of ${v.itemType}` : ''}`, { key })
  }

  requireNumber (key: string): number {
    const v = this.number(key)
    if (v === undefined) throw fail(this.file, `metadata ${key} is missing`, { key })
    return v
  }

  string (key: string): string | undefined {
    const v = this.metadata.get(key)
    if (v === undefined) return undefined
    if (v.type !== 'string') throw fail(this.file, `${key} should be a string, it is a ${v.type}`, { key })
    return v.value
  }

  bool (key: string): boolean | undefined {
    const v = this.metadata.get(key)
    if (v === undefined) return undefined
    if (v.type !== 'bool') throw fail(this.file, `${key} should be a bool, it is a ${v.type}`, { key })
    return v.value
  }

  array (key: string): readonly GgufArrayItem[] | undefined {
    const v = this.metadata.get(key)
    if (v === undefined) return undefined
    if (v.type !== 'array') throw fail(this.file, `${key} should be an array, it is a ${v.type}`, { key })
    return v.value
  }

  strings (key: string): string[] | undefined {
    const a = this.array(key)
    if (a === undefined) return undefined
    if (!a.every((x) => typeof x === 'string')) throw fail(this.file, `${key} should be an array of strings`, { key })
    return a as string[]
  }

  numbers (key: string): number[] | undefined {
    const a = this.array(key)
    if (a === undefined) return undefined
    return a.map((x, i) => {
      if (typeof x === 'number') return x
      if (typeof x === 'bigint') return Number(x)
      throw fail(this.file, `${key}[${i}] should be a number`, { key })
    })
  }

  // -- tensor data ---------------------------------------------------------------------------

  /** Raw bytes of a tensor (any type). */
  async readRaw (t: GgufTensorInfo): Promise<Uint8Array> {
    if (t.bytes === undefined) throw fail(this.file, `tensor ${t.name} has ${ggmlTypeName(t.type)}, whose size is unknown`, { tensor: t.name })
    const out = new Uint8Array(t.bytes)
    await readExactly(this.fh, out, this.dataOffset + t.offset, this.file, `tensor ${t.name}`)
    return out
  }

  /**
   * The tensor as float32, dequantizing F16, BF16 and Q8_0. Reads in bounded chunks of
   * whole blocks; memory is the output plus one chunk.
   */
  async readF32 (t: GgufTensorInfo): Promise<Float32Array> {
    if (!IMPORTABLE_TYPES.includes(t.type)) {
      throw new VerimeshError('MODEL_INVALID', `${path.basename(this.file)}: tensor ${t.name} has type ${ggmlTypeName(t.type)}, which cannot be imported (supported: F32, F16, BF16, Q8_0); re-quantize the model to Q8_0 or F16 with llama-quantize first`, { file: this.file, tensor: t.name, type: ggmlTypeName(t.type) })
    }
    const info = GGML_TYPES[t.type]!
    const out = new Float32Array(t.elements)
    const base = this.dataOffset + t.offset
    if (t.type === GgmlType.F32) {
      await readExactly(this.fh, bytesOf(out), base, this.file, `tensor ${t.name}`)
      return out
    }
    const blocksPerChunk = Math.max(1, Math.floor((8 << 20) / info.bytes))
    const nBlocks = t.elements / info.block
    // An ArrayBuffer of its own, so the 16-bit view below is aligned.
    const chunk = new Uint8Array(Math.min(nBlocks, blocksPerChunk) * info.bytes + 1)
    const u16 = new Uint16Array(chunk.buffer, 0, Math.floor(chunk.length / 2))
    const i8 = new Int8Array(chunk.buffer)
    const u32 = new Uint32Array(blocksPerChunk)
    const f32 = new Float32Array(u32.buffer)
    const half = halfToFloatTable()
    for (let b0 = 0; b0 < nBlocks; b0 += blocksPerChunk) {
      const nb = Math.min(blocksPerChunk, nBlocks - b0)
      await readExactly(this.fh, chunk.subarray(0, nb * info.bytes), base + b0 * info.bytes, this.file, `tensor ${t.name}`)
      const o = b0 * info.block
      if (t.type === GgmlType.F16) {
        for (let i = 0; i < nb; i++) out[o + i] = half[u16[i]!]!
      } else if (t.type === GgmlType.BF16) {
        for (let i = 0; i < nb; i++) u32[i] = u16[i]! << 16
        out.set(f32.subarray(0, nb), o)
      } else {
        // Q8_0: 34-byte blocks of fp16 d (at an even offset) and 32 int8; x = d · q.
        for (let i = 0; i < nb; i++) {
          const at = i * 34
          const d = half[u16[at >> 1]!]!
          const oo = o + i * 32
          for (let j = 0; j < 32; j++) out[oo + j] = d * i8[at + 2 + j]!
        }
      }
    }
    return out
  }
}
