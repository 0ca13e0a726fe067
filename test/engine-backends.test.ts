// Zero differing bytes across backends: the same packages and requests through the JS
// worker pool and through every native GEMM path this CPU can run (and CUDA where a GPU
// is present) give the same tokens, the same execution trace (every shard boundary of
// every step) and the same logits.

import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { IntShardEngine } from '../actors/engine/int-engine.js'
import { generateLocally } from '../actors/engine/generate.js'
import { openModel } from '../actors/engine/open-model.js'
import { synthPackage } from '../actors/engine/model/synth-package.js'
import type { ModelDims } from '../actors/engine/int/types.js'
import { loadAddon } from '../runtime/addon.js'

const MODELS: Array<{ name: string, dims: ModelDims, seed: number, ropeStyle: 'adjacent' | 'halves', bias: boolean, parts: number }> = [
  { name: 'mha', dims: { vocab: 300, dim: 64, layers: 4, heads: 4, kvHeads: 4, headDim: 16, ffn: 160, context: 128 }, seed: 1, ropeStyle: 'adjacent', bias: false, parts: 2 },
  { name: 'gqa-bias-neox', dims: { vocab: 320, dim: 96, layers: 3, heads: 6, kvHeads: 2, headDim: 16, ffn: 224, context: 128 }, seed: 2, ropeStyle: 'halves', bias: true, parts: 3 },
  { name: 'wide-head', dims: { vocab: 512, dim: 128, layers: 2, heads: 2, kvHeads: 1, headDim: 64, ffn: 352, context: 128 }, seed: 3, ropeStyle: 'adjacent', bias: false, parts: 2 }
]
const PROMPTS = ['a', 'The quick brown fox', 'zero differing bytes, 0 bytes différents']
const SAMPLINGS = [
  { temperatureMilli: 0, topK: 1, topPMilli: 1000, seed: '0' },
  { temperatureMilli: 800, topK: 40, topPMilli: 900, seed: '12345678901234567890' }
]

let kernels: string[] = []
let addonProblem = ''
try {
  kernels = loadAddon().kernels?.() ?? []
  if (kernels.length === 0) addonProblem = 'the addon has no engine kernels'
} catch (err) {
  addonProblem = (err as Error).message
}

test('every backend gives the same tokens, trace and output for many models, prompts and seeds', async (t) => {
  if (addonProblem !== '') t.log(`native addon unavailable, comparing the JS pool with itself only: ${addonProblem}`)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-backends-'))
  try {
    let compared = 0
    for (const m of MODELS) {
      const pkg = path.join(dir, m.name)
      await synthPackage(pkg, { dims: m.dims, seed: m.seed, ropeStyle: m.ropeStyle, bias: m.bias, parts: m.parts })
      const model = await openModel({ id: m.name, path: pkg })
      const engines = [
        new IntShardEngine(model, { backend: 'js', threads: 2 }),
        ...kernels.map(k => new IntShardEngine(model, { backend: 'native', kernel: k, threads: 2 }))
      ]
      try {
        for (const prompt of PROMPTS) {
          for (const sampling of SAMPLINGS) {
            const runs = []
            for (const e of engines) runs.push(await generateLocally(e, `s-${compared}`, model.encode(prompt), 6, sampling))
            for (const [i, r] of runs.entries()) {
              const label = `${m.name} / ${JSON.stringify(prompt)} / T=${sampling.temperatureMilli} on ${engines[i]!.backend}`
              t.is(r.traceHash, runs[0]!.traceHash, label)
              t.deepEqual(r.tokens, runs[0]!.tokens, label)
            }
            compared++
          }
        }
      } finally {
        for (const e of engines) await e.close()
      }
      t.log(`${m.name}: ${engines.length} backends (js${kernels.map(k => `, native/${k}`).join('')}) agree`)
    }
    t.is(compared, MODELS.length * PROMPTS.length * SAMPLINGS.length)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
