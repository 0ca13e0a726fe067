// Whole-model generation on one engine: the reference the quorum re-executes against
// and the single-node baseline tests compare the pipeline with. It walks the shards in
// the same order and with the same step numbering as the distributed pipeline, so both
// produce the same tokens and the same trace commitment.

import type { ShardEngine } from './engine.js'
import { EMPTY_TRACE, extendTrace, hashTokens } from './commitments.js'
import type { SamplingParams } from './engine.js'

export interface GenerationResult {
  tokens: number[]
  outputHash: string
  traceHash: string
}

export async function generateLocally (
  engine: ShardEngine, session: string, prompt: readonly number[], maxTokens: number, sampling: SamplingParams
): Promise<GenerationResult> {
  const tokens: number[] = []
  let trace = EMPTY_TRACE
  const shards = engine.model.shards.length
  try {
    for (let step = 0; step < maxTokens; step++) {
      let input: Parameters<ShardEngine['step']>[0]['input'] = { kind: 'tokens', tokens: step === 0 ? prompt : [tokens[step - 1]!] }
      for (let shard = 0; shard < shards; shard++) {
        const out = await engine.step({ session, shard, step, input, sampling })
        trace = extendTrace(trace, step, shard, out.activationsHash)
        if (out.token !== undefined) tokens.push(out.token)
        input = { kind: 'activations', data: out.activations }
      }
    }
  } finally {
    engine.endSession(session)
  }
  return { tokens, outputHash: hashTokens(tokens), traceHash: trace }
}
