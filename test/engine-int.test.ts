// The integer engine's TypeScript reference: its primitives against exact BigInt
// arithmetic, shard-split invariance, quality against the float yardstick, sampling,
// the JS worker pool, and the ShardEngine around it.

import test from 'ava'
import { exp2q30, isqrt, mulr, rdiv, rshr } from '../actors/engine/int/fixed.js'
import { ReferenceShard, runShard, allocKv, type ShardOutput } from '../actors/engine/int/forward.js'
import { compareLogits, FloatReference } from '../actors/engine/int/reference-f32.js'
import { argmax, sampleToken } from '../actors/engine/int/sampling.js'
import { DIM_PRESETS, sliceShard, synthWeights } from '../actors/engine/int/synth.js'
import { JsPoolBackend } from '../actors/engine/int/js-backend.js'
import { decodeActs, encodeActs } from '../actors/engine/int/wire.js'
import { scaleOf } from '../actors/engine/int/quantize.js'
import type { ModelDims } from '../actors/engine/int/types.js'
import { isVerimeshError } from '../runtime/errors.js'

const TINY = DIM_PRESETS.tiny!
const GQA: ModelDims = { vocab: 300, dim: 96, layers: 3, heads: 6, kvHeads: 2, headDim: 16, ffn: 160, context: 64 }

/** A deterministic stream of doubles in [0, 1). */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296 }
}

function floorDiv (a: bigint, b: bigint): bigint {
  const q = a / b
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q
}

test('rshr, mulr and rdiv round half up exactly, checked against BigInt', (t) => {
  const r = rng(1)
  const int = (bits: number): number => Math.floor((r() * 2 - 1) * 2 ** bits)
  for (let i = 0; i < 20000; i++) {
    const a = int(31); const b = int(31); const s = 1 + Math.floor(r() * 62)
    const exact = floorDiv(BigInt(a) * BigInt(b) + (1n << BigInt(s - 1)), 1n << BigInt(s))
    const sat = exact > 2147483647n ? 2147483647n : exact < -2147483647n ? -2147483647n : exact
    t.is(mulr(a, b, s), Number(sat), `mulr(${a}, ${b}, ${s})`)
    const x = int(50); const k = 1 + Math.floor(r() * 40)
    t.is(rshr(x, k), Number(floorDiv(BigInt(x) + (1n << BigInt(k - 1)), 1n << BigInt(k))), `rshr(${x}, ${k})`)
    const n = int(45); const d = 1 + Math.floor(r() * 2 ** 30)
    t.is(rdiv(n, d), Number(floorDiv(2n * BigInt(n) + BigInt(d), 2n * BigInt(d))), `rdiv(${n}, ${d})`)
  }
  // The halfway cases go up, also for negatives.
  t.is(rshr(-3, 1), -1)
  t.is(rshr(3, 1), 2)
  t.is(rdiv(-5, 2), -2)
  t.is(mulr(-2147483647, 2147483647, 0), -2147483647, 'saturates, never produces -2^31')
})

test('isqrt is the exact floor square root, and exp2q30 tracks 2^x', (t) => {
  const r = rng(2)
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(r() * 2 ** 52)
    const s = isqrt(n)
    t.true(s * s <= n && (s + 1) * (s + 1) > n, `isqrt(${n}) = ${s}`)
  }
  for (const k of [0, 1, 2, 3, 4]) t.is(isqrt(k * k), k)
  t.is(exp2q30(-32 * 65536), 0)
  for (let i = 0; i < 2000; i++) {
    const d = -Math.floor(r() * 20 * 65536)
    const want = 2 ** (d / 65536) * 2 ** 30
    t.true(Math.abs(exp2q30(d) - want) <= want * 3e-7 + 1, `exp2q30(${d})`)
  }
})

test('weight scales are normalised (2^30 ≤ m < 2^31) and exact', (t) => {
  for (const s of [1, 0.5, 0.75, 1e-3, 3.14159, 2 ** -40, 1234.5]) {
    const [m, x] = scaleOf(s)
    t.true(m >= 2 ** 30 && m < 2 ** 31, `m of ${s}`)
    t.true(Math.abs(m * 2 ** x - s) <= s * 2 ** -30, `value of ${s}`)
  }
})

