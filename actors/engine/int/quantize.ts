// Model creation: the only place floats meet the engine. Everything computed here is
// stored as integers in the model package (spec §1.1), so backends never depend on a
// platform's libm.

import { VerimeshError } from '../../../runtime/errors.js'
import { toBact } from './fixed.js'
import type { FloatLinear, FloatModelConfig, ModelConfig, ModelDims, QEmbedding, QLinear, Scale } from './types.js'

/** (m, x) with m · 2^x = s, 2^30 ≤ m < 2^31 (spec §1.1). */
export function scaleOf (s: number): Scale {
  if (!(s > 0) || !Number.isFinite(s)) throw new VerimeshError('MODEL_INVALID', `scale must be a positive finite number, got ${s}`)
  let e = Math.floor(Math.log2(s)) + 1
  // log2 may be off by one near powers of two: normalise so that f is in [0.5, 1).
  while (s / 2 ** e >= 1) e++
  while (s / 2 ** e < 0.5) e--
  let m = Math.round((s / 2 ** e) * 2 ** 31)
  if (m === 2 ** 31) { m = 2 ** 30; e++ }
  return [m, e - 31]
}

export function quantizeLinear (f: FloatLinear): QLinear {
  const { rows, cols, w } = f
  if (w.length !== rows * cols) throw new VerimeshError('MODEL_INVALID', `linear has ${w.length} weights, expected ${rows}×${cols}`)
  const q = new Int8Array(rows * cols)
  const scales = new Int32Array(rows * 2)
  for (let r = 0; r < rows; r++) {
    let amax = 0
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c]!
      if (!Number.isFinite(v)) throw new VerimeshError('MODEL_INVALID', `non-finite weight at row ${r}, column ${c}`)
      const a = Math.abs(v)
      if (a > amax) amax = a
    }
    const s = amax > 0 ? amax / 127 : 1
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(w[r * cols + c]! / s)))
    const [m, x] = scaleOf(s)
    scales[2 * r] = m
    scales[2 * r + 1] = x
  }
  const out: QLinear = { rows, cols, q, scales }
  if (f.bias === undefined) return out
  return { ...out, bias: toQ16(f.bias, 'bias') }
}

function toQ16 (v: Float32Array, what: string, limit = 2 ** 31 - 1): Int32Array {
  const out = new Int32Array(v.length)
  for (let i = 0; i < v.length; i++) {
    const x = Math.round(v[i]! * 65536)
    if (!Number.isFinite(x) || Math.abs(x) > limit) throw new VerimeshError('MODEL_INVALID', `${what}[${i}] = ${v[i]} is outside the Q16 range the engine supports (|x| < ${limit / 65536})`)
    out[i] = x
  }
  return out
}

/** RMSNorm gains in Q16 with |g| < 2^23 (spec §2.2). */
export function quantizeGains (g: Float32Array): Int32Array {
  return toQ16(g, 'norm gain', 2 ** 23 - 1)
}

export function quantizeEmbedding (w: Float32Array, vocab: number, dim: number): QEmbedding {
  if (dim % 32 !== 0) throw new VerimeshError('MODEL_INVALID', `dim ${dim} is not a multiple of 32`)
  const q = new Int8Array(vocab * dim)
  const scales = new Int32Array(vocab * dim / 32)
  const row = new Int32Array(dim)
  for (let t = 0; t < vocab; t++) {
    for (let i = 0; i < dim; i++) {
      const x = Math.round(w[t * dim + i]! * 65536)
      row[i] = Math.max(-2147483647, Math.min(2147483647, x))
    }
    toBact(row, dim, q, t * dim, scales, t * dim / 32)
  }
  return { q, scales }
}

/** cos/sin in Q15 per (position, pair), spec §2.3. */
export function ropeTable (dims: ModelDims, theta: number): Int32Array {
  const half = dims.headDim / 2
  const out = new Int32Array(dims.context * half * 2)
  for (let p = 0; p < dims.context; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * theta ** (-2 * i / dims.headDim)
      out[(p * half + i) * 2] = Math.round(Math.cos(angle) * 32768)
      out[(p * half + i) * 2 + 1] = Math.round(Math.sin(angle) * 32768)
    }
  }
  return out
}

export function validateDims (d: ModelDims): void {
  const ints: Array<[string, number]> = Object.entries(d)
  for (const [k, v] of ints) {
    if (!Number.isInteger(v) || v < 1) throw new VerimeshError('MODEL_INVALID', `dims.${k} must be a positive integer, got ${v}`)
  }
  if (d.dim % 32 !== 0) throw new VerimeshError('MODEL_INVALID', `dims.dim ${d.dim} must be a multiple of 32`)
  if (d.heads % d.kvHeads !== 0) throw new VerimeshError('MODEL_INVALID', `heads ${d.heads} must be a multiple of kvHeads ${d.kvHeads}`)
  if (d.headDim % 2 !== 0) throw new VerimeshError('MODEL_INVALID', `headDim ${d.headDim} must be even`)
  if (d.dim > 16384 || d.ffn > 131072 || d.heads * d.headDim > 131072) throw new VerimeshError('MODEL_INVALID', 'dimensions exceed the spec bounds (dim ≤ 16384, K ≤ 131072)')
}

export function modelConfig (fc: FloatModelConfig): ModelConfig {
  validateDims(fc.dims)
  return {
    architecture: 'llama',
    dims: fc.dims,
    ropeStyle: fc.ropeStyle,
    ropeTheta: fc.ropeTheta,
    epsQ32: Math.max(1, Math.round(fc.eps * 2 ** 32)),
    attnScale: scaleOf(Math.LOG2E / Math.sqrt(fc.dims.headDim))
  }
}
