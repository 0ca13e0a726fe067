// Seeded random models ("synthetic", and named so in their manifests): the default
// devnet model and the test fixtures. Only + − × ÷ on doubles are used (no Math.cos,
// Math.log), so every JavaScript engine produces the same floats from the same seed.

import { VerimeshError } from '../../../runtime/errors.js'
import { modelConfig, quantizeEmbedding, quantizeGains, quantizeLinear, ropeTable, validateDims } from './quantize.js'
import type { FloatLayer, FloatLinear, FloatModel, ModelDims, QLayer, ShardWeights } from './types.js'

export type { FloatModel } from './types.js'

export interface SynthOptions {
  readonly dims: ModelDims
  readonly seed: number
  readonly ropeStyle?: 'adjacent' | 'halves'
  /** Give q/k/v biases, as Qwen-class models have. */
  readonly bias?: boolean
  readonly ropeTheta?: number
}

/** Named dimension presets for `verimesh model synth --dims`. */
export const DIM_PRESETS: Readonly<Record<string, ModelDims>> = {
  tiny: { vocab: 259, dim: 64, layers: 4, heads: 4, kvHeads: 2, headDim: 16, ffn: 128, context: 1024 },
  small: { vocab: 259, dim: 256, layers: 8, heads: 8, kvHeads: 4, headDim: 32, ffn: 704, context: 512 },
  smol: { vocab: 49152, dim: 576, layers: 30, heads: 9, kvHeads: 3, headDim: 64, ffn: 1536, context: 2048 },
  tinyllama: { vocab: 32000, dim: 2048, layers: 22, heads: 32, kvHeads: 4, headDim: 64, ffn: 5632, context: 2048 }
}

/** xorshift128+ as doubles in [0, 1): integer state, so results are bit-identical everywhere. */
function uniform (seed: number): () => number {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1
  let s1 = Math.imul(seed, 0x85ebca6b) >>> 0 || 2
  let s2 = 0x27d4eb2f
  let s3 = 0x165667b1
  return () => {
    const t = s0 ^ (s0 << 11)
    s0 = s1; s1 = s2; s2 = s3
    s3 = (s3 ^ (s3 >>> 19) ^ t ^ (t >>> 8)) >>> 0
    return s3 / 4294967296
  }
}

function fill (next: () => number, n: number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(n)
  const half = std * Math.sqrt(3) // a uniform on [-a, a] has std a/√3
  for (let i = 0; i < n; i++) out[i] = mean + (2 * next() - 1) * half
  return out
}

function linear (next: () => number, rows: number, cols: number, bias: boolean, gain = 1): FloatLinear {
  const w = fill(next, rows * cols, gain / Math.sqrt(cols))
  return bias ? { rows, cols, w, bias: fill(next, rows, 0.1) } : { rows, cols, w }
}

export function synthFloatModel (opts: SynthOptions): FloatModel {
  const d = opts.dims
  validateDims(d)
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new VerimeshError('MODEL_INVALID', `seed must be a uint32, got ${opts.seed}`)
  const next = uniform(opts.seed)
  const bias = opts.bias === true
  const embedding = fill(next, d.vocab * d.dim, 1)
  const layers: FloatLayer[] = []
  for (let l = 0; l < d.layers; l++) {
    layers.push({
      attnNorm: fill(next, d.dim, 0.1, 1),
      wq: linear(next, d.heads * d.headDim, d.dim, bias, 2),
      wk: linear(next, d.kvHeads * d.headDim, d.dim, bias, 2),
      wv: linear(next, d.kvHeads * d.headDim, d.dim, bias),
      wo: linear(next, d.dim, d.heads * d.headDim, false, 0.5),
      ffnNorm: fill(next, d.dim, 0.1, 1),
      wGate: linear(next, d.ffn, d.dim, false, 2),
      wUp: linear(next, d.ffn, d.dim, false),
      wDown: linear(next, d.dim, d.ffn, false, 0.5)
    })
  }
  return {
    config: { dims: d, ropeStyle: opts.ropeStyle ?? 'adjacent', ropeTheta: opts.ropeTheta ?? 10000, eps: 1e-5 },
    embedding,
    layers,
    outputNorm: fill(next, d.dim, 0.1, 1),
    output: linear(next, d.vocab, d.dim, false, 4)
  }
}

export function quantizeLayer (f: FloatLayer): QLayer {
  return {
    attnNorm: quantizeGains(f.attnNorm),
    wq: quantizeLinear(f.wq),
    wk: quantizeLinear(f.wk),
    wv: quantizeLinear(f.wv),
    wo: quantizeLinear(f.wo),
    ffnNorm: quantizeGains(f.ffnNorm),
    wGate: quantizeLinear(f.wGate),
    wUp: quantizeLinear(f.wUp),
    wDown: quantizeLinear(f.wDown)
  }
}

/** The whole model, quantized: range [0, layers] with both ends. */
export function quantizeModel (f: FloatModel): ShardWeights {
  const config = modelConfig(f.config)
  const d = config.dims
  return {
    config,
    range: [0, d.layers],
    rope: ropeTable(d, config.ropeTheta),
    embedding: quantizeEmbedding(f.embedding, d.vocab, d.dim),
    layers: f.layers.map(quantizeLayer),
    outputNorm: quantizeGains(f.outputNorm),
    output: quantizeLinear(f.output)
  }
}

export function synthWeights (opts: SynthOptions): ShardWeights {
  return quantizeModel(synthFloatModel(opts))
}

/** The layers [a, b) of a whole-model ShardWeights, with the ends it owns. */
export function sliceShard (w: ShardWeights, range: readonly [number, number]): ShardWeights {
  const [a, b] = range
  const [wa, wb] = w.range
  if (!(Number.isInteger(a) && Number.isInteger(b) && wa <= a && a < b && b <= wb)) {
    throw new VerimeshError('MODEL_INVALID', `cannot slice layers [${a}, ${b}) out of [${wa}, ${wb})`)
  }
  const last = b === w.config.dims.layers
  return {
    config: w.config,
    range: [a, b],
    rope: w.rope,
    ...(a === 0 && w.embedding !== undefined ? { embedding: w.embedding } : {}),
    layers: w.layers.slice(a - wa, b - wa),
    ...(last && w.outputNorm !== undefined ? { outputNorm: w.outputNorm } : {}),
    ...(last && w.output !== undefined ? { output: w.output } : {})
  }
}
