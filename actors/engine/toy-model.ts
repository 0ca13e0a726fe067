// A deterministic integer toy model: the stand-in for the native engine until the
// bit-exact transformer lands (issue 3), behind the same ShardEngine interface.
// Spec: docs/toy-model.md. Only int32-safe integer arithmetic is used (Math.imul,
// arithmetic shifts, clamps), so every JavaScript engine produces identical bytes.

import { createHash } from 'node:crypto'

export interface ToyModelSpec {
  readonly family: 'toy-int8'
  readonly seed: number
  readonly vocab: number
  readonly dim: number
  readonly layers: number
  /** Contiguous layer ranges [start, end), one per shard. */
  readonly shards: ReadonlyArray<readonly [number, number]>
}

export const DEFAULT_TOY_MODEL: ToyModelSpec = {
  family: 'toy-int8', seed: 42, vocab: 256, dim: 64, layers: 4, shards: [[0, 2], [2, 4]]
}

export interface ToyWeights {
  readonly spec: ToyModelSpec
  /** [vocab][dim] */
  readonly embedding: Int8Array
  /** per layer, [dim][dim] row-major */
  readonly layers: readonly Int8Array[]
  /** [vocab][dim] */
  readonly head: Int8Array
}

export interface SamplingParams {
  /** 0 means greedy. Otherwise milli-units (1000 = temperature 1.0). */
  readonly temperatureMilli: number
  readonly topK: number
  /** Decimal uint64, from the signed request, so re-execution reproduces the draw. */
  readonly seed: string
}

/** Per-session, per-layer running state: the toy model's analogue of a KV cache. */
export type LayerState = Int32Array[]

/** mulberry32: a tiny PRNG with a 32-bit state, integer-only. */
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

function randomInt8 (next: () => number, n: number): Int8Array {
  const out = new Int8Array(n)
  // Values in [-127, 127]: -128 is excluded so negation never overflows.
  for (let i = 0; i < n; i++) out[i] = (next() % 255) - 127
  return out
}

export function validateSpec (spec: ToyModelSpec): string | undefined {
  if (spec.family !== 'toy-int8') return `unknown model family '${String(spec.family)}'`
  for (const [k, v] of [['vocab', spec.vocab], ['dim', spec.dim], ['layers', spec.layers]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) return `${k} must be an integer in [1, 4096], got ${v}`
  }
  let expect = 0
  for (const [a, b] of spec.shards) {
    if (a !== expect || b <= a) return `shards must be contiguous, non-empty layer ranges starting at 0; got [${a}, ${b})`
    expect = b
  }
  if (expect !== spec.layers) return `shards cover ${expect} layers, model has ${spec.layers}`
  return undefined
}

export function synthesizeWeights (spec: ToyModelSpec): ToyWeights {
  const next = mulberry32(spec.seed)
  const embedding = randomInt8(next, spec.vocab * spec.dim)
  const layers: Int8Array[] = []
  for (let l = 0; l < spec.layers; l++) layers.push(randomInt8(next, spec.dim * spec.dim))
  const head = randomInt8(next, spec.vocab * spec.dim)
  return { spec, embedding, layers, head }
}

function clamp8 (v: number): number {
  return v > 127 ? 127 : v < -127 ? -127 : v
}

/** Round-half-up arithmetic right shift, the only rounding the toy model uses. */
function roundShift (v: number, shift: number): number {
  return (v + (1 << (shift - 1))) >> shift
}

export function newLayerState (spec: ToyModelSpec, range: readonly [number, number]): LayerState {
  const state: Int32Array[] = []
  for (let l = range[0]; l < range[1]; l++) state.push(new Int32Array(spec.dim))
  return state
}

/** One layer on one position, in place on `x`. */
function layerForward (w: Int8Array, state: Int32Array, x: Int8Array, dim: number, tmp: Int8Array): void {
  for (let i = 0; i < dim; i++) {
    let acc = state[i]! >> 3
    const row = i * dim
    for (let j = 0; j < dim; j++) acc += w[row + j]! * x[j]!
    const y = clamp8(roundShift(acc, 10))
    // Leaky activation, then average with the residual so activations stay in range.
    tmp[i] = clamp8(roundShift(x[i]! + (y > 0 ? y : -((-y) >> 2)), 1))
  }
  for (let i = 0; i < dim; i++) {
    const h = tmp[i]!
    x[i] = h
    state[i] = ((state[i]! * 7) >> 3) + h
  }
}

