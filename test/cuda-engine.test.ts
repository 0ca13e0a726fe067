// The CUDA backend of the integer engine (native/cuda/, docs/engine-spec.md),
// checked against the TypeScript reference at three levels:
//
//  1. vm_cuda_intcheck: the integer primitives the kernels call
//     (native/cuda/int_math.cuh), compiled by nvcc as __host__ __device__ code and
//     run on the host, against actors/engine/int/fixed.ts and forward.ts on
//     random and edge inputs. Runs wherever `npm run build:cuda` has run.
//  2. vm_cuda_emu: the whole CUDA runner — kernels and host code unmodified — on
//     a host emulation of CUDA (native/cuda/emu/), against ReferenceShard byte for
//     byte. Runs wherever `npm run build:cuda` has run.
//  3. NativeShard with kernel 'cuda' on a real GPU against ReferenceShard, and the
//     primitives evaluated by a GPU kernel. Needs the CUDA build and a GPU.
//
// Tests that cannot run here are registered as skipped, with the reason in the title.

import test, { type ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AddonLoader, loadAddon, type AddonCapabilities } from '../runtime/addon.js'
import { bitlen, exp2q30, fromBact, isqrt, mulr, qvec, rdiv, rshr, sat32, toBact } from '../actors/engine/int/fixed.js'
import { linear, ReferenceShard, rmsnorm, rope, silu, type ShardInputArrays } from '../actors/engine/int/forward.js'
import { sliceShard, synthWeights } from '../actors/engine/int/synth.js'
import type { ModelDims, QLinear, ShardWeights } from '../actors/engine/int/types.js'

const loader = new AddonLoader()
const releaseDir = path.join(loader.root, 'build-cuda', 'Release')
const cudaAddonPath = path.join(releaseDir, 'verimesh_native.node')
const intCheckPath = path.join(releaseDir, 'vm_cuda_intcheck')
const emuPath = path.join(releaseDir, 'vm_cuda_emu')
const emuAsanPath = path.join(releaseDir, 'vm_cuda_emu_asan')
const noBuild = (file: string): string => `no ${path.relative(loader.root, file)}; run \`npm run build:cuda\``

// What the CUDA build says about this machine, decided once at load time so that
// the tests that need a GPU can be registered as skipped.
let caps: AddonCapabilities | undefined
let capsError = ''
if (existsSync(cudaAddonPath)) {
  try {
    caps = loadAddon({ path: cudaAddonPath }).capabilities()
  } catch (err) {
    capsError = err instanceof Error ? err.message : String(err)
  }
}
const gpuSkip = caps === undefined
  ? (capsError !== '' ? `the CUDA build does not load: ${capsError}` : noBuild(cudaAddonPath))
  : !caps.build.cuda
      ? 'build-cuda holds an addon built without CUDA'
      : !caps.gpu.present ? `no usable GPU: ${caps.gpu.reason}` : ''

function register (title: string, skip: string, fn: (t: ExecutionContext) => void | Promise<void>): void {
  if (skip === '') test(title, fn)
  else test.skip(`${title} (skipped: ${skip})`, fn)
}

// ---------------------------------------------------------------- seeded inputs

/** xorshift32: tests must be reproducible. */
function rng (seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s
  }
}

/** Integer in [lo, hi] (|lo|, |hi| ≤ 2^53), uniform over bit widths so small and large values both show up. */
function intIn (next: () => number, lo: number, hi: number): number {
  const span = hi - lo
  const bits = Math.max(1, Math.ceil(Math.log2(span + 1)))
  const width = 1 + (next() % bits)
  const r = (next() * 2 ** 21 + (next() >>> 11)) % Math.min(2 ** width, span + 1)
  return next() % 2 === 0 ? lo + r : hi - r
}

const I31 = 2147483647
const EDGES32 = [0, 1, -1, 2, -2, 127, -127, 128, 32767, 32768, -32768, 65535, 65536, -65536, 65537,
  2 ** 21, -(2 ** 21), 2 ** 21 + 1, 2 ** 24 - 1, 2 ** 24, 2 ** 30, -(2 ** 30), I31 - 1, I31, -I31, -I31 + 1]

// ---------------------------------------------------------------- 1. primitives

interface Case { line: string, expect: number[] }

