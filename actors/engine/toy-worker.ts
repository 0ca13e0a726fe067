// Piscina worker for the toy engine. Plain compiled JS (no tsx hook needed); weights are
// synthesized once per worker and model seed, then cached for the worker's lifetime.
import '../../runtime/polyfills.js'
import { embed, headLogits, runLayers, sample, synthesizeWeights, type LayerState, type SamplingParams, type ToyModelSpec, type ToyWeights } from './toy-model.js'

export interface ToyTask {
  spec: ToyModelSpec
  shard: number
  step: number
  tokens?: number[]
  activations?: Int8Array
  state: LayerState
  sampling: SamplingParams
}

export interface ToyTaskResult {
  activations: Int8Array
  state: LayerState
  token?: number
}

const cache = new Map<string, ToyWeights>()

function weightsFor (spec: ToyModelSpec): ToyWeights {
  const key = JSON.stringify(spec)
  let w = cache.get(key)
  if (w === undefined) {
    w = synthesizeWeights(spec)
    cache.set(key, w)
  }
  return w
}

export default function runToyShard (task: ToyTask): ToyTaskResult {
  const weights = weightsFor(task.spec)
  const range = task.spec.shards[task.shard]
  if (range === undefined) throw new RangeError(`shard ${task.shard} does not exist (model has ${task.spec.shards.length})`)
  const input = task.tokens !== undefined ? embed(weights, task.tokens) : task.activations
  if (input === undefined || input.length === 0 || input.length % task.spec.dim !== 0) {
    throw new RangeError(`shard ${task.shard} input must be a non-empty multiple of dim=${task.spec.dim}`)
  }
  const activations = runLayers(weights, range, input, task.state)
  const last = task.shard === task.spec.shards.length - 1
  const token = last ? sample(headLogits(weights, activations), task.sampling, task.step) : undefined
  return token === undefined ? { activations, state: task.state } : { activations, state: task.state, token }
}
