// The TypeScript reference of docs/engine-spec.md: one shard's forward pass, written for
// clarity first. The native addon (every SIMD path) and the CUDA kernels must match it
// byte for byte; it is also the JS fallback the Piscina workers run.

import { VerimeshError } from '../../../runtime/errors.js'
import { exp2q30, fromBact, isqrt, LOG2E_Q30, mulr, qvec, rdiv, rshr, sat32, toBact } from './fixed.js'
import type { BoundaryActs, ModelDims, QLayer, QLinear, ShardWeights } from './types.js'

export type ShardInputArrays =
  | { readonly kind: 'tokens', readonly tokens: Int32Array }
  | { readonly kind: 'acts', readonly acts: BoundaryActs }

export interface ShardOutput {
  readonly acts: BoundaryActs
  /** Last shard only: int32 Q16 logits of the last position. */
  readonly logits?: Int32Array
}

/** C[m][n] = Σ_k a[m][k] · w[n][k]: the product every backend must agree on exactly. */
export function gemmS8Reference (a: Int8Array, w: Int8Array, m: number, n: number, k: number): Int32Array {
  const c = new Int32Array(m * n)
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0
      for (let p = 0; p < k; p++) acc += a[i * k + p]! * w[j * k + p]!
      c[i * n + j] = acc
    }
  }
  return c
}

/** A quantized input vector: int8 values and their scale (spec §1.3). */
interface QIn { q: Int8Array, m: number, x: number }

function quant (v: Int32Array, n = v.length): QIn {
  const q = new Int8Array(n)
  const [m, x] = qvec(v, 0, n, q, 0)
  return { q, m, x }
}

/** Spec §2.1. */
export function linear (w: QLinear, a: QIn, out: Int32Array): void {
  const { rows, cols, q, scales, bias } = w
  const aq = a.q
  for (let j = 0; j < rows; j++) {
    let acc = 0
    const base = j * cols
    for (let k = 0; k < cols; k++) acc += aq[k]! * q[base + k]!
    const u = mulr(acc, scales[2 * j]!, 31)
    let y = mulr(u, a.m, -(a.x + scales[2 * j + 1]! + 47))
    if (bias !== undefined) y = sat32(y + bias[j]!)
    out[j] = y
  }
}

/** Spec §2.2. */
export function rmsnorm (x: Int32Array, g: Int32Array, epsQ32: number): QIn {
  const d = x.length
  let amax = 0
  for (let i = 0; i < d; i++) { const a = Math.abs(x[i]!); if (a > amax) amax = a }
  const k = amax === 0 ? 0 : Math.max(0, (32 - Math.clz32(amax)) - 15)
  const xs = new Int32Array(d)
  let ss = 0
  for (let i = 0; i < d; i++) { const v = rshr(x[i]!, k); xs[i] = v; ss += v * v }
  const ms = Math.max(1, Math.floor(ss / d) + rshr(epsQ32, 2 * k))
  const r = isqrt(ms * 65536)
  const y = new Int32Array(d)
  for (let i = 0; i < d; i++) y[i] = rdiv(xs[i]! * g[i]! * 256, r)
  return quant(y)
}

/** Spec §2.3, in place on `heads` heads of size hd. */
export function rope (v: Int32Array, heads: number, hd: number, pos: number, table: Int32Array, style: 'adjacent' | 'halves'): void {
  const half = hd / 2
  const row = pos * half * 2
  for (let h = 0; h < heads; h++) {
    const base = h * hd
    for (let i = 0; i < half; i++) {
      const c = table[row + 2 * i]!
      const s = table[row + 2 * i + 1]!
      const ia = style === 'adjacent' ? base + 2 * i : base + i
      const ib = style === 'adjacent' ? ia + 1 : ia + half
      const a = v[ia]!
      const b = v[ib]!
      v[ia] = sat32(rshr(a * c - b * s, 15))
      v[ib] = sat32(rshr(a * s + b * c, 15))
    }
  }
}

