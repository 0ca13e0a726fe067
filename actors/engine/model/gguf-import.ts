// GGUF (llama / qwen2 architectures) → model package. Tensors are dequantized to float,
// quantized by actors/engine/int/quantize.ts and written one at a time: peak memory is
// about one layer in float32 (plus the embedding while the first shard is written).

import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import path from 'node:path'
import { VerimeshError } from '../../../runtime/errors.js'
import { modelConfig, quantizeEmbedding, quantizeGains, quantizeLinear, ropeTable } from '../int/quantize.js'
import type { FloatModelConfig, ModelConfig, ModelDims } from '../int/types.js'
import { GgufReader, type GgufTensorInfo } from './gguf-read.js'
import { ggmlTypeName, IMPORTABLE_TYPES } from './gguf.js'
import { balancedRanges, cleanOnFailure, preparePackageDir, shardCosts, ShardFileWriter, validateRanges, writeManifest, writeTokenizerFile, checkTokenizerFits, type Manifest, type ManifestShard } from './package.js'
import { LINEARS, linearShapes, shardTensorSpecs } from './tensors.js'
import { tokenizerFromGguf } from './tokenizer-gguf.js'
import type { TokenizerSpec } from './tokenizer-spec.js'

export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'] as const
export const DEFAULT_IMPORT_CONTEXT = 2048

export interface ImportProgress {
  readonly phase: 'hash' | 'tensors'
  readonly done: number
  readonly total: number
  /** Bytes of the GGUF processed so far in this phase. */
  readonly bytes: number
  readonly seconds: number
  readonly tensor?: string
}

export interface ImportGgufOptions {
  readonly name?: string
  /** Number of shards, balanced by bytes (default 1). */
  readonly parts?: number
  readonly ranges?: ReadonlyArray<readonly [number, number]>
  /** Positions of the RoPE table; default min(context_length, 2048). */
  readonly context?: number
  readonly overwrite?: boolean
  readonly onProgress?: (p: ImportProgress) => void
}

/** What a GGUF maps to, before any tensor data is read. */
export interface GgufPlan {
  readonly architecture: string
  readonly name?: string
  readonly floatConfig: FloatModelConfig
  readonly config: ModelConfig
  readonly tokenizer: TokenizerSpec
  /** GGUF tensor for each package tensor base (`blk.3.attn_q` → weight/bias). */
  readonly weight: (base: string) => GgufTensorInfo
  readonly bias: (base: string) => GgufTensorInfo | undefined
  readonly embedding: GgufTensorInfo
  readonly tiedOutput: boolean
  /** llama3-style per-frequency divisors (rope_freqs.weight), when present. */
  readonly ropeFreqs?: GgufTensorInfo
  /** Tensor count per GGUF type name. */
  readonly tensorTypes: Readonly<Record<string, number>>
}

function fail (file: string, what: string, ctx: Record<string, unknown> = {}): VerimeshError {
  return new VerimeshError('MODEL_INVALID', `${path.basename(file)}: ${what}`, { file, ...ctx })
}

