// The shard engine interface: what a shard executor needs from an inference backend.
// The toy JS engine implements it now; the native int8 engine (issue 3) replaces it
// behind the same interface, so executors, quorum members and the router do not change.

import type { SamplingParams, ToyModelSpec } from './toy-model.js'

export type ShardInput =
  | { readonly kind: 'tokens', readonly tokens: readonly number[] }
  | { readonly kind: 'activations', readonly data: Int8Array }

export interface ShardStepRequest {
  /** Groups steps that share a KV cache; the engine keeps per-session state. */
  readonly session: string
  readonly shard: number
  readonly step: number
  readonly input: ShardInput
  readonly sampling: SamplingParams
}

export interface ShardStepResult {
  /** Activations leaving this shard (int8, [positions][dim]). */
  readonly activations: Int8Array
  readonly activationsHash: string
  /** Set by the last shard only. */
  readonly token?: number
}

export interface ShardEngine {
  /** Backend name reported in receipts and metrics, e.g. 'toy-js/piscina'. */
  readonly backend: string
  readonly model: ToyModelSpec
  step: (req: ShardStepRequest) => Promise<ShardStepResult>
  endSession: (session: string) => void
  close: () => Promise<void>
}