/** Spec §2.6. */
export function silu (x: number): number {
  const a = Math.min(Math.abs(x), 2097152)
  const y = mulr(a, LOG2E_Q30, 30)
  const e = exp2q30(-y)
  const sigma = x >= 0 ? rdiv(70368744177664, 1073741824 + e) : rdiv(e * 65536, 1073741824 + e)
  return mulr(x, sigma, 16)
}

/** One session's KV cache for the layers of a shard: int8 rows plus (m, x) scales. */
export interface KvBuffers {
  readonly k: Int8Array[]
  readonly v: Int8Array[]
  readonly ks: Int32Array[]
  readonly vs: Int32Array[]
}

/** `shared` puts the cache in SharedArrayBuffers, so pool workers can use it in place. */
export function allocKv (layers: number, d: ModelDims, shared = false): KvBuffers {
  const rows = d.context * d.kvHeads
  const i8 = (n: number): Int8Array => shared ? new Int8Array(new SharedArrayBuffer(n)) : new Int8Array(n)
  const i32 = (n: number): Int32Array => shared ? new Int32Array(new SharedArrayBuffer(4 * n)) : new Int32Array(n)
  return {
    k: Array.from({ length: layers }, () => i8(rows * d.headDim)),
    v: Array.from({ length: layers }, () => i8(rows * d.headDim)),
    ks: Array.from({ length: layers }, () => i32(rows * 2)),
    vs: Array.from({ length: layers }, () => i32(rows * 2))
  }
}

/** The sessions' positions live with the caller; this is one stateless step. */
export function runShard (w: ShardWeights, kv: KvBuffers, pos: number, input: ShardInputArrays): ShardOutput {
  const d = w.config.dims
  const n = input.kind === 'tokens' ? input.tokens.length : input.acts.positions
  checkShardInput(w, pos, n, input)
  const blocks = d.dim / 32
  const outQ = new Int8Array(n * d.dim)
  const outS = new Int32Array(n * blocks)
  const x = new Int32Array(d.dim)
  let logits: Int32Array | undefined
  for (let t = 0; t < n; t++) {
    if (input.kind === 'tokens') {
      const tok = input.tokens[t]!
      fromBact(w.embedding!.q, tok * d.dim, w.embedding!.scales, tok * blocks, d.dim, x)
    } else {
      fromBact(input.acts.q, t * d.dim, input.acts.scales, t * blocks, d.dim, x)
    }
    if (w.layers.length === 0) {
      // No layer to requantise after: the boundary passes through unchanged (as the
      // native runners do); only an output-head-only shard can be this.
      if (input.kind === 'acts') {
        outQ.set(input.acts.q.subarray(t * d.dim, (t + 1) * d.dim), t * d.dim)
        outS.set(input.acts.scales.subarray(t * blocks, (t + 1) * blocks), t * blocks)
      } else {
        const tok = input.tokens[t]!
        outQ.set(w.embedding!.q.subarray(tok * d.dim, (tok + 1) * d.dim), t * d.dim)
        outS.set(w.embedding!.scales.subarray(tok * blocks, (tok + 1) * blocks), t * blocks)
      }
    }
    for (let l = 0; l < w.layers.length; l++) {
      layer(w, w.layers[l]!, l, kv, x, pos + t)
      // Requantise after every layer (spec §2.7) so results do not depend on where
      // the shards are cut.
      toBact(x, d.dim, outQ, t * d.dim, outS, t * blocks)
      fromBact(outQ, t * d.dim, outS, t * blocks, d.dim, x)
    }
    if (w.output !== undefined && t === n - 1) {
      logits = new Int32Array(w.output.rows)
      linear(w.output, rmsnorm(x, w.outputNorm!, w.config.epsQ32), logits)
    }
  }
  const acts: BoundaryActs = { positions: n, q: outQ, scales: outS }
  return logits === undefined ? { acts } : { acts, logits }
}

/** A shard with its sessions' KV caches, run inline. */
export class ReferenceShard {
  readonly #w: ShardWeights
  readonly #sessions = new Map<string, { kv: KvBuffers, length: number }>()

