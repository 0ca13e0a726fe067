// Prefill / decode tokens/s, cross-backend byte equality and logit quality on the
// benchmark model (see README.md). Engines take turns within each repetition, so load
// from other processes falls on all of them alike.

import { loadAddon } from '../../runtime/addon.js'
import { NativeBackend } from '../../actors/engine/int/native-backend.js'
import { createJsPool, JsPoolBackend } from '../../actors/engine/int/js-backend.js'
import { compareLogits, FloatReference } from '../../actors/engine/int/reference-f32.js'
import type { ShardBackend } from '../../actors/engine/int/backend.js'
import { metric, type Metric, type SuiteContext } from '../suite.js'
import { argmaxOf, type EngineRun } from './llm-types.js'
import { differingBytes, GEN, openLlama, PROMPT, promptTokens, runVerimesh, summarize, type LlamaRunner } from './llm.js'
import { prepareModel, type BenchModel } from './model.js'
import type { LlamaCpp } from './peer-types.js'
import type { PeerStatus } from './peers.js'

const THREADS = [1, 2] as const
/** Decode target: Verimesh native ≥ this × llama.cpp (single stream, same threads). */
const DECODE_TARGET_RATIO = 1.0
/** The JS fallback must be within this factor of native. */
const JS_MAX_SLOWDOWN = 20

/** Between engines: lets the previous one's spin-waiting threads park. */
const pause = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 100)) }