function primitiveCases (): Case[] {
  const next = rng(0x5eed)
  const cases: Case[] = []
  const add = (op: string, args: number[], expect: number[]): void => {
    cases.push({ line: `${op} ${args.join(' ')}`, expect })
  }
  const N = 4000
  for (let i = 0; i < N; i++) {
    const x = intIn(next, -(2 ** 53) + 1, 2 ** 53 - 1)
    const s = next() % 72
    add('rshr', [x, s], [rshr(x, s)])
    const xs = intIn(next, -(2 ** 50), 2 ** 50)
    const ss = (next() % 140) - 70
    add('rshrsat', [xs, ss], [sat32(rshr(xs, ss))])
  }
  for (let i = 0; i < N; i++) {
    const a = i < EDGES32.length ** 2 ? EDGES32[i % EDGES32.length]! : intIn(next, -I31, I31)
    const b = i < EDGES32.length ** 2 ? EDGES32[Math.floor(i / EDGES32.length)]! : intIn(next, -I31, I31)
    const s = (next() % 112) - 31
    add('mulr', [a, b, s], [mulr(a, b, s)])
    add('mulr', [a, b, 31], [mulr(a, b, 31)])
    add('mulr', [a, b, 16], [mulr(a, b, 16)])
  }
  for (let i = 0; i < N; i++) {
    const n = intIn(next, -(2 ** 47), 2 ** 47)
    const d = intIn(next, 1, 2 ** 31)
    add('rdiv', [n, d], [rdiv(n, d)])
    const d2 = 1 + (next() % 300)
    const n2 = (next() % 2000) - 1000
    add('rdiv', [n2, d2], [rdiv(n2, d2)])
  }
  for (let i = 0; i < 64; i++) {
    for (const v of [2 ** i, 2 ** i - 1, 2 ** i + 1]) {
      if (v >= 1 && v <= 2 ** 32) add('bitlen', [v], [bitlen(v)])
      if (v >= 0 && v < 2 ** 52) add('isqrt', [v], [isqrt(v)])
    }
  }
  for (let i = 0; i < N; i++) {
    const n = intIn(next, 0, 2 ** 52 - 1)
    add('isqrt', [n], [isqrt(n)])
    const r = intIn(next, 0, 2 ** 26 - 1)
    for (const v of [r * r - 1, r * r, r * r + 1, (r + 1) * (r + 1) - 1]) if (v >= 0 && v < 2 ** 52) add('isqrt', [v], [isqrt(v)])
  }
  const dEdges = [0, -1, -65535, -65536, -65537, -(2 ** 21), -(31 * 65536), -(32 * 65536) + 1, -(32 * 65536), -(32 * 65536) - 1, -I31]
  for (const d of dEdges) add('exp2q30', [d], [exp2q30(d)])
  for (let i = 0; i < N; i++) {
    const d = -intIn(next, 0, I31)
    add('exp2q30', [d], [exp2q30(d)])
    const d2 = -(next() % (34 * 65536))
    add('exp2q30', [d2], [exp2q30(d2)])
  }
  for (const x of EDGES32) {
    add('silu', [x], [silu(x)])
    add('silu', [-x], [silu(-x)])
  }
  for (let i = 0; i < N; i++) {
    const x = intIn(next, -I31, I31)
    add('silu', [x], [silu(x)])
    const xs = (next() % (2 ** 23)) - 2 ** 22
    add('silu', [xs], [silu(xs)])
    const g = intIn(next, -I31, I31)
    const u = intIn(next, -I31, I31)
    add('swiglu', [g, u], [mulr(silu(g), u, 16)])
    const g2 = (next() % (2 ** 22)) - 2 ** 21
    const u2 = (next() % (2 ** 22)) - 2 ** 21
    add('swiglu', [g2, u2], [mulr(silu(g2), u2, 16)])
  }
  // qvec's scale and element: the reference qvec on a one-element vector gives the scale.
  const scaleOf = (amax: number): [number, number] => qvec([amax], 0, 1, new Int8Array(1), 0)
  for (const amax of [0, 1, 2, 126, 127, 128, 2 ** 30, I31, 2 ** 31]) add('qscale', [amax], scaleOf(amax))
  for (let i = 0; i < N; i++) {
    const amax = intIn(next, 1, 2 ** 31)
    add('qscale', [amax], scaleOf(amax))
    const v = intIn(next, -amax, Math.min(amax, I31))   // v is an int32: -2^31 only with amax = 2^31
    add('qq', [v, amax], [rdiv(127 * v, amax)])
  }
  // linear's epilogue, with the accumulator of a real dot product through the reference linear().
  for (let i = 0; i < 1500; i++) {
    const K = 1 + (next() % 600)
    const a = new Int8Array(K); const w = new Int8Array(K)
    for (let k = 0; k < K; k++) { a[k] = (next() % 255) - 127; w[k] = (next() % 255) - 127 }
    let acc = 0
    for (let k = 0; k < K; k++) acc += a[k]! * w[k]!
    const mw = 2 ** 29 + (next() % 2 ** 30); const xw = -(next() % 50) - 20
    const ma = 2 ** 29 + (next() % 2 ** 30); const xa = -(next() % 33) - 22
    const bias = next() % 3 === 0 ? new Int32Array([intIn(next, -I31, I31)]) : undefined
    const lin: QLinear = bias === undefined
      ? { rows: 1, cols: K, q: w, scales: new Int32Array([mw, xw]) }
      : { rows: 1, cols: K, q: w, scales: new Int32Array([mw, xw]), bias }
    const out = new Int32Array(1)
    linear(lin, { q: a, m: ma, x: xa }, out)
    add('linout', bias === undefined ? [acc, mw, xw, ma, xa] : [acc, mw, xw, ma, xa, bias[0]!], [out[0]!])
  }
  // Attention steps (spec §2.5 as written in forward.ts's layer()).
  for (let i = 0; i < N; i++) {
    const acc = intIn(next, -(127 * 127 * 256), 127 * 127 * 256)
    const [mk, xk, mq, xq, mc, xc] = [2 ** 29 + (next() % 2 ** 30), -(next() % 32) - 22, 2 ** 29 + (next() % 2 ** 30), -(next() % 32) - 22, 2 ** 29 + (next() % 2 ** 30), -(next() % 8) - 30]
    add('logit', [acc, mk, xk, mq, xq, mc, xc], [mulr(mulr(mulr(acc, mk, 31), mq, 31), mc, -(xk + xq + xc + 78))])
    const l = intIn(next, -I31, I31); const mx = Math.max(l, intIn(next, -I31, I31))
    add('attnexp', [l, mx], [exp2q30(Math.max(l - mx, -2147483647))])
    const S = intIn(next, 2 ** 30, 2 ** 30 * 4096); const e = intIn(next, 0, Math.min(2 ** 30, S))
    const mv = 2 ** 29 + (next() % 2 ** 30); const xv = -(next() % 32) - 22; const X = xv + (next() % 40)
    add('attnw', [e, S, mv, xv, X], [rshr(rdiv(e * 32768, S) * mv, 30 + X - xv)])
    const oacc = intIn(next, -(2 ** 45), 2 ** 45); const OX = -(next() % 40) - 15
    add('attnout', [oacc, OX], [sat32(rshr(oacc, -(OX + 31)))])
  }
  // RoPE through the reference rope() on one adjacent pair.
  for (let i = 0; i < N; i++) {
    const a = intIn(next, -I31, I31); const b = intIn(next, -I31, I31)
    const c = intIn(next, -32768, 32768); const s = intIn(next, -32768, 32768)
    const v = new Int32Array([a, b])
    rope(v, 1, 2, 0, new Int32Array([c, s]), 'adjacent')
    add('rope', [a, b, c, s], [v[0]!, v[1]!])
  }
  // Whole rows: rmsnorm + qvec, qvec, bact, through the reference functions.
  for (let i = 0; i < 300; i++) {
    const n = 32 * (1 + (next() % 8))
    const big = next() % 4
    const x = new Int32Array(n); const g = new Int32Array(n)
    for (let k = 0; k < n; k++) {
      x[k] = big === 0 ? intIn(next, -I31, I31) : big === 1 ? (next() % 2001) - 1000 : big === 2 ? 0 : intIn(next, -(2 ** 24), 2 ** 24)
      g[k] = intIn(next, -(2 ** 23) + 1, 2 ** 23 - 1)
    }
    if (i % 10 === 0) x[next() % n] = -I31
    const eps = i % 7 === 0 ? 1 : intIn(next, 1, 2 ** 40)
    const r = rmsnorm(x, g, eps)
    add('rmsnorm', [eps, n, ...x, ...g], [...r.q, r.m, r.x])
    const q = new Int8Array(n)
    const [m, e] = qvec(x, 0, n, q, 0)
    add('qvec', [n, ...x], [...q, m, e])
    const bq = new Int8Array(n); const bs = new Int32Array(n / 32); const back = new Int32Array(n)
    toBact(x, n, bq, 0, bs, 0)
    fromBact(bq, 0, bs, 0, n, back)
    add('bact', [n, ...x], [...bq, ...bs, ...back])
  }
  return cases
}

