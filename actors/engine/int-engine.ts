// The integer engine behind the ShardEngine interface: one backend per shard held
// (native addon when available, the JS pool otherwise), per-session positions, wire
// encoding of boundary activations, and sampling on the last shard.

import type { Piscina } from 'piscina'
import { VerimeshError } from '../../runtime/errors.js'
import type { ShardEngine, ShardStepRequest, ShardStepResult } from './engine.js'
import type { BackendOptions, ShardBackend } from './int/backend.js'
import type { ShardInputArrays } from './int/forward.js'
import { createJsPool, JsPoolBackend } from './int/js-backend.js'
import { createNativeBackend } from './int/native-backend.js'
import { sampleToken } from './int/sampling.js'
import { decodeActs, encodeActs, hashLogits } from './int/wire.js'
import { sha256Hex } from './commitments.js'
import type { ModelHandle } from './model-handle.js'

export interface IntEngineOptions extends BackendOptions {
  /** Sessions idle longer than this are dropped (the pipeline has no explicit end on non-final shards). */
  readonly sessionTtlMs?: number
  /** Called once per shard with the backend chosen and, for a fallback, why. */
  readonly onBackend?: (shard: number, name: string, fallbackReason?: string) => void
}

interface SessionState { length: number, lastUsed: number }

export class IntShardEngine implements ShardEngine {
  readonly model: ModelHandle
  readonly #opts: IntEngineOptions
  readonly #backends = new Map<number, Promise<ShardBackend>>()
  readonly #sessions = new Map<string, SessionState>()
  readonly #ttlMs: number
  #pool: Piscina | undefined
  #names = new Set<string>()

  constructor (model: ModelHandle, opts: IntEngineOptions = {}) {
    this.model = model
    this.#opts = opts
    this.#ttlMs = opts.sessionTtlMs ?? 10 * 60_000
  }

  get backend (): string { return this.#names.size === 0 ? 'unloaded' : [...this.#names].join(',') }

  /** Loads a shard ahead of its first step (executors call this at start). */
  async preload (shard: number): Promise<string> {
    return (await this.#backendFor(shard)).name
  }

  async step (req: ShardStepRequest): Promise<ShardStepResult> {
    const { model } = this
    const range = model.shards[req.shard]
    if (range === undefined) throw new VerimeshError('REQUEST_INVALID', `shard ${req.shard} does not exist (model has ${model.shards.length})`, { shard: req.shard })
    const first = req.shard === 0
    if (first !== (req.input.kind === 'tokens')) {
      throw new VerimeshError('REQUEST_INVALID', first ? 'shard 0 takes tokens' : `shard ${req.shard} takes activations, got ${req.input.kind}`, { shard: req.shard })
    }
    this.#evictIdle()
    const backend = await this.#backendFor(req.shard)
    const key = `${req.session}\u0000${req.shard}`
    let s = this.#sessions.get(key)
    if (req.step === 0) {
      // A new generation always starts at position 0 (a repeated step 0 rewinds).
      s = { length: 0, lastUsed: Date.now() }
      this.#sessions.set(key, s)
    } else if (s === undefined) {
      throw new VerimeshError('REQUEST_INVALID', `step ${req.step} of session '${req.session}' arrived before its prompt step on shard ${req.shard}`, { session: req.session, shard: req.shard })
    }
    s.lastUsed = Date.now()
    const input: ShardInputArrays = req.input.kind === 'tokens'
      ? { kind: 'tokens', tokens: Int32Array.from(req.input.tokens) }
      : { kind: 'acts', acts: decodeActs(req.input.data, model.config.dims.dim) }
    const pos = s.length
    const out = await backend.forward(req.session, pos, input)
    s.length = pos + out.acts.positions
    const activations = encodeActs(out.acts)
    const result = { activations, activationsHash: sha256Hex(activations), backend: backend.name }
    if (out.logits === undefined) return result
    return { ...result, token: sampleToken(out.logits, req.sampling, req.step), logitsHash: hashLogits(out.logits) }
  }

  endSession (session: string): void {
    for (let shard = 0; shard < this.model.shards.length; shard++) {
      if (!this.#sessions.delete(`${session}\u0000${shard}`)) continue
      void this.#backends.get(shard)?.then(b => { b.endSession(session) }, () => {})
    }
  }

  async close (): Promise<void> {
    this.#sessions.clear()
    const all = await Promise.allSettled(this.#backends.values())
    for (const r of all) if (r.status === 'fulfilled') await r.value.close()
    this.#backends.clear()
    await this.#pool?.destroy()
    this.#pool = undefined
  }

  #backendFor (shard: number): Promise<ShardBackend> {
    let b = this.#backends.get(shard)
    if (b === undefined) {
      b = this.#load(shard)
      // A failed load is not cached: the next step retries (the file may be fixed).
      b.catch(() => { this.#backends.delete(shard) })
      this.#backends.set(shard, b)
    }
    return b
  }

  async #load (shard: number): Promise<ShardBackend> {
    const weights = await this.model.loadShard(shard)
    const choice = this.#opts.backend ?? 'auto'
    let reason: string | undefined
    if (choice !== 'js') {
      const native = createNativeBackend(weights, this.#opts)
      if (native.backend !== undefined) {
        this.#names.add(native.backend.name)
        this.#opts.onBackend?.(shard, native.backend.name)
        return native.backend
      }
      if (choice === 'native') throw new VerimeshError('ADDON_UNAVAILABLE', `native backend requested but unavailable: ${native.reason}`, { shard })
      reason = native.reason
    }
    this.#pool ??= createJsPool(this.#opts.threads)
    const js = new JsPoolBackend(weights, this.#pool)
    this.#names.add(js.name)
    this.#opts.onBackend?.(shard, js.name, reason)
    return js
  }

  #evictIdle (): void {
    const cutoff = Date.now() - this.#ttlMs
    for (const [key, s] of this.#sessions) {
      if (s.lastUsed >= cutoff) continue
      this.#sessions.delete(key)
      const [session, shard] = key.split('\u0000') as [string, string]
      void this.#backends.get(Number(shard))?.then(b => { b.endSession(session) }, () => {})
    }
  }
}
