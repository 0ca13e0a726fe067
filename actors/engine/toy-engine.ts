// The toy model served from a Piscina worker pool, so inference never blocks the
// node's event loop. Session state (the per-layer running state) lives here on the
// main thread and travels with each task, because Piscina gives no worker affinity.

import os from 'node:os'
import { Piscina } from 'piscina'
import { VerimeshError } from '../../runtime/errors.js'
import type { ShardEngine, ShardStepRequest, ShardStepResult } from './engine.js'
import { hashActivations, newLayerState, validateSpec, type LayerState, type ToyModelSpec } from './toy-model.js'
import type { ToyTask, ToyTaskResult } from './toy-worker.js'

export interface ToyEngineOptions {
  model: ToyModelSpec
  /** Worker threads; default: min(2, cores). */
  threads?: number
  /** Sessions idle longer than this are evicted. */
  sessionTtlMs?: number
}

interface Session {
  state: LayerState
  lastUsed: number
}

export class ToyPiscinaEngine implements ShardEngine {
  readonly backend = 'toy-js/piscina'
  readonly model: ToyModelSpec
  readonly #pool: Piscina
  readonly #sessions = new Map<string, Session>()
  readonly #ttlMs: number

  constructor (opts: ToyEngineOptions) {
    const problem = validateSpec(opts.model)
    if (problem !== undefined) throw new VerimeshError('CONFIG_INVALID', `invalid toy model: ${problem}`, { model: opts.model })
    this.model = opts.model
    this.#ttlMs = opts.sessionTtlMs ?? 10 * 60_000
    const threads = opts.threads ?? Math.max(1, Math.min(2, os.availableParallelism()))
    this.#pool = new Piscina({
      filename: new URL('./toy-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 60_000
    })
  }

  async step (req: ShardStepRequest): Promise<ShardStepResult> {
    const range = this.model.shards[req.shard]
    if (range === undefined) {
      throw new VerimeshError('REQUEST_INVALID', `shard ${req.shard} does not exist (model has ${this.model.shards.length})`, { shard: req.shard })
    }
    if (req.shard > 0 && req.input.kind !== 'activations') {
      throw new VerimeshError('REQUEST_INVALID', `shard ${req.shard} takes activations, got ${req.input.kind}`, { shard: req.shard })
    }
    if (req.shard === 0 && req.input.kind !== 'tokens') {
      throw new VerimeshError('REQUEST_INVALID', 'shard 0 takes tokens', { shard: req.shard })
    }
    this.#evictIdle()
    const key = `${req.session}/${req.shard}`
    const session = this.#sessions.get(key) ?? { state: newLayerState(this.model, range), lastUsed: 0 }
    session.lastUsed = Date.now()
    const task: ToyTask = {
      spec: this.model,
      shard: req.shard,
      step: req.step,
      state: session.state,
      sampling: req.sampling,
      ...(req.input.kind === 'tokens' ? { tokens: [...req.input.tokens] } : { activations: req.input.data })
    }
    let result: ToyTaskResult
    try {
      result = await this.#pool.run(task) as ToyTaskResult
    } catch (err) {
      throw VerimeshError.from(err, 'EXECUTION_FAILED', { shard: req.shard, step: req.step, backend: this.backend })
    }
    session.state = result.state
    this.#sessions.set(key, session)
    const out: ShardStepResult = { activations: result.activations, activationsHash: hashActivations(result.activations) }
    return result.token === undefined ? out : { ...out, token: result.token }
  }

  endSession (session: string): void {
    for (let s = 0; s < this.model.shards.length; s++) this.#sessions.delete(`${session}/${s}`)
  }

  async close (): Promise<void> {
    this.#sessions.clear()
    await this.#pool.destroy()
  }

  #evictIdle (): void {
    const cutoff = Date.now() - this.#ttlMs
    for (const [key, s] of this.#sessions) if (s.lastUsed < cutoff) this.#sessions.delete(key)
  }
}