function runIntCheck (t: ExecutionContext, args: string[]): void {
  const cases = primitiveCases()
  const r = spawnSync(intCheckPath, args, { input: cases.map(c => c.line).join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' })
  if (r.error !== undefined) throw r.error
  t.is(r.status, 0, r.stderr)
  const lines = r.stdout.split('\n')
  let bad = 0
  for (let i = 0; i < cases.length; i++) {
    const got = (lines[i] ?? '').split(' ').map(Number)
    const want = cases[i]!.expect
    if (got.length !== want.length || got.some((v, k) => v !== want[k])) {
      if (bad++ < 8) t.log(`${cases[i]!.line.slice(0, 200)}\n  want ${want.join(' ').slice(0, 200)}\n  got  ${(lines[i] ?? '').slice(0, 200)}`)
    }
  }
  t.is(bad, 0, `${bad} of ${cases.length} cases differ from the TypeScript reference`)
  t.log(`${cases.length} cases agree`)
}

register('integer primitives of the CUDA kernels (host build of int_math.cuh) match fixed.ts', existsSync(intCheckPath) ? '' : noBuild(intCheckPath), t => {
  runIntCheck(t, [])
})

register('integer primitives evaluated on the GPU match the host and fixed.ts', !existsSync(intCheckPath) ? noBuild(intCheckPath) : gpuSkip, t => {
  runIntCheck(t, ['--device'])
})

// ---------------------------------------------------------------- scenarios

type Op =
  | { kind: 'forward', session: string, pos: number, input: ShardInputArrays }
  | { kind: 'end', session: string }
  | { kind: 'length', session: string }

type Outcome =
  | { ok: true, q: Int8Array, scales: Int32Array, logits?: Int32Array, length: number }
  | { ok: false, message: string, length: number }

/** `wide` scenarios are costly to emulate: they skip the emulated runs that take one position per chunk. */
interface Scenario { name: string, weights: ShardWeights, ops: Op[], wide?: boolean }

const tokens = (...t: number[]): ShardInputArrays => ({ kind: 'tokens', tokens: new Int32Array(t) })

function seq (next: () => number, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => next() % vocab)
}

function fwd (session: string, pos: number, input: ShardInputArrays): Op {
  return { kind: 'forward', session, pos, input }
}

function runReference (w: ShardWeights, ops: Op[]): Outcome[] {
  const ref = new ReferenceShard(w)
  const lengths = new Map<string, number>()
  return ops.map(op => {
    if (op.kind === 'end') { ref.endSession(op.session); lengths.delete(op.session); return { ok: true, q: new Int8Array(0), scales: new Int32Array(0), length: 0 } }
    if (op.kind === 'length') return { ok: true, q: new Int8Array(0), scales: new Int32Array(0), length: lengths.get(op.session) ?? 0 }
    try {
      const out = ref.forward(op.session, op.pos, op.input)
      lengths.set(op.session, op.pos + out.acts.positions)
      const o: Outcome = { ok: true, q: out.acts.q, scales: out.acts.scales, length: lengths.get(op.session)! }
      if (out.logits !== undefined) o.logits = out.logits
      return o
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err), length: lengths.get(op.session) ?? 0 }
    }
  })
}

