// Model package → llama-architecture GGUF, so llama.cpp can run the same model side by
// side. Our int8 × per-row scales are dequantized to float and stored as Q8_0 (or F16,
// F32); norms and biases as F32. The result is a close float twin, not bit-identical
// integer inference: llama.cpp's numerics are its own.

import { VerimeshError } from '../../../runtime/errors.js'
import type { FloatModel, ModelConfig, QEmbedding, QLinear, ShardWeights } from '../int/types.js'
import type { GgufValue } from './gguf.js'
import { writeGguf, type GgufTensorToWrite, type GgufWriteType } from './gguf-write.js'
import { loadShard, readManifest, readTokenizerFile, type Manifest } from './package.js'
import { LINEARS, linearShapes, type LinearKey } from './tensors.js'
import { tokenizerToGguf } from './tokenizer-gguf.js'
import type { TokenizerSpec } from './tokenizer-spec.js'

export type ExportType = 'q8_0' | 'f16' | 'bf16' | 'f32'

export interface ExportGgufOptions {
  /** Storage of the matrices (default q8_0); norms and biases are always F32. */
  readonly type?: ExportType
  readonly onTensor?: (done: number, total: number, name: string, bytes: number, seconds: number) => void
}

const WRITE_TYPE: Readonly<Record<ExportType, GgufWriteType>> = { q8_0: 'Q8_0', f16: 'F16', bf16: 'BF16', f32: 'F32' }
/** llama_ftype for general.file_type. */
const FILE_TYPE: Readonly<Record<ExportType, number>> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 }

/** w[r][c] = q[r][c] · m_r · 2^x_r. */
export function dequantizeLinear (l: QLinear): Float32Array {
  const out = new Float32Array(l.rows * l.cols)
  for (let r = 0; r < l.rows; r++) {
    const s = l.scales[2 * r]! * 2 ** l.scales[2 * r + 1]!
    const o = r * l.cols
    for (let c = 0; c < l.cols; c++) out[o + c] = l.q[o + c]! * s
  }
  return out
}

/** Embedding rows are boundary activations: x = q · s_block / 2^16. */
export function dequantizeEmbedding (e: QEmbedding, vocab: number, dim: number): Float32Array {
  const out = new Float32Array(vocab * dim)
  for (let i = 0; i < vocab * dim; i++) out[i] = e.q[i]! * e.scales[i >> 5]! / 65536
  return out
}

export function dequantizeQ16 (v: Int32Array): Float32Array {
  const out = new Float32Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / 65536
  return out
}

/**
 * Reorders a head-major Q/K projection from NEOX pairs (i, i + hd/2) to llama.cpp NORM
 * pairs (2i, 2i+1). Query and key get the same permutation, so every q·k — and so the
 * attention — is unchanged.
 */
export function halvesToAdjacentRows (x: Float32Array, rowLength: number, heads: number, headDim: number): Float32Array {
  const out = new Float32Array(x.length)
  const half = headDim / 2
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const base = h * headDim
      out.set(x.subarray((base + i) * rowLength, (base + i + 1) * rowLength), (base + 2 * i) * rowLength)
      out.set(x.subarray((base + i + half) * rowLength, (base + i + half + 1) * rowLength), (base + 2 * i + 1) * rowLength)
    }
  }
  return out
}