function runTokens (shards: readonly ReferenceShard[], session: string, pos: number, tokens: number[]): ShardOutput[] {
  const outs: ShardOutput[] = []
  let out = shards[0]!.forward(session, pos, { kind: 'tokens', tokens: Int32Array.from(tokens) })
  outs.push(out)
  for (const s of shards.slice(1)) {
    out = s.forward(session, pos, { kind: 'acts', acts: out.acts })
    outs.push(out)
  }
  return outs
}

test('cutting the model into shards changes no byte; prefill equals token-by-token decode', (t) => {
  for (const [dims, style, bias] of [[TINY, 'adjacent', false], [GQA, 'halves', true]] as const) {
    const whole = synthWeights({ dims, seed: 11, ropeStyle: style, bias })
    const one = [new ReferenceShard(whole)]
    const three = [sliceShard(whole, [0, 1]), sliceShard(whole, [1, 2]), sliceShard(whole, [2, dims.layers])].map(w => new ReferenceShard(w))
    const prompt = [5, 17, 200, 3, 99, 42]
    const a = runTokens(one, 's', 0, prompt)
    const b = runTokens(three, 's', 0, prompt)
    t.deepEqual(b.at(-1)!.acts, a.at(-1)!.acts, `${style}: boundary after the last layer`)
    t.deepEqual(b.at(-1)!.logits, a.at(-1)!.logits, `${style}: logits`)
    // Decode two more tokens on both.
    for (const [i, tok] of [7, 250].entries()) {
      const x = runTokens(one, 's', prompt.length + i, [tok]).at(-1)!
      const y = runTokens(three, 's', prompt.length + i, [tok]).at(-1)!
      t.deepEqual(y.logits, x.logits, `${style}: decode step ${i}`)
    }
    // Token-by-token from scratch gives the prefill's last logits.
    const step = [new ReferenceShard(whole)]
    let last: ShardOutput | undefined
    for (const [p, tok] of prompt.entries()) last = runTokens(step, 'd', p, [tok]).at(-1)
    t.deepEqual(last!.logits, a.at(-1)!.logits, `${style}: prefill == decode`)
  }
})

test('a session that interleaves with another keeps its own cache', (t) => {
  const w = synthWeights({ dims: GQA, seed: 3 })
  const shard = new ReferenceShard(w)
  const alone = new ReferenceShard(w)
  shard.forward('a', 0, { kind: 'tokens', tokens: Int32Array.of(1, 2, 3) })
  shard.forward('b', 0, { kind: 'tokens', tokens: Int32Array.of(9, 9) })
  const mixed = shard.forward('a', 3, { kind: 'tokens', tokens: Int32Array.of(4) })
  alone.forward('a', 0, { kind: 'tokens', tokens: Int32Array.of(1, 2, 3) })
  t.deepEqual(mixed.logits, alone.forward('a', 3, { kind: 'tokens', tokens: Int32Array.of(4) }).logits)
})

test('the integer logits track the float reference (quality is measured, not assumed)', (t) => {
  const w = synthWeights({ dims: DIM_PRESETS.small!, seed: 5 })
  const shard = new ReferenceShard(w)
  const r = rng(9)
  const tokens = Array.from({ length: 20 }, () => Math.floor(r() * w.config.dims.vocab))
  const ints = tokens.map((tok, p) => shard.forward('q', p, { kind: 'tokens', tokens: Int32Array.of(tok) }).logits!)
  const q = compareLogits(ints, new FloatReference(w).run(tokens))
  t.log(`max |Δlogit| ${q.maxAbsError.toFixed(3)}, mean KL ${q.meanKl.toFixed(4)} nats, top-1 agreement ${(q.top1Agreement * 100).toFixed(0)}% over ${q.positions} positions`)
  // Guards against a broken kernel, not precision targets: a wrong rope or softmax
  // drives KL above 0.5 and agreement near chance (1/259).
  t.true(q.meanKl < 0.1, `KL ${q.meanKl}`)
  t.true(q.top1Agreement >= 0.75, `top-1 ${q.top1Agreement}`)
})