function compare (t: ExecutionContext, name: string, want: Outcome[], got: Outcome[], ops: Op[]): void {
  t.is(got.length, want.length)
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!; const g = got[i]!
    const op = ops[i]!
    const what = `${name} op ${i} (${op.kind} ${op.session}${op.kind === 'forward' ? ` @${op.pos}` : ''})`
    if (!w.ok || !g.ok) {
      t.deepEqual(g.ok ? 'succeeded' : g.message, w.ok ? 'succeeded' : w.message, what)
    } else {
      t.true(Buffer.from(g.q.buffer, g.q.byteOffset, g.q.byteLength).equals(Buffer.from(w.q.buffer, w.q.byteOffset, w.q.byteLength)), `${what}: boundary values differ`)
      t.deepEqual(Array.from(g.scales), Array.from(w.scales), `${what}: boundary scales differ`)
      t.deepEqual(g.logits === undefined ? undefined : Array.from(g.logits), w.logits === undefined ? undefined : Array.from(w.logits), `${what}: logits differ`)
    }
    t.is(g.length, w.length, `${what}: session length`)
  }
}

function scenarios (): Scenario[] {
  const next = rng(42)
  const out: Scenario[] = []

  // GQA (2 query heads per kv head), adjacent RoPE, no bias; ffn not a multiple of 16.
  const d1: ModelDims = { vocab: 97, dim: 64, layers: 3, heads: 4, kvHeads: 2, headDim: 16, ffn: 72, context: 24 }
  const w1 = synthWeights({ dims: d1, seed: 1 })
  const a1 = seq(next, 9, d1.vocab)
  out.push({
    name: 'gqa-adjacent',
    weights: w1,
    ops: [
      fwd('a', 0, tokens(...a1)), // prefill: batched kernels
      fwd('a', 9, tokens(5)), fwd('a', 10, tokens(6)), fwd('a', 11, tokens(7)), // decode
      fwd('b', 0, tokens(...seq(next, 5, d1.vocab))), // a second session, interleaved
      fwd('a', 12, tokens(8, 9)),
      fwd('b', 5, tokens(3)),
      fwd('a', 10, tokens(1, 2, 3)), // rewind: overwrites its own rows
      { kind: 'length', session: 'a' },
      fwd('a', 20, tokens(1)), // beyond the cached length: refused
      fwd('c', 2, tokens(1)), // unknown session not at 0: refused
      fwd('a', 13, tokens(...seq(next, 12, d1.vocab))), // past the context: refused
      { kind: 'end', session: 'a' },
      { kind: 'length', session: 'a' },
      fwd('a', 0, tokens(...a1.slice(0, 3))), // same id starts over
      fwd('b', 6, tokens(...seq(next, 18, d1.vocab))) // up to the full context
    ]
  })

  // Multi-query attention (one kv head), NEOX RoPE, q/k/v biases, head size not a multiple of 16.
  const d2: ModelDims = { vocab: 50, dim: 96, layers: 2, heads: 4, kvHeads: 1, headDim: 24, ffn: 100, context: 20 }
  const w2 = synthWeights({ dims: d2, seed: 7, ropeStyle: 'halves', bias: true })
  out.push({
    name: 'mqa-halves-bias',
    weights: w2,
    ops: [fwd('s', 0, tokens(...seq(next, 12, d2.vocab))), fwd('s', 12, tokens(4)), fwd('s', 13, tokens(...seq(next, 4, d2.vocab))), fwd('s', 17, tokens(9))]
  })

  // Plain multi-head attention, NEOX, no bias: the whole context in one prefill.
  const d3: ModelDims = { vocab: 40, dim: 32, layers: 2, heads: 2, kvHeads: 2, headDim: 32, ffn: 48, context: 16 }
  const w3 = synthWeights({ dims: d3, seed: 3, ropeStyle: 'halves' })
  out.push({
    name: 'mha-halves-full-context',
    weights: w3,
    ops: [fwd('s', 0, tokens(...seq(next, 16, d3.vocab))), fwd('t', 0, tokens(...seq(next, 2, d3.vocab))), fwd('t', 2, tokens(1))]
  })

  // Shapes past one block's 256 threads, so every strided kernel loop runs more
  // than once: dim 512, ffn 640, head size 128 (two thread groups share the V
  // sum), prefill chunks of 64 and attention over more than 256 rows.
  const d4: ModelDims = { vocab: 64, dim: 512, layers: 1, heads: 4, kvHeads: 2, headDim: 128, ffn: 640, context: 300 }
  out.push({
    name: 'wide',
    weights: synthWeights({ dims: d4, seed: 5, bias: true }),
    ops: [fwd('w', 0, tokens(...seq(next, 290, d4.vocab))), fwd('w', 290, tokens(3)), fwd('w', 291, tokens(...seq(next, 6, d4.vocab)))],
    wide: true
  })

  // A head larger than a block: the attention output loops over the head.
  const d5: ModelDims = { vocab: 32, dim: 64, layers: 1, heads: 1, kvHeads: 1, headDim: 288, ffn: 64, context: 8 }
  out.push({
    name: 'head-288',
    weights: synthWeights({ dims: d5, seed: 9, ropeStyle: 'halves' }),
    ops: [fwd('h', 0, tokens(...seq(next, 6, d5.vocab))), fwd('h', 6, tokens(2))]
  })

  // A 2-shard chain of model 1: the second shard gets the first one's boundary activations.
  const sa = sliceShard(w1, [0, 1])
  const sb = sliceShard(w1, [1, 3])
  const refA = new ReferenceShard(sa)
  const p1 = refA.forward('x', 0, tokens(...a1))
  const p2 = refA.forward('x', 9, tokens(11))
  const p3 = refA.forward('x', 10, tokens(12, 13))
  out.push({ name: 'chain-first', weights: sa, ops: [fwd('x', 0, tokens(...a1)), fwd('x', 9, tokens(11)), fwd('x', 10, tokens(12, 13))] })
  const acts = (o: typeof p1): ShardInputArrays => ({ kind: 'acts', acts: o.acts })
  const bad = { positions: 1, q: new Int8Array(d1.dim).fill(-128), scales: new Int32Array(d1.dim / 32).fill(1) }
  out.push({
    name: 'chain-last',
    weights: sb,
    ops: [fwd('x', 0, acts(p1)), fwd('x', 9, acts(p2)), fwd('x', 10, acts(p3)), fwd('y', 0, { kind: 'acts', acts: bad }), fwd('z', 0, tokens(1))]
  })
  return out
}

