// What a node knows about the model it serves: its identity (name and Merkle root),
// shape, shard ranges and tokenizer, and how to load one shard's weights. Routers and
// quorum members need only the first part; executors load the shards they hold.

import type { ModelConfig, ShardWeights } from './int/types.js'

export interface ModelHandle {
  /** The name requests use. */
  readonly id: string
  /** The model root over the shard roots (docs/model-format.md); what gets registered on chain. */
  readonly root: string
  readonly config: ModelConfig
  /** Contiguous layer ranges [start, end), one per shard. */
  readonly shards: ReadonlyArray<readonly [number, number]>
  readonly vocab: number
  /** Token ids of a prompt (with the model's BOS when it uses one). */
  encode: (prompt: string) => number[]
  decode: (tokens: readonly number[]) => string
  /** Loads (and verifies) one shard's weights. */
  loadShard: (index: number) => Promise<ShardWeights>
}