/** Reads the metadata and tensor table and checks everything the import will need. */
export function planGgufImport (g: GgufReader, opts: { context?: number } = {}): GgufPlan {
  const file = g.file
  const arch = g.string('general.architecture')
  if (arch === undefined) throw fail(file, 'general.architecture is missing')
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw fail(file, `architecture ${JSON.stringify(arch)} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, { architecture: arch })
  }
  const num = (k: string): number => {
    const v = g.get(`${arch}.${k}`)
    if (v?.type === 'array') throw fail(file, `${arch}.${k} varies per layer, which is not supported`)
    return g.requireNumber(`${arch}.${k}`)
  }
  const optNum = (k: string): number | undefined => g.get(`${arch}.${k}`) === undefined ? undefined : num(k)
  const dim = num('embedding_length')
  const layers = num('block_count')
  const heads = num('attention.head_count')
  const kvHeads = optNum('attention.head_count_kv') ?? heads
  const ffn = num('feed_forward_length')
  const trained = num('context_length')
  const theta = optNum('rope.freq_base') ?? 10000
  const eps = num('attention.layer_norm_rms_epsilon')
  const headDim = optNum('attention.key_length') ?? dim / heads
  const valueLength = optNum('attention.value_length') ?? headDim
  if (!Number.isInteger(headDim) || valueLength !== headDim) throw fail(file, `key_length ${headDim} and value_length ${valueLength} must be the same integer`)
  const ropeDims = optNum('rope.dimension_count') ?? headDim
  if (ropeDims !== headDim) throw fail(file, `partial rotary embeddings (rope.dimension_count ${ropeDims} < head size ${headDim}) are not supported`)
  const scaling = g.string(`${arch}.rope.scaling.type`)
  if (scaling !== undefined && scaling !== 'none') throw fail(file, `RoPE scaling "${scaling}" is not supported`)

  const embd = g.tensor('token_embd.weight')
  if (embd === undefined) throw fail(file, 'tensor token_embd.weight is missing', { tensor: 'token_embd.weight' })
  if (embd.dims.length !== 2 || embd.dims[0] !== dim) throw fail(file, `token_embd.weight has dims [${embd.dims.join(', ')}], expected [${dim}, vocab]`, { tensor: embd.name })
  const vocab = embd.dims[1]!

  const cap = opts.context ?? Math.min(trained, DEFAULT_IMPORT_CONTEXT)
  if (!Number.isInteger(cap) || cap < 1) throw fail(file, `context ${cap} must be a positive integer`)
  if (cap > trained) throw fail(file, `context ${cap} is longer than the ${trained} positions the model was trained for`)
  const dims: ModelDims = { vocab, dim, layers, heads, kvHeads, headDim, ffn, context: cap }
  const floatConfig: FloatModelConfig = { dims, ropeStyle: arch === 'qwen2' ? 'halves' : 'adjacent', ropeTheta: theta, eps }
  let config: ModelConfig
  try {
    config = modelConfig(floatConfig)
  } catch (err) {
    throw fail(file, `the model's dimensions are not supported: ${(err as Error).message}`, { dims })
  }

  // Every tensor must be known: an unknown one would be silently dropped otherwise.
  const used = new Set<string>()
  const expectTensor = (name: string, dimsExpected: readonly number[], optional = false): GgufTensorInfo | undefined => {
    const t = g.tensor(name)
    if (t === undefined) {
      if (optional) return undefined
      throw fail(file, `tensor ${name} is missing`, { tensor: name })
    }
    if (!IMPORTABLE_TYPES.includes(t.type)) {
      throw fail(file, `tensor ${name} has type ${ggmlTypeName(t.type)}, which cannot be imported (supported: F32, F16, BF16, Q8_0); re-quantize the model to Q8_0 or F16 with llama-quantize first`, { tensor: name, type: ggmlTypeName(t.type) })
    }
    if (t.dims.join(',') !== dimsExpected.join(',')) throw fail(file, `tensor ${name} has dims [${t.dims.join(', ')}], expected [${dimsExpected.join(', ')}]`, { tensor: name })
    used.add(name)
    return t
  }
  const weights = new Map<string, GgufTensorInfo>()
  const biases = new Map<string, GgufTensorInfo>()
  const shapes = linearShapes(config)
  expectTensor('token_embd.weight', [dim, vocab])
  for (let l = 0; l < layers; l++) {
    for (const norm of ['attn_norm', 'ffn_norm']) weights.set(`blk.${l}.${norm}`, expectTensor(`blk.${l}.${norm}.weight`, [dim])!)
    for (const [key, name] of LINEARS) {
      const [rows, cols] = shapes[key]
      const base = `blk.${l}.${name}`
      weights.set(base, expectTensor(`${base}.weight`, [cols, rows])!)
      const b = expectTensor(`${base}.bias`, [rows], true)
      if (b !== undefined) biases.set(base, b)
    }
  }
  weights.set('output_norm', expectTensor('output_norm.weight', [dim])!)
  const output = expectTensor('output.weight', [dim, vocab], true)
  weights.set('output', output ?? embd)
  const ob = expectTensor('output.bias', [vocab], true)
  if (ob !== undefined) biases.set('output', ob)
  const ropeFreqs = expectTensor('rope_freqs.weight', [headDim / 2], true)
  const unknown = g.tensors.filter((t) => !used.has(t.name)).map((t) => t.name)
  if (unknown.length > 0) throw fail(file, `unexpected tensors for ${arch}: ${unknown.slice(0, 8).join(', ')}${unknown.length > 8 ? ` and ${unknown.length - 8} more` : ''}`, { tensors: unknown })

  const tokenizer = tokenizerFromGguf(g, vocab)
  const tensorTypes: Record<string, number> = {}
  for (const t of g.tensors) tensorTypes[ggmlTypeName(t.type)] = (tensorTypes[ggmlTypeName(t.type)] ?? 0) + 1
  const name = g.string('general.name')
  return {
    architecture: arch,
    ...(name !== undefined ? { name } : {}),
    floatConfig,
    config,
    tokenizer,
    weight: (base) => {
      const t = weights.get(base)
      if (t === undefined) throw new VerimeshError('INTERNAL', `no GGUF tensor for ${base}`)
      return t
    },
    bias: (base) => biases.get(base),
    embedding: embd,
    tiedOutput: output === undefined,
    ...(ropeFreqs !== undefined ? { ropeFreqs } : {}),
    tensorTypes
  }
}