// ---------------------------------------------------------------- 2. emulated runner

class Out {
  private readonly parts: Buffer[] = []
  u32 (v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b) }
  i32 (v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.parts.push(b) }
  i64 (v: number): void { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); this.parts.push(b) }
  bytes (a: Int8Array | Int32Array | Buffer, count: number): void {
    this.u32(count)
    const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    this.parts.push(b, Buffer.alloc((4 - (b.length % 4)) % 4))
  }
  i8s (a: Int8Array): void { this.bytes(a, a.length) }
  i32s (a: Int32Array): void { this.bytes(a, a.length) }
  str (s: string): void { const b = Buffer.from(s, 'utf8'); this.bytes(b, b.length) }
  linear (l: QLinear): void {
    this.i32(l.rows); this.i32(l.cols); this.i8s(l.q); this.i32s(l.scales)
    this.i32(l.bias === undefined ? 0 : 1); this.i32s(l.bias ?? new Int32Array(0))
  }
  get buffer (): Buffer { return Buffer.concat(this.parts) }
}

class In {
  private at = 0
  constructor (private readonly b: Buffer) {}
  i32 (): number { const v = this.b.readInt32LE(this.at); this.at += 4; return v }
  i8s (): Int8Array { const n = this.i32(); const v = new Int8Array(n); v.set(new Int8Array(this.b.buffer, this.b.byteOffset + this.at, n)); this.at += (n + 3) & ~3; return v }
  i32s (): Int32Array { const n = this.i32(); const v = new Int32Array(n); for (let i = 0; i < n; i++) v[i] = this.b.readInt32LE(this.at + 4 * i); this.at += 4 * n; return v }
  str (): string { const n = this.i32(); const s = this.b.toString('utf8', this.at, this.at + n); this.at += (n + 3) & ~3; return s }
  get done (): boolean { return this.at === this.b.length }
}