/**
 * Run layers [range) over `positions` rows of activations (row-major int8 [n][dim]),
 * updating `state` as the positions are consumed in order.
 */
export function runLayers (weights: ToyWeights, range: readonly [number, number], activations: Int8Array, state: LayerState): Int8Array {
  const { dim } = weights.spec
  const n = activations.length / dim
  const out = new Int8Array(activations)
  const tmp = new Int8Array(dim)
  for (let p = 0; p < n; p++) {
    const x = out.subarray(p * dim, (p + 1) * dim)
    for (let l = range[0]; l < range[1]; l++) layerForward(weights.layers[l]!, state[l - range[0]]!, x, dim, tmp)
  }
  return out
}

export function embed (weights: ToyWeights, tokens: readonly number[]): Int8Array {
  const { dim, vocab } = weights.spec
  const out = new Int8Array(tokens.length * dim)
  tokens.forEach((t, p) => {
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`token ${t} outside vocabulary [0, ${vocab})`)
    out.set(weights.embedding.subarray(t * dim, (t + 1) * dim), p * dim)
  })
  return out
}

/** Logits of the last position. */
export function headLogits (weights: ToyWeights, activations: Int8Array): Int32Array {
  const { dim, vocab } = weights.spec
  const x = activations.subarray(activations.length - dim)
  const logits = new Int32Array(vocab)
  for (let v = 0; v < vocab; v++) {
    let acc = 0
    const row = v * dim
    for (let j = 0; j < dim; j++) acc += weights.head[row + j]! * x[j]!
    logits[v] = acc
  }
  return logits
}

/** 32-bit mix of (seed, step): the sampling draw for one step. */
function drawFor (seed: string, step: number): number {
  const s = BigInt.asUintN(64, BigInt(seed))
  const next = mulberry32(Number(s & 0xffffffffn) ^ Math.imul(step + 1, 0x9e3779b1))
  next()
  return (next() ^ Number(s >> 32n)) >>> 0
}

/**
 * Greedy (lowest index wins ties) or seeded top-k: candidate weights halve for every
 * `temperature`-sized step below the best logit, an integer stand-in for exp().
 */
export function sample (logits: Int32Array, params: SamplingParams, step: number): number {
  const order = Array.from(logits.keys()).sort((a, b) => (logits[b]! - logits[a]!) || (a - b))
  if (params.temperatureMilli === 0) return order[0]!
  const k = Math.max(1, Math.min(params.topK, order.length))
  const best = logits[order[0]!]!
  // One halving per (2 × temperature in milli) logit units: toy logits span ~10^3–10^4.
  const unit = Math.max(1, params.temperatureMilli * 2)
  const weights = order.slice(0, k).map((v) => 1024 >> Math.min(10, Math.floor((best - logits[v]!) / unit)))
  const total = weights.reduce((a, b) => a + b, 0)
  let r = drawFor(params.seed, step) % total
  for (let i = 0; i < k; i++) {
    r -= weights[i]!
    if (r < 0) return order[i]!
  }
  return order[k - 1]!
}

export function sha256Hex (bytes: Uint8Array): string {
  return '0x' + createHash('sha256').update(bytes).digest('hex')
}

export function hashTokens (tokens: readonly number[]): string {
  const buf = new Uint8Array(tokens.length * 4)
  const view = new DataView(buf.buffer)
  tokens.forEach((t, i) => view.setUint32(i * 4, t, true))
  return sha256Hex(buf)
}

export function hashActivations (a: Int8Array): string {
  return sha256Hex(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
}

/**
 * The execution trace commitment: a hash chain over every (step, shard, output hash)
 * in execution order. Two runs agree on it iff every shard boundary agreed.
 */
export function extendTrace (trace: string, step: number, shard: number, outputHash: string): string {
  const buf = Buffer.alloc(32 + 8 + 32)
  Buffer.from(trace.slice(2), 'hex').copy(buf, 0)
  buf.writeUInt32LE(step, 32)
  buf.writeUInt32LE(shard, 36)
  Buffer.from(outputHash.slice(2), 'hex').copy(buf, 40)
  return sha256Hex(buf)
}

export const EMPTY_TRACE = '0x' + '00'.repeat(32)