/**
 * The RoPE table with llama3's per-frequency divisors: θ_i = base^(−2i/hd) / f_i. With
 * all f_i = 1 it is quantize.ts's ropeTable to the bit (same expression, exact division).
 */
export function ropeTableWithFactors (dims: ModelDims, theta: number, factors: Float32Array): Int32Array {
  const half = dims.headDim / 2
  if (factors.length !== half) throw new VerimeshError('MODEL_INVALID', `rope_freqs has ${factors.length} factors, the head needs ${half}`)
  const out = new Int32Array(dims.context * half * 2)
  for (let p = 0; p < dims.context; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * (theta ** (-2 * i / dims.headDim) / factors[i]!)
      out[(p * half + i) * 2] = Math.round(Math.cos(angle) * 32768)
      out[(p * half + i) * 2 + 1] = Math.round(Math.sin(angle) * 32768)
    }
  }
  return out
}

export async function sha256File (file: string, onBytes?: (bytes: number) => void): Promise<string> {
  const fh = await open(file, 'r')
  try {
    const h = createHash('sha256')
    const buf = Buffer.allocUnsafe(8 << 20)
    let pos = 0
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
      if (bytesRead === 0) break
      h.update(buf.subarray(0, bytesRead))
      pos += bytesRead
      onBytes?.(pos)
    }
    return h.digest('hex')
  } finally {
    await fh.close()
  }
}