function writeJob (w: ShardWeights, ops: Op[]): Buffer {
  const o = new Out()
  const d = w.config.dims
  o.u32(0x4A454D56)
  for (const v of [d.vocab, d.dim, d.layers, d.heads, d.kvHeads, d.headDim, d.ffn, d.context]) o.i32(v)
  o.i32(w.config.ropeStyle === 'halves' ? 1 : 0)
  o.i64(w.config.epsQ32)
  o.i32(w.config.attnScale[0]); o.i32(w.config.attnScale[1])
  o.i32(w.range[0]); o.i32(w.range[1])
  o.i32s(w.rope)
  o.i32(w.embedding === undefined ? 0 : 1)
  if (w.embedding !== undefined) { o.i8s(w.embedding.q); o.i32s(w.embedding.scales) }
  for (const L of w.layers) {
    o.i32s(L.attnNorm); o.linear(L.wq); o.linear(L.wk); o.linear(L.wv); o.linear(L.wo)
    o.i32s(L.ffnNorm); o.linear(L.wGate); o.linear(L.wUp); o.linear(L.wDown)
  }
  o.i32(w.output === undefined ? 0 : 1)
  if (w.output !== undefined) { o.i32s(w.outputNorm!); o.linear(w.output) }
  o.u32(ops.length)
  for (const op of ops) {
    o.i32(op.kind === 'forward' ? 1 : op.kind === 'end' ? 2 : 3)
    o.str(op.session)
    if (op.kind !== 'forward') continue
    o.i32(op.pos)
    if (op.input.kind === 'tokens') {
      o.i32(0); o.i32(op.input.tokens.length); o.i32s(op.input.tokens)
    } else {
      o.i32(1); o.i32(op.input.acts.positions); o.i8s(op.input.acts.q); o.i32s(op.input.acts.scales)
    }
  }
  return o.buffer
}

