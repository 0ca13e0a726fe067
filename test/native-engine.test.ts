// The native CPU engine (native/src/engine) against the TypeScript reference of
// docs/engine-spec.md: every GEMM path this CPU can run must give the reference's
// int32 products, and NativeShard must give ReferenceShard's bytes (activations and
// logits) on seeded synthetic models, prefill and decode, interleaved sessions, and
// a model cut into two shards. Bad input must be a JS Error, never a crash.

import test, { type ExecutionContext } from 'ava'
import { readFile } from 'node:fs/promises'
import { gemmS8Reference, ReferenceShard, type ShardInputArrays, type ShardOutput } from '../actors/engine/int/forward.js'
import { sliceShard, synthWeights } from '../actors/engine/int/synth.js'
import type { ModelDims, ShardWeights } from '../actors/engine/int/types.js'
import { loadAddon, type EngineKernel, type NativeShard, type NativeShardConstructor, type VerimeshAddon } from '../runtime/addon.js'

const ALL_KERNELS: EngineKernel[] = ['scalar', 'avx2', 'avx512vnni', 'amx']

interface Engine {
  NativeShard: NativeShardConstructor
  gemmS8: NonNullable<VerimeshAddon['gemmS8']>
  kernels: EngineKernel[]
}

function engine (): Engine {
  const addon = loadAddon()
  if (addon.NativeShard === undefined || addon.gemmS8 === undefined || addon.kernels === undefined) {
    throw new Error(`the addon at ${addon.path} has no engine exports: rebuild it (npx node-gyp rebuild)`)
  }
  return { NativeShard: addon.NativeShard, gemmS8: addon.gemmS8, kernels: addon.kernels() }
}

/** Kernels to run; logs (with the CPU's reason) each path this host cannot run. */
function kernelsFor (t: ExecutionContext): EngineKernel[] {
  const e = engine()
  const caps = loadAddon().capabilities()
  for (const k of ALL_KERNELS) {
    if (!e.kernels.includes(k)) {
      t.log(`${k} not available on this CPU (${caps.cpu.brand}; amxReason: ${caps.cpu.amxReason || 'n/a'}): skipped`)
    }
  }
  return e.kernels
}

/** Deterministic int8 in [-128, 127] (includes -128 on purpose: the kernels must be exact there too). */
function randI8 (n: number, seed: number): Int8Array {
  let x = seed >>> 0 || 1
  const out = new Int8Array(n)
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out[i] = (x & 0xff) - 128
  }
  return out
}