test('bad engine input is refused with a precise error', (t) => {
  const w = synthWeights({ dims: TINY, seed: 1 })
  const shard = new ReferenceShard(w)
  const code = (fn: () => unknown): string => { try { fn(); return 'none' } catch (e) { return isVerimeshError(e) ? `${e.code}: ${e.message}` : String(e) } }
  t.regex(code(() => shard.forward('x', 0, { kind: 'tokens', tokens: Int32Array.of(TINY.vocab) })), /ENGINE_INPUT_INVALID: token id 259 is outside/)
  t.regex(code(() => shard.forward('x', 5, { kind: 'tokens', tokens: Int32Array.of(1) })), /must start at position 0/)
  t.regex(code(() => shard.forward('x', TINY.context, { kind: 'tokens', tokens: Int32Array.of(1) })), /exceed the model's context/)
  const second = new ReferenceShard(sliceShard(w, [2, 4]))
  t.regex(code(() => second.forward('x', 0, { kind: 'tokens', tokens: Int32Array.of(1) })), /does not own the embeddings/)
  t.regex(code(() => decodeActs(new Uint8Array(10), TINY.dim)), /not a whole number of positions/)
  const acts = shard.forward('y', 0, { kind: 'tokens', tokens: Int32Array.of(1) }).acts
  const bad = { ...acts, scales: acts.scales.map(() => 0) }
  t.regex(code(() => second.forward('y', 0, { kind: 'acts', acts: bad })), /block scale 0/)
})

test('boundary activations survive the wire form', (t) => {
  const w = synthWeights({ dims: TINY, seed: 2 })
  const out = runShard(w, allocKv(w.layers.length, w.config.dims), 0, { kind: 'tokens', tokens: Int32Array.of(3, 4, 5) })
  const bytes = encodeActs(out.acts)
  t.is(bytes.byteLength, 3 * (TINY.dim + TINY.dim / 8))
  t.deepEqual(decodeActs(bytes, TINY.dim), out.acts)
})

test('sampling: greedy is argmax; seeded draws repeat; top-k and top-p restrict', (t) => {
  const r = rng(4)
  const logits = Int32Array.from({ length: 500 }, () => Math.floor((r() * 2 - 1) * 6 * 65536))
  t.is(sampleToken(logits, { temperatureMilli: 0, topK: 0, seed: '1' }, 0), argmax(logits))
  const s = { temperatureMilli: 1000, topK: 0, seed: '18446744073709551615' }
  const draws = Array.from({ length: 50 }, (_, step) => sampleToken(logits, s, step))
  t.deepEqual(Array.from({ length: 50 }, (_, step) => sampleToken(logits, s, step)), draws)
  t.true(new Set(draws).size > 5, 'temperature 1 over 500 tokens varies')
  const top3 = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, 3)
  for (let step = 0; step < 50; step++) t.true(top3.includes(sampleToken(logits, { ...s, topK: 3 }, step)))
  for (let step = 0; step < 20; step++) t.is(sampleToken(logits, { ...s, topPMilli: 1 }, step), argmax(logits))
  t.notDeepEqual(Array.from({ length: 50 }, (_, step) => sampleToken(logits, { ...s, seed: '2' }, step)), draws)
  t.throws(() => sampleToken(logits, { ...s, temperatureMilli: 5 }, 0), { message: /temperatureMilli/ })
})

test('the JS worker pool gives the reference bytes, with caches shared across workers', async (t) => {
  const w = synthWeights({ dims: GQA, seed: 8, bias: true })
  const backend = new JsPoolBackend(w)
  const ref = new ReferenceShard(w)
  try {
    const prompt = Int32Array.of(1, 50, 100, 150)
    const a = await backend.forward('s', 0, { kind: 'tokens', tokens: prompt })
    t.deepEqual(a, ref.forward('s', 0, { kind: 'tokens', tokens: prompt }))
    // Several decode steps, each possibly on another worker.
    for (let p = 4; p < 10; p++) {
      const x = await backend.forward('s', p, { kind: 'tokens', tokens: Int32Array.of(p * 7) })
      t.deepEqual(x.logits, ref.forward('s', p, { kind: 'tokens', tokens: Int32Array.of(p * 7) }).logits)
    }
    const err = await t.throwsAsync(backend.forward('s', 20, { kind: 'tokens', tokens: Int32Array.of(1) }))
    t.true(isVerimeshError(err, 'ENGINE_INPUT_INVALID'), err.message)
  } finally {
    await backend.close()
  }
})