function runEmulated (binary: string, w: ShardWeights, ops: Op[], env: Record<string, string>): { kernel: string, outcomes: Outcome[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vm-cuda-emu-'))
  try {
    const job = path.join(dir, 'job.bin'); const outFile = path.join(dir, 'out.bin')
    writeFileSync(job, writeJob(w, ops))
    const r = spawnSync(binary, [job, outFile], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 })
    if (r.error !== undefined) throw r.error
    if (r.status !== 0) throw new Error(`${path.basename(binary)} exited with ${r.status ?? r.signal}: ${r.stderr}`)
    const i = new In(readFileSync(outFile))
    if (i.i32() !== 0x4F454D56) throw new Error('vm_cuda_emu: bad output')
    const kernel = i.str()
    const outcomes = ops.map((op): Outcome => {
      const status = i.i32()
      if (op.kind !== 'forward') return { ok: true, q: new Int8Array(0), scales: new Int32Array(0), length: i.i32() }
      if (status !== 0) { const message = i.str(); return { ok: false, message, length: i.i32() } }
      const q = i.i8s(); const scales = i.i32s(); const has = i.i32(); const logits = i.i32s()
      const o: Outcome = { ok: true, q, scales, length: 0 }
      if (has === 1) o.logits = logits
      o.length = i.i32()
      return o
    })
    if (!i.done) throw new Error('vm_cuda_emu: trailing output')
    return { kernel, outcomes }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// One chunk per forward (the default), several chunks with both GEMM paths (5:
// 5 positions take the tiled GEMM, 4 and fewer the GEMV), one position at a time
// with the threads of each block scheduled in reverse to expose order dependence.
// The ASan/UBSan build turns out-of-bounds device accesses (host heap here) and
// overflowing integer arithmetic into failures; it is about 5x slower, so it runs
// one configuration. One test per run keeps each well under ava's timeout.
const EMU_RUNS: Array<{ label: string, binary: string, env: Record<string, string>, on: 'all' | 'small' | 'wide' }> = [
  { label: 'default chunks', binary: emuPath, env: {}, on: 'all' },
  { label: 'chunks of 5', binary: emuPath, env: { VERIMESH_CUDA_MAX_CHUNK: '5' }, on: 'all' },
  { label: 'chunks of 1, reverse thread order', binary: emuPath, env: { VERIMESH_CUDA_MAX_CHUNK: '1', VM_EMU_ORDER: 'reverse' }, on: 'small' },
  { label: 'reverse thread order', binary: emuPath, env: { VM_EMU_ORDER: 'reverse' }, on: 'wide' },
  { label: 'ASan/UBSan, chunks of 5', binary: emuAsanPath, env: { VERIMESH_CUDA_MAX_CHUNK: '5' }, on: 'small' },
  { label: 'ASan/UBSan', binary: emuAsanPath, env: {}, on: 'wide' }
]

for (const sc of scenarios()) {
  const runs = EMU_RUNS.filter(r => r.on === 'all' || r.on === (sc.wide === true ? 'wide' : 'small'))
  for (const run of runs) {
    register(`emulated CUDA runner matches ReferenceShard: ${sc.name} [${run.label}]`, existsSync(run.binary) ? '' : noBuild(run.binary), t => {
      const want = runReference(sc.weights, sc.ops)
      t.true(want.some(o => o.ok && o.q.length > 0), 'the scenario runs at least one step')
      const { kernel, outcomes } = runEmulated(run.binary, sc.weights, sc.ops, run.env)
      t.is(kernel, 'cuda')
      compare(t, `${sc.name} [${run.label}]`, want, outcomes, sc.ops)
    })
  }
}

// ---------------------------------------------------------------- 3. real GPU

interface NativeShardLike {
  readonly kernel: string
  readonly gpuFallback?: string
  forward: (session: string, pos: number, input: ShardInputArrays) => { acts: { positions: number, q: Int8Array, scales: Int32Array }, logits?: Int32Array }
  forwardAsync: (session: string, pos: number, input: ShardInputArrays) => Promise<{ acts: { positions: number, q: Int8Array, scales: Int32Array }, logits?: Int32Array }>
  endSession: (session: string) => void
  sessionLength: (session: string) => number
  close: () => void
}
type NativeShardCtor = new (w: ShardWeights, opts?: Record<string, unknown>) => NativeShardLike

function nativeShardClass (): NativeShardCtor {
  const ctor = loadAddon({ path: cudaAddonPath }).NativeShard
  if (ctor === undefined) throw new Error(`${cudaAddonPath} exports no NativeShard`)
  // The loader's type knows the CPU options only; 'cuda', `device` and `gpuFallback` come with the CUDA build.
  return ctor as unknown as NativeShardCtor
}

function runNative (shard: NativeShardLike, ops: Op[]): Outcome[] {
  return ops.map((op): Outcome => {
    if (op.kind === 'end') { shard.endSession(op.session); return { ok: true, q: new Int8Array(0), scales: new Int32Array(0), length: shard.sessionLength(op.session) } }
    if (op.kind === 'length') return { ok: true, q: new Int8Array(0), scales: new Int32Array(0), length: shard.sessionLength(op.session) }
    try {
      const out = shard.forward(op.session, op.pos, op.input)
      const o: Outcome = { ok: true, q: out.acts.q, scales: out.acts.scales, length: shard.sessionLength(op.session) }
      if (out.logits !== undefined) o.logits = out.logits
      return o
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err), length: shard.sessionLength(op.session) }
    }
  })
}