function same (a: ArrayLike<number>, b: ArrayLike<number>): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${a[i]} vs ${b[i]}`
  return undefined
}

function assertSameOutput (t: ExecutionContext, got: ShardOutput, want: ShardOutput, what: string): void {
  t.is(got.acts.positions, want.acts.positions, `${what}: positions`)
  const dq = same(got.acts.q, want.acts.q)
  t.is(dq, undefined, `${what}: acts.q ${dq ?? ''}`)
  const ds = same(got.acts.scales, want.acts.scales)
  t.is(ds, undefined, `${what}: acts.scales ${ds ?? ''}`)
  t.is(got.logits === undefined, want.logits === undefined, `${what}: logits present`)
  if (got.logits !== undefined && want.logits !== undefined) {
    const dl = same(got.logits, want.logits)
    t.is(dl, undefined, `${what}: logits ${dl ?? ''}`)
  }
}

test('kernels() lists usable paths, scalar first; auto picks the last', t => {
  const e = engine()
  t.log(`kernels: ${e.kernels.join(', ')}`)
  t.is(e.kernels[0], 'scalar')
  for (const k of e.kernels) t.true(ALL_KERNELS.includes(k), k)
  const caps = loadAddon().capabilities()
  t.is(e.kernels.includes('avx2'), caps.cpu.features.avx2)
  t.is(e.kernels.includes('amx'), caps.cpu.features.amxInt8 && caps.cpu.amxUsable)
})

test('gemmS8 equals gemmS8Reference on every kernel, thread count and awkward shape', t => {
  const e = engine()
  const kernels = kernelsFor(t)
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 1, 64], [1, 33, 7], [2, 5, 3], [3, 17, 100], [5, 1, 130], [6, 64, 64],
    [7, 65, 127], [16, 16, 64], [17, 31, 65], [32, 48, 192], [33, 129, 200], [1, 300, 1000], [40, 3, 257]
  ]
  let seed = 7
  for (const [m, n, k] of shapes) {
    const a = randI8(m * k, seed++)
    const w = randI8(n * k, seed++)
    const want = gemmS8Reference(a, w, m, n, k)
    for (const kernel of [...kernels, 'auto' as const]) {
      for (const threads of [1, 2, 3]) {
        const got = e.gemmS8(a, w, m, n, k, kernel, threads)
        const d = same(got, want)
        t.is(d, undefined, `${kernel} threads=${threads} m=${m} n=${n} k=${k}: ${d ?? ''}`)
      }
    }
  }
  // Extreme operands: all -128 against all 127 / -128 (vpmaddubsw-style saturation would show here).
  for (const [av, wv] of [[-128, -128], [-128, 127], [127, 127]] as const) {
    const m = 3; const n = 20; const k = 300
    const a = new Int8Array(m * k).fill(av)
    const w = new Int8Array(n * k).fill(wv)
    const want = gemmS8Reference(a, w, m, n, k)
    t.is(want[0], av * wv * k)
    for (const kernel of kernels) t.is(same(e.gemmS8(a, w, m, n, k, kernel, 2), want), undefined, `${kernel} a=${av} w=${wv}`)
  }
})

interface ModelCase {
  name: string
  dims: ModelDims
  seed: number
  ropeStyle: 'adjacent' | 'halves'
  bias: boolean
}

const MODELS: ModelCase[] = [
  { name: 'gqa-adjacent', dims: { vocab: 67, dim: 64, layers: 3, heads: 4, kvHeads: 2, headDim: 16, ffn: 96, context: 24 }, seed: 1, ropeStyle: 'adjacent', bias: false },
  { name: 'mqa-halves-bias', dims: { vocab: 50, dim: 96, layers: 2, heads: 4, kvHeads: 1, headDim: 32, ffn: 80, context: 20 }, seed: 2, ropeStyle: 'halves', bias: true },
  { name: 'mha-adjacent-bias', dims: { vocab: 41, dim: 64, layers: 2, heads: 2, kvHeads: 2, headDim: 48, ffn: 136, context: 16 }, seed: 3, ropeStyle: 'adjacent', bias: true },
  { name: 'gqa-halves', dims: { vocab: 300, dim: 128, layers: 2, heads: 8, kvHeads: 2, headDim: 16, ffn: 200, context: 24 }, seed: 4, ropeStyle: 'halves', bias: false }
]

const tokens = (...ids: number[]): ShardInputArrays => ({ kind: 'tokens', tokens: Int32Array.from(ids) })

/** A script of steps: sessions interleaved, prefill then decode, one rewind, and a long
 *  prefill (more than 16 positions where the context allows: whole AMX tiles). */
function script (vocab: number, context: number): Array<{ session: string, pos: number, input: ShardInputArrays }> {
  const v = (i: number): number => (i * 37 + 11) % vocab
  const long = Math.min(context - 1, 18)
  return [
    { session: 'c', pos: 0, input: tokens(...Array.from({ length: long }, (_, i) => v(i + 20))) },
    { session: 'a', pos: 0, input: tokens(v(1), v(2), v(3), v(4), v(5)) },
    { session: 'b', pos: 0, input: tokens(v(9), v(8), v(7)) },
    { session: 'a', pos: 5, input: tokens(v(6)) },
    { session: 'b', pos: 3, input: tokens(v(10)) },
    { session: 'a', pos: 6, input: tokens(v(12)) },
    { session: 'b', pos: 4, input: tokens(v(13), v(14)) },
    { session: 'a', pos: 7, input: tokens(v(15)) },
    // retried step: rewinds session a to position 7 and overwrites its row
    { session: 'a', pos: 7, input: tokens(v(16)) },
    { session: 'a', pos: 8, input: tokens(v(17)) },
    { session: 'c', pos: long, input: tokens(v(3)) }
  ]
}

for (const mc of MODELS) {
  test(`NativeShard equals ReferenceShard byte for byte: ${mc.name}`, t => {
    const e = engine()
    const w = synthWeights({ dims: mc.dims, seed: mc.seed, ropeStyle: mc.ropeStyle, bias: mc.bias })
    const steps = script(mc.dims.vocab, mc.dims.context)
    const ref = new ReferenceShard(w)
    const want = steps.map(s => ref.forward(s.session, s.pos, s.input))
    // The model must do something: logits differ between steps.
    t.notDeepEqual(want[1]!.logits, want[2]!.logits)
    // 'auto' too: on an AMX host it runs products of few rows on avx512vnni.
    for (const kernel of [...kernelsFor(t), 'auto' as const]) {
      for (const threads of [1, 2]) {
        const shard = new e.NativeShard(w, { kernel, threads })
        t.is(shard.kernel, kernel === 'auto' ? e.kernels[e.kernels.length - 1]! : kernel)
        steps.forEach((s, i) => {
          assertSameOutput(t, shard.forward(s.session, s.pos, s.input), want[i]!, `${kernel}/${threads} step ${i} (${s.session}@${s.pos})`)
        })
        t.is(shard.sessionLength('a'), 9)
        t.is(shard.sessionLength('b'), 6)
        shard.endSession('a')
        t.is(shard.sessionLength('a'), 0)
        shard.close()
      }
    }
  })
}

test('a model cut into two shards gives the same bytes as the whole model, on every kernel', t => {
  const e = engine()
  const mc = MODELS[0]!
  const w = synthWeights({ dims: mc.dims, seed: 11, ropeStyle: 'halves', bias: true })
  const front = sliceShard(w, [0, 1])
  const back = sliceShard(w, [1, mc.dims.layers])
  const ref = new ReferenceShard(w)
  const steps = script(mc.dims.vocab, mc.dims.context)
  const want = steps.map(s => ref.forward(s.session, s.pos, s.input))
  for (const kernel of kernelsFor(t)) {
    const a = new e.NativeShard(front, { kernel })
    const b = new e.NativeShard(back, { kernel })
    steps.forEach((s, i) => {
      const mid = a.forward(s.session, s.pos, s.input)
      t.is(mid.logits, undefined, 'the first shard has no output head')
      const out = b.forward(s.session, s.pos, { kind: 'acts', acts: mid.acts })
      assertSameOutput(t, out, want[i]!, `${kernel} step ${i}`)
    })
    a.close()
    b.close()
  }
})

test('forwardAsync gives forward\'s bytes; concurrent sessions on one shard are safe', async t => {
  const e = engine()
  const mc = MODELS[1]!
  const w = synthWeights({ dims: mc.dims, seed: mc.seed, ropeStyle: mc.ropeStyle, bias: mc.bias })
  const ref = new ReferenceShard(w)
  const sessions = ['s0', 's1', 's2', 's3']
  const prompt = (i: number): ShardInputArrays => tokens(i + 1, i + 2, i + 3)
  const want = sessions.map((s, i) => ref.forward(s, 0, prompt(i)))
  const wantNext = sessions.map((s, i) => ref.forward(s, 3, tokens(i + 7)))
  const shard = new e.NativeShard(w, { threads: 2 })
  t.is(shard.kernel, e.kernels[e.kernels.length - 1]!, 'auto picks the best usable path')
  // Issued together: the addon serialises them per shard, each on a libuv worker.
  const got = await Promise.all(sessions.map(async (s, i) => await shard.forwardAsync(s, 0, prompt(i))))
  got.forEach((g, i) => assertSameOutput(t, g, want[i]!, `prefill ${sessions[i]!}`))
  const next = await Promise.all(sessions.map(async (s, i) => await shard.forwardAsync(s, 3, tokens(i + 7))))
  next.forEach((g, i) => assertSameOutput(t, g, wantNext[i]!, `decode ${sessions[i]!}`))
  // Two shards stepping at the same time share the process-wide thread pool.
  const other = new e.NativeShard(w, { threads: 2, kernel: 'scalar' })
  const both = await Promise.all(sessions.map(async (s, i) => await (i % 2 === 0 ? shard : other).forwardAsync(`${s}-2`, 0, prompt(i))))
  both.forEach((g, i) => assertSameOutput(t, g, want[i]!, `two shards at once, ${sessions[i]!}`))
  other.close()
  // close() while a step is in flight: the step still settles correctly.
  const pending = shard.forwardAsync('s0', 4, tokens(5))
  shard.close()
  t.true(shard.closed)
  assertSameOutput(t, await pending, ref.forward('s0', 4, tokens(5)), 'in flight across close')
  await t.throwsAsync(shard.forwardAsync('s0', 5, tokens(1)), { message: /closed/ })
})

test('bad input throws precise errors (and rejects, for forwardAsync)', async t => {
  const e = engine()
  const mc = MODELS[0]!
  const w = synthWeights({ dims: mc.dims, seed: 5, ropeStyle: 'adjacent', bias: false })
  const d = mc.dims
  const shard = new e.NativeShard(w)

  const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c
  // weights
  t.throws(() => new e.NativeShard({ ...w, config: { ...w.config, dims: { ...d, dim: 48 } } }), { message: /dims\.dim 48 is not a multiple of 32/ })
  t.throws(() => new e.NativeShard({ ...w, config: { ...w.config, dims: { ...d, heads: 3, kvHeads: 1, headDim: 10 } } }), { message: /heads \* headDim = 30 is not a multiple of 32/ })
  t.throws(() => new e.NativeShard({ ...w, rope: w.rope.subarray(1) }), { message: /rope table has \d+ entries, expected/ })
  t.throws(() => new e.NativeShard({ ...w, layers: w.layers.slice(1) }), { message: /has 2 layers/ })
  const badLayer = { ...w.layers[0]!, wk: { ...w.layers[0]!.wk, q: w.layers[0]!.wk.q.subarray(1) } }
  t.throws(() => new e.NativeShard({ ...w, layers: [badLayer, ...w.layers.slice(1)] }), { message: /layers\[0\]\.wk\.q has \d+ values, expected/ })
  t.throws(() => new e.NativeShard({ ...w, layers: [{ ...w.layers[0]!, wq: { ...w.layers[0]!.wq, q: new Int32Array(4) } }] } as unknown as ShardWeights), { message: /layers\[0\]\.wq\.q must be an Int8Array/ })
  t.throws(() => new e.NativeShard(undefined as unknown as ShardWeights), { message: /weights must be an object/ })
  const err = t.throws(() => new e.NativeShard({ ...w, config: { ...w.config, dims: { ...d, dim: 48 } } }))
  t.true(code('MODEL_INVALID')(err))
  // options
  t.throws(() => new e.NativeShard(w, { kernel: 'avx9000' as EngineKernel }), { message: /unknown kernel 'avx9000'/ })
  t.throws(() => new e.NativeShard(w, { threads: -1 }), { message: /opts\.threads/ })
  for (const k of ALL_KERNELS.filter(k => !e.kernels.includes(k))) {
    t.throws(() => new e.NativeShard(w, { kernel: k }), { message: new RegExp(`kernel '${k}' is not usable on this CPU`) })
  }
  // steps
  t.throws(() => shard.forward('x', d.context - 1, tokens(1, 2)), { message: new RegExp(`positions \\[${d.context - 1}, ${d.context + 1}\\) exceed the model's context of ${d.context}`) })
  t.throws(() => shard.forward('x', 3, tokens(1)), { message: /session 'x' is unknown here; it must start at position 0, not 3/ })
  t.throws(() => shard.forward('x', 0, tokens(d.vocab)), { message: new RegExp(`token id ${d.vocab} is outside the vocabulary of ${d.vocab}`) })
  t.throws(() => shard.forward('x', 0, tokens()), { message: /at least one position/ })
  t.throws(() => shard.forward('x', 0, { kind: 'tokens', tokens: [1, 2] as unknown as Int32Array }), { message: /input\.tokens must be an Int32Array/ })
  t.throws(() => shard.forward('x', 0, { kind: 'bogus' } as unknown as ShardInputArrays), { message: /input\.kind must be 'tokens' or 'acts'/ })
  t.throws(() => shard.forward('x', 1.5, tokens(1)), { message: /pos must be an integer/ })
  const acts = { positions: 1, q: new Int8Array(d.dim), scales: new Int32Array(d.dim / 32).fill(1) }
  t.throws(() => shard.forward('x', 0, { kind: 'acts', acts }), { message: /the first shard takes tokens, not activations/ })
  t.is(shard.sessionLength('x'), 0, 'a refused step leaves no session behind')
  shard.forward('y', 0, tokens(1, 2))
  t.throws(() => shard.forward('y', 3, tokens(1)), { message: /session 'y' is at position 2, got a step for position 3/ })
  const stepErr = t.throws(() => shard.forward('y', 3, tokens(1)))
  t.true(code('ENGINE_INPUT_INVALID')(stepErr))
  await t.throwsAsync(shard.forwardAsync('y', 9, tokens(1)), { message: /session 'y' is at position 2/ })
  await t.throwsAsync(shard.forwardAsync('y', -1, tokens(1)), { message: /pos = -1 is outside/ })

  const back = new e.NativeShard(sliceShard(w, [1, d.layers]))
  t.throws(() => back.forward('x', 0, tokens(1)), { message: /does not own the embeddings; send it activations/ })
  t.throws(() => back.forward('x', 0, { kind: 'acts', acts: { ...acts, q: new Int8Array(d.dim - 1) } }), { message: new RegExp(`activations for 1 positions need ${d.dim} values and ${d.dim / 32} scales, got ${d.dim - 1} and ${d.dim / 32}`) })
  t.throws(() => back.forward('x', 0, { kind: 'acts', acts: { ...acts, scales: new Int32Array(d.dim / 32) } }), { message: /activation block scale 0 at 0 is outside \[1, 2\^24\)/ })
  const q128 = new Int8Array(d.dim); q128[5] = -128
  t.throws(() => back.forward('x', 0, { kind: 'acts', acts: { ...acts, q: q128 } }), { message: /activation value -128 at 5/ })
  t.notThrows(() => back.forward('x', 0, { kind: 'acts', acts }))
  back.close()

  // gemmS8
  t.throws(() => e.gemmS8(new Int8Array(6), new Int8Array(6), 2, 2, 4), { message: /a has 6 values, expected m\*k = 8/ })
  t.throws(() => e.gemmS8(new Int8Array(8), new Int8Array(6), 2, 2, 4), { message: /w has 6 values, expected n\*k = 8/ })
  t.throws(() => e.gemmS8(new Int8Array(8), new Int8Array(8), 2, 2, 4, 'nope' as EngineKernel), { message: /unknown kernel 'nope'/ })
  t.throws(() => e.gemmS8(new Int8Array(0), new Int8Array(0), 0, 2, 4), { message: /m = 0 is outside/ })

  shard.close()
  shard.close()
  t.throws(() => shard.forward('y', 2, tokens(1)), { message: /NativeShard is closed/ })
})

