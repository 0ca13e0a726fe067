// Prefill and decode tokens/s on one model, the same weights in every engine:
//   Verimesh native (NativeShard, 1 and 2 threads), the Verimesh JS fallback (the
//   TypeScript reference in a Piscina worker), and llama.cpp through node-llama-cpp on
//   the GGUF Q8_0 export of the same model (1 and 2 threads).
// Single stream, greedy: the prompt (PROMPT tokens) in one call, then GEN steps of one
// token each. Plus: bytes that differ between Verimesh backends over the whole run
// (activations of every position and every logits vector), and logit quality.

import { argmaxOf, type EngineRun } from './llm-types.js'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildReply, ChildRequest } from './llama-child.js'
import type { ShardWeights } from '../../actors/engine/int/types.js'
import type { ShardBackend } from '../../actors/engine/int/backend.js'
import { median, type SuiteContext } from '../suite.js'

export const PROMPT = 64
export const GEN = 32

/** A deterministic prompt of token ids, away from the first 16 ids (special tokens in a real vocabulary). */
export function promptTokens (vocab: number, n: number, seed = 7): number[] {
  const out: number[] = []
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out.push(16 + (s % (vocab - 16)))
  }
  return out
}

/** One single-stream run through a Verimesh backend: prefill, then GEN greedy steps. */
export async function runVerimesh (backend: ShardBackend, prompt: number[], gen: number, session: string): Promise<EngineRun> {
  const acts: Uint8Array[] = []
  const logits: Int32Array[] = []
  const keep = (o: { acts: { q: Int8Array, scales: Int32Array }, logits?: Int32Array }): number => {
    acts.push(new Uint8Array(o.acts.q.buffer, o.acts.q.byteOffset, o.acts.q.byteLength).slice())
    acts.push(new Uint8Array(o.acts.scales.buffer, o.acts.scales.byteOffset, o.acts.scales.byteLength).slice())
    if (o.logits === undefined) throw new Error(`${backend.name} returned no logits from the last shard`)
    logits.push(o.logits.slice())
    return argmaxOf(o.logits)
  }
  const t0 = process.hrtime.bigint()
  let tok = keep(await backend.forward(session, 0, { kind: 'tokens', tokens: Int32Array.from(prompt) }))
  const t1 = process.hrtime.bigint()
  const tokens = [tok]
  for (let i = 0; i < gen; i++) {
    tok = keep(await backend.forward(session, prompt.length + i, { kind: 'tokens', tokens: Int32Array.of(tok) }))
    tokens.push(tok)
  }
  const t2 = process.hrtime.bigint()
  backend.endSession(session)
  return {
    prefillSeconds: Number(t1 - t0) / 1e9,
    decodeSeconds: Number(t2 - t1) / 1e9,
    tokens,
    logits,
    acts
  }
}

/** Best-of / median bookkeeping over repeated runs. */
export function summarize (runs: EngineRun[], prompt: number, gen: number): { prefill: number, decode: number } {
  return {
    prefill: median(runs.map(r => prompt / r.prefillSeconds)),
    decode: median(runs.map(r => gen / r.decodeSeconds))
  }
}

/** Differing bytes between two runs' activations and logits (all positions, all steps). */
export function differingBytes (a: EngineRun, b: EngineRun): number {
  let d = 0
  const cmp = (x: Uint8Array, y: Uint8Array): void => {
    const n = Math.min(x.length, y.length)
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) d++
    d += Math.abs(x.length - y.length)
  }
  const n = Math.max(a.acts.length, b.acts.length)
  for (let i = 0; i < n; i++) cmp(a.acts[i] ?? new Uint8Array(0), b.acts[i] ?? new Uint8Array(0))
  const m = Math.max(a.logits.length, b.logits.length)
  const u8 = (x: Int32Array | undefined): Uint8Array => x === undefined ? new Uint8Array(0) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength)
  for (let i = 0; i < m; i++) cmp(u8(a.logits[i]), u8(b.logits[i]))
  return d
}

// ---- llama.cpp (in a child process: see llama-child.ts) -----------------------------

export interface LlamaRunner {
  version: string
  systemInfo: string
  run: (threads: number, prompt: number[], gen: number) => Promise<EngineRun>
  /** Teacher-forced logits after each of `tokens` (float, natural-log units). */
  logitsFor: (tokens: number[], vocab: number) => Promise<Float64Array[]>
  close: () => Promise<void>
}

export async function openLlama (gguf: string, ctx: SuiteContext): Promise<LlamaRunner> {
  const script = fileURLToPath(new URL('./llama-child.js', import.meta.url))
  const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let nextId = 1
  let exited: string | undefined
  child.on('message', (msg: ChildReply) => {
    const p = pending.get(msg.id)
    if (p === undefined) return
    pending.delete(msg.id)
    if (msg.ok) p.resolve(msg.result); else p.reject(new Error(msg.error))
  })
  child.on('exit', (code, signal) => {
    exited = `llama.cpp process exited (${signal ?? `code ${String(code)}`})`
    for (const p of pending.values()) p.reject(new Error(exited))
    pending.clear()
  })
  const call = async <T>(req: DistributiveOmit<ChildRequest, 'id'>): Promise<T> => {
    if (exited !== undefined) throw new Error(exited)
    const id = nextId++
    return await new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      child.send({ ...req, id })
    })
  }
  let info: { version: string, systemInfo: string }
  try {
    info = await call<{ version: string, systemInfo: string }>({ cmd: 'open', gguf })
  } catch (e) {
    child.kill()
    throw e
  }
  ctx.log(`llama.cpp loaded ${gguf} (pid ${String(child.pid)})`)
  return {
    version: info.version,
    systemInfo: info.systemInfo,
    run: async (threads, prompt, gen) => {
      const r = await call<{ prefillSeconds: number, decodeSeconds: number, tokens: number[] }>({ cmd: 'run', threads, prompt, gen })
      return { ...r, logits: [], acts: [] }
    },
    logitsFor: async (tokens, vocab) => await call<Float64Array[]>({ cmd: 'logits', tokens, vocab }),
    close: async () => {
      if (exited !== undefined) return
      const gone = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
      await call({ cmd: 'close' }).catch(() => {})
      const timer = setTimeout(() => { child.kill() }, 5000)
      await gone
      clearTimeout(timer)
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

export type { EngineRun }
export type { ShardWeights }
