// The shard engine interface: what a shard executor (and a re-executing quorum member)
// needs from an inference backend. IntShardEngine implements it on the integer engine
// of docs/engine-spec.md, with native, CUDA or JS kernels behind it.

import type { Sampling } from './int/sampling.js'
import type { ModelHandle } from './model-handle.js'

export type SamplingParams = Sampling

export type ShardInput =
  | { readonly kind: 'tokens', readonly tokens: readonly number[] }
  /** Boundary activations in wire form (docs/engine-spec.md §1.4). */
  | { readonly kind: 'activations', readonly data: Uint8Array }

export interface ShardStepRequest {
  /** Groups steps that share a KV cache; the engine keeps per-session state. */
  readonly session: string
  readonly shard: number
  /** 0 for the prompt, then one per generated token. */
  readonly step: number
  readonly input: ShardInput
  readonly sampling: SamplingParams
}

export interface ShardStepResult {
  /** Boundary activations leaving this shard, wire form. */
  readonly activations: Uint8Array
  readonly activationsHash: string
  /** Set by the last shard only. */
  readonly token?: number
  readonly logitsHash?: string
  /** The kernel path that ran the step, e.g. 'native/amx'. */
  readonly backend: string
}

export interface ShardEngine {
  readonly model: ModelHandle
  /** Backend names in use, e.g. 'native/amx' or 'js/piscina'. */
  readonly backend: string
  step: (req: ShardStepRequest) => Promise<ShardStepResult>
  endSession: (session: string) => void
  close: () => Promise<void>
}