test('forwardAsync does not block the event loop', async t => {
  const e = engine()
  const dims: ModelDims = { vocab: 259, dim: 256, layers: 4, heads: 8, kvHeads: 4, headDim: 32, ffn: 704, context: 128 }
  const w = synthWeights({ dims, seed: 9 })
  const shard = new e.NativeShard(w, { threads: 1 })
  const prompt = tokens(...Array.from({ length: 96 }, (_, i) => (i * 7) % dims.vocab))
  let ticks = 0
  let done = false
  const spin = (): void => { if (!done) { ticks++; setImmediate(spin) } }
  setImmediate(spin)
  const t0 = process.hrtime.bigint()
  const out = await shard.forwardAsync('s', 0, prompt)
  done = true
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  t.log(`96-token prefill of a 4-layer dim-256 model: ${ms.toFixed(1)} ms, ${ticks} event-loop turns meanwhile`)
  t.is(out.acts.positions, 96)
  // Had the work run on the JS thread, the promise would have settled before any
  // setImmediate callback could run.
  t.true(ticks > 0, 'the event loop turned while the step ran')

  // Steps queued on one shard wait in the addon, not on libuv threads: a file read
  // issued after six queued steps completes before the third step does. (Were each
  // step to hold a libuv thread while it waits for the shard, the four default
  // threads would all be taken and the read would queue behind them.)
  const order: string[] = []
  const steps = Array.from({ length: 6 }, async (_, i) => {
    await shard.forwardAsync(`q${i}`, 0, tokens(...Array.from({ length: 32 }, (_, j) => (i + j) % dims.vocab)))
    order.push(`step${i}`)
  })
  const read = readFile(new URL(import.meta.url)).then(() => { order.push('read') })
  await Promise.all([...steps, read])
  t.log(`completion order: ${order.join(' ')}`)
  t.true(order.indexOf('read') < order.indexOf('step2'), order.join(' '))
  t.deepEqual(order.filter(o => o !== 'read'), ['step0', 'step1', 'step2', 'step3', 'step4', 'step5'], 'one shard runs its steps in order')
  shard.close()
})