export async function modelMetrics (ctx: SuiteContext, llamaPeer: PeerStatus<LlamaCpp>): Promise<Metric[]> {
  const metrics: Metric[] = []
  let model: BenchModel
  try {
    model = await prepareModel(ctx.log)
  } catch (e) {
    ctx.log(`benchmark model unavailable: ${(e as Error).stack ?? String(e)}`)
    return [metric({ name: 'model benchmarks', value: NaN, unit: '', better: 'higher', note: `benchmark model unavailable: ${(e as Error).message}` })]
  }
  const w = model.weights
  const d = w.config.dims
  // --quick: a short smoke run (fewer tokens), not numbers to report.
  const P = ctx.quick ? 16 : PROMPT
  const G = ctx.quick ? 8 : GEN
  const prompt = promptTokens(d.vocab, P)
  const reps = ctx.quick ? 1 : 3
  const modelNote = `model: synthetic '${model.dir.split('/').pop() ?? ''}' (dim ${d.dim}, ${d.layers} layers, ${d.heads}/${d.kvHeads} heads, ffn ${d.ffn}, vocab ${d.vocab}); ${P}-token prompt, ${G} greedy decode steps, single stream`

  // ---- engines ----------------------------------------------------------------------
  let NativeShard: NonNullable<ReturnType<typeof loadAddon>['NativeShard']> | undefined
  let nativeReason = ''
  let kernels: string[] = []
  try {
    const addon = loadAddon()
    NativeShard = addon.NativeShard
    kernels = addon.kernels?.() ?? []
    if (NativeShard === undefined) nativeReason = `the addon at ${addon.path} has no NativeShard`
  } catch (e) { nativeReason = (e as Error).message }
  const native = new Map<number, ShardBackend>()
  if (NativeShard !== undefined) {
    for (const t of THREADS) native.set(t, new NativeBackend(new NativeShard(w, { threads: t, kernel: 'auto' })))
  }
  // 'auto' reports 'amx' on an AMX host and runs products of fewer than 8 rows (decode
  // steps) on avx512vnni over the same weights.
  const nativeKernel = native.get(1) === undefined ? 'native (unavailable)' : `native auto (${native.get(1)!.name.replace('native/', '')})`

  let llama: LlamaRunner | undefined
  let llamaReason = ''
  if (llamaPeer.mod === undefined) llamaReason = `node-llama-cpp unavailable: ${llamaPeer.reason ?? '?'}`
  else if (model.gguf === undefined) llamaReason = model.ggufReason ?? 'no GGUF export'
  else {
    try {
      llama = await openLlama(model.gguf, ctx)
      ctx.log(`llama.cpp (node-llama-cpp ${llama.version}): ${llama.systemInfo.trim()}`)
    } catch (e) { llamaReason = `llama.cpp could not load the GGUF: ${(e as Error).message}` }
  }

  // ---- timed runs, engines interleaved ---------------------------------------------------
  const nativeRuns = new Map<number, EngineRun[]>(THREADS.map(t => [t, []]))
  const llamaRuns = new Map<number, EngineRun[]>(THREADS.map(t => [t, []]))
  const allVerimesh: Array<{ name: string, run: EngineRun }> = []
  // One untimed warm-up each (page-in of weights, thread pools, first-call paths).
  for (const t of THREADS) {
    const b = native.get(t)
    if (b !== undefined) await runVerimesh(b, prompt.slice(0, 8), 2, `warm-${t}`)
    if (llama !== undefined) await llama.run(t, prompt.slice(0, 8), 2)
  }
  for (let r = 0; r < reps; r++) {
    for (const t of THREADS) {
      const b = native.get(t)
      if (b !== undefined) {
        await pause()
        const run = await runVerimesh(b, prompt, G, `bench-${t}-${r}`)
        nativeRuns.get(t)!.push(run)
        allVerimesh.push({ name: `native auto ${t}T`, run })
        ctx.log(`rep ${r + 1}/${reps} ${nativeKernel} ${t}T: prefill ${(P / run.prefillSeconds).toFixed(1)} tok/s, decode ${(G / run.decodeSeconds).toFixed(1)} tok/s`)
      }
      if (llama !== undefined) {
        try {
          await pause()
          const run = await llama.run(t, prompt, G)
          llamaRuns.get(t)!.push(run)
          ctx.log(`rep ${r + 1}/${reps} llama.cpp ${t}T: prefill ${(P / run.prefillSeconds).toFixed(1)} tok/s, decode ${(G / run.decodeSeconds).toFixed(1)} tok/s`)
        } catch (e) {
          llamaReason = `llama.cpp run failed: ${(e as Error).message}`
          ctx.log(llamaReason)
          await llama.close().catch(() => {})
          llama = undefined
        }
      }
    }
  }

  // Every kernel path forced, once, for the byte comparison (not timed for the table).
  if (NativeShard !== undefined && !ctx.quick) {
    for (const kernel of kernels) {
      const b = new NativeBackend(new NativeShard(w, { threads: 2, kernel: kernel as 'scalar' }))
      const run = await runVerimesh(b, prompt, G, `kernel-${kernel}`)
      allVerimesh.push({ name: `${b.name} 2T`, run })
      ctx.log(`${b.name} 2T (byte check): prefill ${(P / run.prefillSeconds).toFixed(1)} tok/s, decode ${(G / run.decodeSeconds).toFixed(1)} tok/s`)
      await b.close()
    }
  }

  // The JS fallback: the TypeScript reference in one Piscina worker (a single stream runs
  // each step on one worker; more workers serve more sessions or shards, not one step).
  const pool = createJsPool(1)
  const js = new JsPoolBackend(w, pool)
  let jsRun: EngineRun | undefined
  try {
    ctx.log(`JS fallback (${js.name}, 1 worker): running ${P} + ${G} tokens (slow)`)
    jsRun = await runVerimesh(js, prompt, G, 'bench-js')
    allVerimesh.push({ name: `${js.name} 1 worker`, run: jsRun })
    ctx.log(`JS fallback: prefill ${(P / jsRun.prefillSeconds).toFixed(2)} tok/s, decode ${(G / jsRun.decodeSeconds).toFixed(2)} tok/s`)
  } finally {
    await js.close()
    await pool.destroy()
  }

  // ---- throughput metrics -----------------------------------------------------------------
  const runNote = `median of ${reps} runs, engines interleaved; ${modelNote}`
  for (const t of THREADS) {
    const n = nativeRuns.get(t)!
    const l = llamaRuns.get(t)!
    const nv = n.length > 0 ? summarize(n, P, G) : undefined
    const lv = l.length > 0 ? summarize(l, P, G) : undefined
    const peer = `llama.cpp Q8_0 ${t}T`
    const best = (runs: EngineRun[], phase: 'prefill' | 'decode'): number => Math.max(...runs.map(r => phase === 'prefill' ? P / r.prefillSeconds : G / r.decodeSeconds))
    const bestNote = (phase: 'prefill' | 'decode'): string => n.length > 1 ? `best run ${best(n, phase).toFixed(1)} tok/s${l.length > 0 ? ` vs llama.cpp ${best(l, phase).toFixed(1)}` : ''}` : ''
    const missing = [nv === undefined ? `Verimesh native unavailable: ${nativeReason}` : '', lv === undefined ? llamaReason : ''].filter(x => x !== '').join('; ')
    metrics.push(metric({
      name: `prefill ${P} tokens, ${nativeKernel} ${t}T`,
      value: nv?.prefill ?? NaN,
      unit: 'tok/s',
      better: 'higher',
      peer,
      ...(lv !== undefined ? { peerValue: lv.prefill } : {}),
      note: [t === 1 ? runNote : `median of ${reps} runs`, bestNote('prefill'), missing].filter(x => x !== '').join('; ')
    }))
    metrics.push(metric({
      name: `decode ${G} tokens, ${nativeKernel} ${t}T`,
      value: nv?.decode ?? NaN,
      unit: 'tok/s',
      better: 'higher',
      peer,
      ...(lv !== undefined ? { peerValue: lv.decode, target: DECODE_TARGET_RATIO * lv.decode } : {}),
      note: [`target = ${DECODE_TARGET_RATIO} x llama.cpp`, bestNote('decode'), missing].filter(x => x !== '').join('; ')
    }))
  }
  if (jsRun !== undefined) {
    const nv = nativeRuns.get(1)!.length > 0 ? summarize(nativeRuns.get(1)!, P, G) : undefined
    for (const phase of ['prefill', 'decode'] as const) {
      const value = phase === 'prefill' ? P / jsRun.prefillSeconds : G / jsRun.decodeSeconds
      const nativeValue = nv?.[phase]
      metrics.push(metric({
        name: `${phase} JS fallback (${js.name}, 1 worker)`,
        value,
        unit: 'tok/s',
        better: 'higher',
        peer: `Verimesh ${nativeKernel} 1T`,
        ...(nativeValue !== undefined ? { peerValue: nativeValue, target: nativeValue / JS_MAX_SLOWDOWN } : {}),
        note: `one run; target: within ${JS_MAX_SLOWDOWN}x of native${nativeValue !== undefined ? ` (native is ${(nativeValue / value).toFixed(1)}x faster)` : ''}`
      }))
    }
  }
  if (allVerimesh.length > 1) {
    const base = allVerimesh[0]!
    let diff = 0
    const bad: string[] = []
    for (const o of allVerimesh.slice(1)) {
      const dd = differingBytes(base.run, o.run)
      if (dd > 0) bad.push(`${o.name}: ${dd}`)
      diff += dd
    }
    const bytes = base.run.acts.reduce((s, a) => s + a.length, 0) + base.run.logits.reduce((s, l) => s + l.byteLength, 0)
    metrics.push(metric({
      name: 'differing bytes across Verimesh backends',
      value: diff,
      unit: 'bytes',
      better: 'lower',
      target: 0,
      note: `${allVerimesh.length} runs (${[...new Set(allVerimesh.map(v => v.name))].join(', ')}) compared with ${base.name}: activations of every position and logits of every step, ${bytes.toLocaleString('en-US')} bytes per run${bad.length > 0 ? `; differing: ${bad.join(', ')}` : ''}`
    }))
  }

  // ---- quality ----------------------------------------------------------------------------
  metrics.push(...await quality(ctx, model, native.get(2) ?? native.get(1), llama, llamaReason))

  for (const b of native.values()) await b.close()
  if (llama !== undefined) await llama.close()
  return metrics
}