  constructor (w: ShardWeights) {
    this.#w = w
    const d = w.config.dims
    if (w.layers.length !== w.range[1] - w.range[0]) throw new VerimeshError('MODEL_INVALID', `shard [${w.range[0]}, ${w.range[1]}) has ${w.layers.length} layers`)
    if (w.rope.length !== d.context * d.headDim) throw new VerimeshError('MODEL_INVALID', `rope table has ${w.rope.length} entries, expected ${d.context * d.headDim}`)
  }

  get weights (): ShardWeights { return this.#w }

  endSession (session: string): void { this.#sessions.delete(session) }

  get sessions (): number { return this.#sessions.size }

  forward (session: string, pos: number, input: ShardInputArrays): ShardOutput {
    const w = this.#w
    // Validate before touching the session table: a refused step leaves no trace.
    checkShardInput(w, pos, input.kind === 'tokens' ? input.tokens.length : input.acts.positions, input)
    let s = this.#sessions.get(session)
    checkSessionPosition(session, s?.length, pos)
    if (s === undefined) {
      s = { kv: allocKv(w.layers.length, w.config.dims), length: 0 }
      this.#sessions.set(session, s)
    }
    const out = runShard(w, s.kv, pos, input)
    s.length = pos + out.acts.positions
    return out
  }
}

function layer (w: ShardWeights, L: QLayer, l: number, cache: KvBuffers, x: Int32Array, pos: number): void {
  const { dims: d, epsQ32, attnScale, ropeStyle } = w.config
  const hd = d.headDim
  // Attention (spec §2.5).
  const n1 = rmsnorm(x, L.attnNorm, epsQ32)
  const q = new Int32Array(d.heads * hd)
  const k = new Int32Array(d.kvHeads * hd)
  const v = new Int32Array(d.kvHeads * hd)
  linear(L.wq, n1, q)
  linear(L.wk, n1, k)
  linear(L.wv, n1, v)
  rope(q, d.heads, hd, pos, w.rope, ropeStyle)
  rope(k, d.kvHeads, hd, pos, w.rope, ropeStyle)
  const K = cache.k[l]!; const V = cache.v[l]!; const KS = cache.ks[l]!; const VS = cache.vs[l]!
  for (let g = 0; g < d.kvHeads; g++) {
    const row = pos * d.kvHeads + g
    const [km, kx] = qvec(k, g * hd, hd, K, row * hd)
    KS[2 * row] = km; KS[2 * row + 1] = kx
    const [vm, vx] = qvec(v, g * hd, hd, V, row * hd)
    VS[2 * row] = vm; VS[2 * row + 1] = vx
  }
  const [mc, xc] = attnScale
  const group = d.heads / d.kvHeads
  const o = new Int32Array(d.heads * hd)
  const qh = new Int8Array(hd)
  const l2 = new Array<number>(pos + 1)
  const wts = new Array<number>(pos + 1)
  for (let h = 0; h < d.heads; h++) {
    const [mq, xq] = qvec(q, h * hd, hd, qh, 0)
    const g = Math.floor(h / group)
    let mx = -Infinity
    for (let j = 0; j <= pos; j++) {
      const row = j * d.kvHeads + g
      let acc = 0
      for (let i = 0; i < hd; i++) acc += qh[i]! * K[row * hd + i]!
      const lj = mulr(mulr(mulr(acc, KS[2 * row]!, 31), mq, 31), mc, -(KS[2 * row + 1]! + xq + xc + 78))
      l2[j] = lj
      if (lj > mx) mx = lj
    }
    let S = 0
    for (let j = 0; j <= pos; j++) {
      const e = exp2q30(Math.max(l2[j]! - mx, -2147483647))
      l2[j] = e
      S += e
    }
    let X = -Infinity
    for (let j = 0; j <= pos; j++) { const xv = VS[2 * (j * d.kvHeads + g) + 1]!; if (xv > X) X = xv }
    for (let j = 0; j <= pos; j++) {
      const row = j * d.kvHeads + g
      const p = rdiv(l2[j]! * 32768, S)
      wts[j] = rshr(p * VS[2 * row]!, 30 + X - VS[2 * row + 1]!)
    }
    for (let i = 0; i < hd; i++) {
      let acc = 0
      for (let j = 0; j <= pos; j++) acc += wts[j]! * V[(j * d.kvHeads + g) * hd + i]!
      o[h * hd + i] = sat32(rshr(acc, -(X + 31)))
    }
  }
  const attn = new Int32Array(d.dim)
  linear(L.wo, quant(o), attn)
  for (let i = 0; i < d.dim; i++) x[i] = sat32(x[i]! + attn[i]!)

  // MLP (spec §2.6).
  const n2 = rmsnorm(x, L.ffnNorm, epsQ32)
  const gate = new Int32Array(d.ffn)
  const up = new Int32Array(d.ffn)
  linear(L.wGate, n2, gate)
  linear(L.wUp, n2, up)
  for (let i = 0; i < d.ffn; i++) gate[i] = mulr(silu(gate[i]!), up[i]!, 16)
  const down = new Int32Array(d.dim)
  linear(L.wDown, quant(gate), down)
  for (let i = 0; i < d.dim; i++) x[i] = sat32(x[i]! + down[i]!)
}

/**
 * A step's position against the session's cached length (undefined: unknown session).
 * A new session starts at 0; pos below the length rewinds (a retried step overwrites
 * its own cache rows); a gap is refused. Shared by every backend that keeps sessions.
 */
export function checkSessionPosition (session: string, length: number | undefined, pos: number): void {
  if (length === undefined) {
    if (pos !== 0) throw new VerimeshError('ENGINE_INPUT_INVALID', `session '${session}' is unknown here; it must start at position 0, not ${pos}`, { session, pos })
  } else if (pos > length) {
    throw new VerimeshError('ENGINE_INPUT_INVALID', `session '${session}' is at position ${length}, got a step for position ${pos}`, { session, pos, expected: length })
  }
}

export function checkShardInput (w: ShardWeights, pos: number, n: number, input: ShardInputArrays): void {
  const d = w.config.dims
  if (n < 1) throw new VerimeshError('ENGINE_INPUT_INVALID', 'a step needs at least one position')
  if (!Number.isInteger(pos) || pos < 0 || pos + n > d.context) {
    throw new VerimeshError('ENGINE_INPUT_INVALID', `positions [${pos}, ${pos + n}) exceed the model's context of ${d.context}`, { pos, n, context: d.context })
  }
  if (input.kind === 'tokens') {
    if (w.embedding === undefined) throw new VerimeshError('ENGINE_INPUT_INVALID', `shard [${w.range[0]}, ${w.range[1]}) does not own the embeddings; send it activations`)
    for (const t of input.tokens) {
      if (!(t >= 0 && t < d.vocab)) throw new VerimeshError('ENGINE_INPUT_INVALID', `token id ${t} is outside the vocabulary of ${d.vocab}`, { token: t })
    }
    return
  }
  if (w.range[0] === 0 && w.embedding !== undefined) throw new VerimeshError('ENGINE_INPUT_INVALID', 'the first shard takes tokens, not activations')
  const a = input.acts
  if (a.q.length !== n * d.dim || a.scales.length !== n * d.dim / 32) {
    throw new VerimeshError('ENGINE_INPUT_INVALID', `activations for ${n} positions need ${n * d.dim} values and ${n * d.dim / 32} scales, got ${a.q.length} and ${a.scales.length}`)
  }
  for (let i = 0; i < a.scales.length; i++) {
    const s = a.scales[i]!
    if (!(s >= 1 && s < 16777216)) throw new VerimeshError('ENGINE_INPUT_INVALID', `activation block scale ${s} at ${i} is outside [1, 2^24)`, { index: i })
  }
  for (let i = 0; i < a.q.length; i++) {
    if (a.q[i] === -128) throw new VerimeshError('ENGINE_INPUT_INVALID', `activation value -128 at ${i} is not a valid boundary value`, { index: i })
  }
}