for (const sc of scenarios()) {
  register(`NativeShard kernel 'cuda' on the GPU matches ReferenceShard: ${sc.name}`, gpuSkip, t => {
    const NativeShard = nativeShardClass()
    const want = runReference(sc.weights, sc.ops)
    for (const chunk of ['', '5', '1']) {
      // Read when the runner is created: results must not depend on it.
      if (chunk === '') delete process.env.VERIMESH_CUDA_MAX_CHUNK
      else process.env.VERIMESH_CUDA_MAX_CHUNK = chunk
      const shard = new NativeShard(sc.weights, { kernel: 'cuda' })
      try {
        t.is(shard.kernel, 'cuda', shard.gpuFallback)
        compare(t, `${sc.name} [chunk ${chunk === '' ? 'default' : chunk}]`, want, runNative(shard, sc.ops), sc.ops)
      } finally {
        shard.close()
        delete process.env.VERIMESH_CUDA_MAX_CHUNK
      }
    }
  })
}

// end_session may come while a step of the same session runs on a worker thread:
// the step must finish on intact memory (the runner holds the cache until then).
register("NativeShard kernel 'cuda': endSession during forwardAsync of the same session", gpuSkip, async t => {
  const NativeShard = nativeShardClass()
  const sc = scenarios()[0]!
  const first = sc.ops[0]!
  if (first.kind !== 'forward') throw new Error('scenario starts with a forward')
  const want = new ReferenceShard(sc.weights).forward(first.session, first.pos, first.input)
  const shard = new NativeShard(sc.weights, { kernel: 'cuda' })
  try {
    for (let i = 0; i < 20; i++) {
      const step = shard.forwardAsync(first.session, first.pos, first.input)
      shard.endSession(first.session)
      const got = await step
      t.deepEqual(Array.from(got.acts.q), Array.from(want.acts.q))
      t.deepEqual(Array.from(got.logits ?? []), Array.from(want.logits ?? []))
      // Either order is legal: ended before the step registered the session, or after.
      t.true([0, want.acts.positions].includes(shard.sessionLength(first.session)))
      shard.endSession(first.session)
    }
  } finally {
    shard.close()
  }
})

// Without a GPU, asking the CUDA build for kernel 'cuda' must still give a
// working shard on the CPU and say why the GPU was not used.
register("NativeShard kernel 'cuda' without a GPU falls back to the CPU and says why",
  caps === undefined ? gpuSkip : caps.gpu.present ? 'a GPU is present, so there is no fallback to check' : '', t => {
    const NativeShard = nativeShardClass()
    const sc = scenarios()[1]!
    const shard = new NativeShard(sc.weights, { kernel: 'cuda' })
    try {
      t.not(shard.kernel, 'cuda')
      t.is(shard.gpuFallback, caps!.gpu.reason)
      compare(t, sc.name, runReference(sc.weights, sc.ops), runNative(shard, sc.ops), sc.ops)
    } finally {
      shard.close()
    }
    const auto = new NativeShard(sc.weights, { kernel: 'auto' })
    t.not(auto.kernel, 'cuda')
    t.is(auto.gpuFallback, caps!.gpu.reason)
    auto.close()
    const off = new NativeShard(sc.weights, { kernel: 'auto', device: false })
    t.is(off.gpuFallback, '')
    off.close()
    // The weights are checked before the GPU is looked for: a bad model is an error, not a fallback.
    t.throws(() => new NativeShard({ ...sc.weights, rope: new Int32Array(3) }, { kernel: 'cuda' }), { message: /^invalid shard: rope table/, code: 'MODEL_INVALID' })
    t.throws(() => new NativeShard(sc.weights, { kernel: 'cuda', device: false }), { message: /contradicts/, code: 'CONFIG_INVALID' })
  })
