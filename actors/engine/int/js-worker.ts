// Piscina worker of the JS fallback: a stateless step. Weights and the session's KV
// cache arrive as views of SharedArrayBuffers, so nothing large is copied per task.
import '../../../runtime/polyfills.js'
import { runShard, type KvBuffers, type ShardInputArrays, type ShardOutput } from './forward.js'
import type { ShardWeights } from './types.js'

export interface JsShardTask {
  readonly weights: ShardWeights
  readonly kv: KvBuffers
  readonly pos: number
  readonly input: ShardInputArrays
}

export default function runJsShard (task: JsShardTask): ShardOutput {
  return runShard(task.weights, task.kv, task.pos, task.input)
}