/** Logits after each of the first `n` prompt tokens, one single-token step each. */
async function stepLogits (b: ShardBackend, tokens: number[]): Promise<Int32Array[]> {
  const out: Int32Array[] = []
  for (let p = 0; p < tokens.length; p++) {
    const o = await b.forward('quality', p, { kind: 'tokens', tokens: Int32Array.of(tokens[p]!) })
    out.push(o.logits!.slice())
  }
  b.endSession('quality')
  return out
}

async function quality (ctx: SuiteContext, model: BenchModel, native: ShardBackend | undefined, llama: LlamaRunner | undefined, llamaReason: string): Promise<Metric[]> {
  const w = model.weights
  const d = w.config.dims
  const n = ctx.quick ? 6 : 24
  const tokens = promptTokens(d.vocab, PROMPT).slice(0, n)
  if (native === undefined) return []
  const intLogits = await stepLogits(native, tokens)
  ctx.log(`quality: fp32 reference over ${n} positions (slow)`)
  const t0 = Date.now()
  const floatLogits = new FloatReference(w).run(tokens)
  ctx.log(`quality: fp32 reference took ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const q = compareLogits(intLogits, floatLogits)
  const where = `${n} positions (the first ${n} prompt tokens, one step each), ${native.name}; every Verimesh backend gives the same logits (see differing bytes)`
  const out: Metric[] = [
    metric({ name: 'quality: max |logit error| int vs fp32', value: q.maxAbsError, unit: 'nats', better: 'lower', note: `${where}; fp32 reference = same weights dequantized, float norm/RoPE/softmax/SiLU` }),
    metric({ name: 'quality: mean KL(fp32 || int)', value: q.meanKl, unit: 'nats', better: 'lower' }),
    metric({ name: 'quality: top-1 agreement int vs fp32', value: 100 * q.top1Agreement, unit: '%', better: 'higher' })
  ]
  if (llama !== undefined) {
    const ll = await llama.logitsFor(tokens, d.vocab)
    let agree = 0
    let agreeF = 0
    for (let p = 0; p < n; p++) {
      const a = argmaxOf(ll[p]!)
      if (a === argmaxOf(intLogits[p]!)) agree++
      if (a === argmaxOf(floatLogits[p]!)) agreeF++
    }
    const kl = compareLogits(intLogits, ll.map(v => Float64Array.from(v, x => Number.isFinite(x) ? x : -1e30)))
    out.push(metric({
      name: 'quality: top-1 agreement int vs llama.cpp',
      value: 100 * agree / n,
      unit: '%',
      better: 'higher',
      peer: 'fp32 reference vs llama.cpp',
      peerValue: 100 * agreeF / n,
      note: `teacher-forced on the same ${n} tokens; llama.cpp runs the GGUF Q8_0 export (weights re-blocked to Q8_0, float activations); mean KL(llama.cpp || int) ${kl.meanKl.toFixed(4)} nats, max |logit diff| ${kl.maxAbsError.toFixed(3)}`
    }))
  } else {
    out.push(metric({ name: 'quality: top-1 agreement int vs llama.cpp', value: NaN, unit: '%', better: 'higher', note: llamaReason }))
  }
  return out
}
