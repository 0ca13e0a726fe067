// The float reference the integer engine's quality is measured against (spec §5): the
// same quantized weights, dequantized to float, run with float RMSNorm, RoPE, softmax
// and SiLU and no activation quantization at all. It is a yardstick, never a backend:
// its outputs depend on the platform's libm and are not committed anywhere.

import type { QLinear, ShardWeights } from './types.js'

function dequantLinear (w: QLinear): Float32Array {
  const out = new Float32Array(w.rows * w.cols)
  for (let r = 0; r < w.rows; r++) {
    const s = w.scales[2 * r]! * 2 ** w.scales[2 * r + 1]!
    for (let c = 0; c < w.cols; c++) out[r * w.cols + c] = w.q[r * w.cols + c]! * s
  }
  return out
}

function matvec (w: QLinear, deq: Float32Array, x: Float64Array): Float64Array {
  const y = new Float64Array(w.rows)
  for (let r = 0; r < w.rows; r++) {
    let acc = 0
    for (let c = 0; c < w.cols; c++) acc += deq[r * w.cols + c]! * x[c]!
    y[r] = acc + (w.bias === undefined ? 0 : w.bias[r]! / 65536)
  }
  return y
}

function rmsnorm (x: Float64Array, g: Int32Array, eps: number): Float64Array {
  let ss = 0
  for (const v of x) ss += v * v
  const inv = 1 / Math.sqrt(ss / x.length + eps)
  return x.map((v, i) => v * inv * g[i]! / 65536)
}

/** Whole-model float inference over a prompt; returns the logits of every position. */
export class FloatReference {
  readonly #w: ShardWeights
  readonly #deq = new Map<QLinear, Float32Array>()

  constructor (whole: ShardWeights) {
    if (whole.embedding === undefined || whole.output === undefined) throw new Error('the float reference needs the whole model')
    this.#w = whole
  }

  #m (w: QLinear): Float32Array {
    let d = this.#deq.get(w)
    if (d === undefined) { d = dequantLinear(w); this.#deq.set(w, d) }
    return d
  }

  #mv (w: QLinear, x: Float64Array): Float64Array { return matvec(w, this.#m(w), x) }

  /** Logits (natural-log units) after each token of `tokens`. */
  run (tokens: readonly number[]): Float64Array[] {
    const w = this.#w
    const c = w.config
    const d = c.dims
    const hd = d.headDim
    const eps = c.epsQ32 / 2 ** 32
    const keys: Float64Array[][] = w.layers.map(() => [])
    const vals: Float64Array[][] = w.layers.map(() => [])
    const out: Float64Array[] = []
    for (let pos = 0; pos < tokens.length; pos++) {
      const tok = tokens[pos]!
      let x = new Float64Array(d.dim)
      for (let i = 0; i < d.dim; i++) x[i] = w.embedding!.q[tok * d.dim + i]! * w.embedding!.scales[tok * d.dim / 32 + (i >> 5)]! / 65536
      w.layers.forEach((L, l) => {
        const n = rmsnorm(x, L.attnNorm, eps)
        const q = this.#mv(L.wq, n); const k = this.#mv(L.wk, n); const v = this.#mv(L.wv, n)
        rope(q, d.heads, hd, pos, c.ropeTheta, c.ropeStyle)
        rope(k, d.kvHeads, hd, pos, c.ropeTheta, c.ropeStyle)
        keys[l]!.push(k); vals[l]!.push(v)
        const o = new Float64Array(d.heads * hd)
        const group = d.heads / d.kvHeads
        for (let h = 0; h < d.heads; h++) {
          const g = Math.floor(h / group)
          const s = keys[l]!.map(kj => { let a = 0; for (let i = 0; i < hd; i++) a += q[h * hd + i]! * kj[g * hd + i]!; return a / Math.sqrt(hd) })
          const mx = Math.max(...s)
          const e = s.map(v => Math.exp(v - mx))
          const sum = e.reduce((a, b) => a + b, 0)
          vals[l]!.forEach((vj, j) => { for (let i = 0; i < hd; i++) o[h * hd + i] += e[j]! / sum * vj[g * hd + i]! })
        }
        const attn = this.#mv(L.wo, o)
        x = x.map((v, i) => v + attn[i]!)
        const n2 = rmsnorm(x, L.ffnNorm, eps)
        const gate = this.#mv(L.wGate, n2); const up = this.#mv(L.wUp, n2)
        const h = gate.map((gv, i) => gv / (1 + Math.exp(-gv)) * up[i]!)
        const down = this.#mv(L.wDown, h)
        x = x.map((v, i) => v + down[i]!)
      })
      out.push(this.#mv(w.output!, rmsnorm(x, w.outputNorm!, eps)))
    }
    return out
  }
}

function rope (v: Float64Array, heads: number, hd: number, pos: number, theta: number, style: 'adjacent' | 'halves'): void {
  const half = hd / 2
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const ang = pos * theta ** (-2 * i / hd)
      const c = Math.cos(ang); const s = Math.sin(ang)
      const ia = style === 'adjacent' ? h * hd + 2 * i : h * hd + i
      const ib = style === 'adjacent' ? ia + 1 : ia + half
      const a = v[ia]!; const b = v[ib]!
      v[ia] = a * c - b * s
      v[ib] = a * s + b * c
    }
  }
}

export interface LogitQuality {
  /** max |int − float| over all logits, natural-log units. */
  maxAbsError: number
  /** Mean KL(float ‖ int) over positions, nats. */
  meanKl: number
  /** Fraction of positions whose argmax agrees. */
  top1Agreement: number
  positions: number
}

export function compareLogits (intLogits: readonly Int32Array[], floatLogits: readonly Float64Array[]): LogitQuality {
  let maxAbs = 0; let kl = 0; let agree = 0
  for (let p = 0; p < intLogits.length; p++) {
    const a = Array.from(intLogits[p]!, v => v / 65536)
    const b = floatLogits[p]!
    const pa = softmax(a); const pb = softmax(Array.from(b))
    let am = 0; let bm = 0
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!))
      if (pb[i]! > 0) kl += pb[i]! * Math.log(pb[i]! / Math.max(pa[i]!, 1e-300))
      if (a[i]! > a[am]!) am = i
      if (b[i]! > b[bm]!) bm = i
    }
    if (am === bm) agree++
  }
  const n = intLogits.length
  return { maxAbsError: maxAbs, meanKl: kl / n, top1Agreement: agree / n, positions: n }
}

function softmax (v: number[]): number[] {
  const mx = Math.max(...v)
  const e = v.map(x => Math.exp(x - mx))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map(x => x / s)
}
