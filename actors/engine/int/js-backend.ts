// The JS fallback: the TypeScript reference kernel in Piscina worker threads, used when
// the addon is missing or disabled. Piscina has no worker affinity, so session state
// (the KV cache) lives here in SharedArrayBuffers and every worker can serve any step.

import os from 'node:os'
import { Piscina } from 'piscina'
import { VerimeshError } from '../../../runtime/errors.js'
import type { ShardBackend } from './backend.js'
import { allocKv, checkSessionPosition, checkShardInput, type KvBuffers, type ShardInputArrays, type ShardOutput } from './forward.js'
import type { JsShardTask } from './js-worker.js'
import type { QLinear, ShardWeights } from './types.js'

export function createJsPool (threads?: number): Piscina {
  return new Piscina({
    filename: new URL('./js-worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: threads ?? Math.max(1, os.availableParallelism()),
    idleTimeout: 60_000
  })
}

function share<T extends Int8Array | Int32Array> (a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a
  const copy = a instanceof Int8Array ? new Int8Array(new SharedArrayBuffer(a.byteLength)) : new Int32Array(new SharedArrayBuffer(a.byteLength))
  copy.set(a)
  return copy as T
}

function shareLinear (l: QLinear): QLinear {
  return { rows: l.rows, cols: l.cols, q: share(l.q), scales: share(l.scales), ...(l.bias === undefined ? {} : { bias: share(l.bias) }) }
}

/** A copy of the weights in SharedArrayBuffers (structured clone then shares, not copies). */
export function shareWeights (w: ShardWeights): ShardWeights {
  return {
    config: w.config,
    range: w.range,
    rope: share(w.rope),
    ...(w.embedding === undefined ? {} : { embedding: { q: share(w.embedding.q), scales: share(w.embedding.scales) } }),
    layers: w.layers.map(L => ({
      attnNorm: share(L.attnNorm), wq: shareLinear(L.wq), wk: shareLinear(L.wk), wv: shareLinear(L.wv), wo: shareLinear(L.wo),
      ffnNorm: share(L.ffnNorm), wGate: shareLinear(L.wGate), wUp: shareLinear(L.wUp), wDown: shareLinear(L.wDown)
    })),
    ...(w.outputNorm === undefined ? {} : { outputNorm: share(w.outputNorm) }),
    ...(w.output === undefined ? {} : { output: shareLinear(w.output) })
  }
}

export class JsPoolBackend implements ShardBackend {
  readonly name = 'js/piscina'
  readonly #w: ShardWeights
  readonly #pool: Piscina
  readonly #ownsPool: boolean
  readonly #sessions = new Map<string, { kv: KvBuffers, length: number, busy: boolean }>()

  constructor (weights: ShardWeights, pool?: Piscina) {
    this.#w = shareWeights(weights)
    this.#pool = pool ?? createJsPool()
    this.#ownsPool = pool === undefined
  }

  async forward (session: string, pos: number, input: ShardInputArrays): Promise<ShardOutput> {
    // Validate here: an error thrown inside a worker loses its VerimeshError code.
    checkShardInput(this.#w, pos, input.kind === 'tokens' ? input.tokens.length : input.acts.positions, input)
    let s = this.#sessions.get(session)
    checkSessionPosition(session, s?.length, pos)
    if (s === undefined) {
      s = { kv: allocKv(this.#w.layers.length, this.#w.config.dims, true), length: 0, busy: false }
      this.#sessions.set(session, s)
    }
    // Two steps of one session at once would race on its cache rows.
    if (s.busy) throw new VerimeshError('ENGINE_INPUT_INVALID', `session '${session}' already has a step running`, { session })
    s.busy = true
    try {
      const task: JsShardTask = { weights: this.#w, kv: s.kv, pos, input }
      const out = await this.#pool.run(task) as ShardOutput
      s.length = pos + out.acts.positions
      return out
    } finally {
      s.busy = false
    }
  }

  endSession (session: string): void { this.#sessions.delete(session) }

  async close (): Promise<void> {
    this.#sessions.clear()
    if (this.#ownsPool) await this.#pool.destroy()
  }
}