function llamaMetadata (m: Manifest, type: ExportType): Array<[string, GgufValue]> {
  const d = m.config.dims
  const u32 = (v: number): GgufValue => ({ type: 'u32', value: v })
  const f32 = (v: number): GgufValue => ({ type: 'f32', value: v })
  const out: Array<[string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: m.name }],
    ['general.file_type', u32(FILE_TYPE[type])]
  ]
  if (type === 'q8_0') out.push(['general.quantization_version', u32(2)])
  out.push(
    ['llama.vocab_size', u32(d.vocab)],
    ['llama.context_length', u32(d.context)],
    ['llama.embedding_length', u32(d.dim)],
    ['llama.block_count', u32(d.layers)],
    ['llama.feed_forward_length', u32(d.ffn)],
    ['llama.rope.dimension_count', u32(d.headDim)],
    ['llama.attention.head_count', u32(d.heads)],
    ['llama.attention.head_count_kv', u32(d.kvHeads)],
    ['llama.attention.key_length', u32(d.headDim)],
    ['llama.attention.value_length', u32(d.headDim)],
    ['llama.rope.freq_base', f32(m.config.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', f32(m.config.epsQ32 / 2 ** 32)],
    ['verimesh.root', { type: 'string', value: m.root }],
    ['verimesh.synthetic', { type: 'bool', value: m.synthetic === true }]
  )
  return out
}

/** Loads shards on demand, one at a time, in layer order. */
class ShardCursor {
  private current: ShardWeights | undefined
  constructor (private readonly dir: string, private readonly manifest: Manifest) {}

  async at (layer: number | 'first' | 'last'): Promise<ShardWeights> {
    const L = this.manifest.config.dims.layers
    const index = layer === 'first' ? 0 : layer === 'last' ? this.manifest.shards.length - 1 : this.manifest.shards.findIndex((s) => s.layers[0] <= layer && layer < s.layers[1])
    const s = this.manifest.shards[index]
    if (s === undefined) throw new VerimeshError('MODEL_INVALID', `no shard holds layer ${String(layer)} of ${L}`)
    if (this.current === undefined || this.current.range[0] !== s.layers[0]) {
      this.current = undefined // let the previous shard be collected before loading the next
      this.current = await loadShard(this.dir, index, { manifest: this.manifest })
    }
    return this.current
  }
}

export async function exportGguf (dir: string, file: string, opts: ExportGgufOptions = {}): Promise<{ bytes: number, tensors: number }> {
  const manifest = await readManifest(dir)
  const tokenizer = await readTokenizerFile(dir, manifest)
  const config: ModelConfig = manifest.config
  const d = config.dims
  const type = opts.type ?? 'q8_0'
  const matType = (cols: number): GgufWriteType => WRITE_TYPE[type] === 'Q8_0' && cols % 32 !== 0 ? 'F16' : WRITE_TYPE[type]
  const cursor = new ShardCursor(dir, manifest)
  const halves = config.ropeStyle === 'halves'
  const shapes = linearShapes(config)
  const hasBias = new Set(manifest.shards.flatMap((s) => s.tensors.filter((t) => t.name.endsWith('.b')).map((t) => t.name.slice(0, -2))))

  const tensors: GgufTensorToWrite[] = []
  const source = manifest.source
  if (source?.kind === 'gguf' && source.ropeFreqs !== undefined) {
    const f = Float32Array.from(source.ropeFreqs)
    tensors.push({ name: 'rope_freqs.weight', dims: [f.length], type: 'F32', data: () => f })
  }
  tensors.push({
    name: 'token_embd.weight',
    dims: [d.dim, d.vocab],
    type: matType(d.dim),
    data: async () => dequantizeEmbedding((await cursor.at('first')).embedding!, d.vocab, d.dim)
  })
  const permuted = (key: LinearKey, x: Float32Array, rowLength: number): Float32Array => {
    if (!halves || (key !== 'wq' && key !== 'wk')) return x
    return halvesToAdjacentRows(x, rowLength, key === 'wq' ? d.heads : d.kvHeads, d.headDim)
  }
  for (let l = 0; l < d.layers; l++) {
    const layer = async (): Promise<ShardWeights['layers'][number]> => {
      const s = await cursor.at(l)
      return s.layers[l - s.range[0]]!
    }
    tensors.push({ name: `blk.${l}.attn_norm.weight`, dims: [d.dim], type: 'F32', data: async () => dequantizeQ16((await layer()).attnNorm) })
    for (const [key, name] of LINEARS) {
      if (key === 'wGate') tensors.push({ name: `blk.${l}.ffn_norm.weight`, dims: [d.dim], type: 'F32', data: async () => dequantizeQ16((await layer()).ffnNorm) })
      const [rows, cols] = shapes[key]
      tensors.push({ name: `blk.${l}.${name}.weight`, dims: [cols, rows], type: matType(cols), data: async () => permuted(key, dequantizeLinear((await layer())[key]), cols) })
      if (hasBias.has(`blk.${l}.${name}`)) {
        tensors.push({ name: `blk.${l}.${name}.bias`, dims: [rows], type: 'F32', data: async () => permuted(key, dequantizeQ16((await layer())[key].bias!), 1) })
      }
    }
  }
  tensors.push({ name: 'output_norm.weight', dims: [d.dim], type: 'F32', data: async () => dequantizeQ16((await cursor.at('last')).outputNorm!) })
  tensors.push({ name: 'output.weight', dims: [d.dim, d.vocab], type: matType(d.dim), data: async () => dequantizeLinear((await cursor.at('last')).output!) })
  if (hasBias.has('output')) tensors.push({ name: 'output.bias', dims: [d.vocab], type: 'F32', data: async () => dequantizeQ16((await cursor.at('last')).output!.bias!) })

  const t0 = performance.now()
  let bytes = 0
  const r = await writeGguf(file, {
    metadata: [...llamaMetadata(manifest, type), ...tokenizerToGguf(tokenizer, d.vocab)],
    tensors,
    onTensor: (i, n, name, b) => { bytes += b; opts.onTensor?.(i, n, name, bytes, (performance.now() - t0) / 1000) }
  })
  return { bytes: r.bytes, tensors: tensors.length }
}

export interface FloatModelGgufOptions {
  readonly architecture?: 'llama' | 'qwen2'
  readonly name?: string
  /** Storage type per GGUF tensor name (default F32). */
  readonly typeOf?: (name: string) => GgufWriteType
  readonly tokenizer: TokenizerSpec
  /** Leave out output.weight: the output head is tied to token_embd. */
  readonly tiedOutput?: boolean
  readonly context?: number
  readonly extraMetadata?: ReadonlyArray<readonly [string, GgufValue]>
  readonly alignment?: number
  readonly version?: 2 | 3
}

/**
 * A float model as a GGUF of the given architecture, the way llama.cpp's converter lays
 * it out. Used to build import fixtures and to publish synthetic models' float twins.
 */
export async function writeFloatModelGguf (file: string, m: FloatModel, opts: FloatModelGgufOptions): Promise<{ bytes: number }> {
  const arch = opts.architecture ?? 'llama'
  const d = m.config.dims
  const u32 = (v: number): GgufValue => ({ type: 'u32', value: v })
  const f32 = (v: number): GgufValue => ({ type: 'f32', value: v })
  const typeOf = opts.typeOf ?? (() => 'F32')
  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: opts.name ?? 'float-model' }],
    [`${arch}.context_length`, u32(opts.context ?? d.context)],
    [`${arch}.embedding_length`, u32(d.dim)],
    [`${arch}.block_count`, u32(d.layers)],
    [`${arch}.feed_forward_length`, u32(d.ffn)],
    [`${arch}.attention.head_count`, u32(d.heads)],
    [`${arch}.attention.head_count_kv`, u32(d.kvHeads)],
    [`${arch}.attention.key_length`, u32(d.headDim)],
    [`${arch}.attention.value_length`, u32(d.headDim)],
    [`${arch}.rope.dimension_count`, u32(d.headDim)],
    [`${arch}.rope.freq_base`, f32(m.config.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(m.config.eps)],
    ...tokenizerToGguf(opts.tokenizer, d.vocab),
    ...(opts.extraMetadata ?? [])
  ]
  const tensors: GgufTensorToWrite[] = []
  const add = (name: string, dims: number[], x: Float32Array, norm = false): void => {
    tensors.push({ name, dims, type: norm ? 'F32' : typeOf(name), data: () => x })
  }
  add('token_embd.weight', [d.dim, d.vocab], m.embedding)
  m.layers.forEach((layer, l) => {
    add(`blk.${l}.attn_norm.weight`, [d.dim], layer.attnNorm, true)
    for (const [key, name] of LINEARS) {
      if (key === 'wGate') add(`blk.${l}.ffn_norm.weight`, [d.dim], layer.ffnNorm, true)
      const w = layer[key]
      add(`blk.${l}.${name}.weight`, [w.cols, w.rows], w.w)
      if (w.bias !== undefined) add(`blk.${l}.${name}.bias`, [w.rows], w.bias, true)
    }
  })
  add('output_norm.weight', [d.dim], m.outputNorm, true)
  if (opts.tiedOutput !== true) add('output.weight', [d.dim, d.vocab], m.output.w)
  return await writeGguf(file, {
    metadata,
    tensors,
    ...(opts.alignment !== undefined ? { alignment: opts.alignment } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {})
  })
}