export async function importGguf (file: string, outDir: string, opts: ImportGgufOptions = {}): Promise<Manifest> {
  const g = await GgufReader.open(file)
  try {
    const plan = planGgufImport(g, opts.context === undefined ? {} : { context: opts.context })
    const { config } = plan
    checkTokenizerFits(plan.tokenizer, config)
    const L = config.dims.layers
    const hasBias = (base: string): boolean => plan.bias(base) !== undefined
    let ranges: Array<readonly [number, number]>
    if (opts.ranges !== undefined) {
      ranges = [...opts.ranges]
      validateRanges(L, ranges)
    } else {
      ranges = balancedRanges(L, opts.parts ?? 1, shardCosts(config, hasBias))
    }

    const t0 = performance.now()
    const elapsed = (): number => (performance.now() - t0) / 1000
    const sha256 = await sha256File(file, (bytes) => opts.onProgress?.({ phase: 'hash', done: bytes, total: g.size, bytes, seconds: elapsed() }))

    await preparePackageDir(outDir, opts.overwrite)
    return await cleanOnFailure(outDir, async () => {
      const tokenizer = await writeTokenizerFile(outDir, plan.tokenizer)
      const rope = plan.ropeFreqs !== undefined
        ? ropeTableWithFactors(config.dims, config.ropeTheta, await g.readF32(plan.ropeFreqs))
        : ropeTable(config.dims, config.ropeTheta)

      const total = ranges.reduce((n, r) => n + shardTensorSpecs(config, r, hasBias).length, 0)
      let done = 0
      let bytesRead = 0
      const t1 = performance.now()
      const read = async (t: GgufTensorInfo): Promise<Float32Array> => {
        const x = await g.readF32(t)
        bytesRead += t.bytes ?? 0
        let bad = 0
        // v − v is NaN exactly for NaN and ±Infinity; summing keeps the loop branch-free.
        for (let i = 0; i < x.length; i++) { const v = x[i]!; bad += v - v }
        if (bad !== 0) {
          const i = x.findIndex((v) => !Number.isFinite(v))
          throw fail(file, `tensor ${t.name} holds a non-finite value (${x[i]}) at element ${i}`, { tensor: t.name, element: i })
        }
        return x
      }
      // quantize.ts's errors do not know which tensor they are about.
      const named = async <T>(tensor: string, f: () => Promise<T>): Promise<T> => {
        try {
          return await f()
        } catch (err) {
          if (err instanceof VerimeshError && err.message.includes(path.basename(file))) throw err
          throw fail(file, `tensor ${tensor}: ${(err as Error).message}`, { tensor })
        }
      }
      const shards: ManifestShard[] = []
      for (const [index, range] of ranges.entries()) {
        const writer = await ShardFileWriter.create(outDir, index, range, shardTensorSpecs(config, range, hasBias))
        const put = async (name: string, data: Int8Array | Int32Array): Promise<void> => {
          await writer.write(name, data)
          opts.onProgress?.({ phase: 'tensors', done: ++done, total, bytes: bytesRead, seconds: (performance.now() - t1) / 1000, tensor: name })
        }
        try {
          await put('rope', rope)
          if (range[0] === 0) {
            const e = await named(plan.embedding.name, async () => quantizeEmbedding(await read(plan.embedding), config.dims.vocab, config.dims.dim))
            await put('token_embd.q', e.q)
            await put('token_embd.s', e.scales)
          }
          const gains = async (base: string): Promise<Int32Array> => await named(plan.weight(base).name, async () => quantizeGains(await read(plan.weight(base))))
          const linear = async (base: string, rows: number, cols: number): Promise<void> => {
            const b = plan.bias(base)
            const q = await named(plan.weight(base).name, async () => quantizeLinear({ rows, cols, w: await read(plan.weight(base)), ...(b !== undefined ? { bias: await read(b) } : {}) }))
            await put(`${base}.q`, q.q)
            await put(`${base}.s`, q.scales)
            if (q.bias !== undefined) await put(`${base}.b`, q.bias)
          }
          const shapes = linearShapes(config)
          for (let l = range[0]; l < range[1]; l++) {
            await put(`blk.${l}.attn_norm`, await gains(`blk.${l}.attn_norm`))
            for (const [key, name] of LINEARS) {
              if (key === 'wGate') await put(`blk.${l}.ffn_norm`, await gains(`blk.${l}.ffn_norm`))
              await linear(`blk.${l}.${name}`, shapes[key][0], shapes[key][1])
            }
          }
          if (range[1] === L) {
            await put('output_norm', await gains('output_norm'))
            await linear('output', config.dims.vocab, config.dims.dim)
          }
          shards.push(await writer.finish())
        } catch (err) {
          await writer.abort()
          throw err
        }
      }
      const name = opts.name ?? plan.name ?? path.basename(file).replace(/\.gguf$/i, '')
      return await writeManifest(outDir, {
        name,
        config,
        source: {
          kind: 'gguf',
          file: path.basename(file),
          sha256,
          bytes: g.size,
          architecture: plan.architecture,
          ...(plan.name !== undefined ? { name: plan.name } : {}),
          tensorTypes: plan.tensorTypes,
          ...(plan.ropeFreqs !== undefined ? { ropeFreqs: Array.from(await g.readF32(plan.ropeFreqs)) } : {})
        }
      }, tokenizer, shards)
    })
  } finally {
    await g.close()
  }
}
