import test from 'ava'
import { ToyPiscinaEngine } from '../actors/engine/toy-engine.js'
import { generateLocally } from '../actors/engine/generate.js'
import { DEFAULT_TOY_MODEL, embed, headLogits, newLayerState, runLayers, sample, synthesizeWeights, validateSpec, type ToyModelSpec } from '../actors/engine/toy-model.js'
import { isVerimeshError } from '../runtime/errors.js'

const greedy = { temperatureMilli: 0, topK: 1, seed: '0' }

test('weights are a pure function of the spec', (t) => {
  const a = synthesizeWeights(DEFAULT_TOY_MODEL)
  const b = synthesizeWeights({ ...DEFAULT_TOY_MODEL })
  t.deepEqual(a.layers[3], b.layers[3])
  t.notDeepEqual(a.layers[3], synthesizeWeights({ ...DEFAULT_TOY_MODEL, seed: 43 }).layers[3])
})

test('running shards one after another equals running all layers at once', (t) => {
  const w = synthesizeWeights(DEFAULT_TOY_MODEL)
  const x = embed(w, [...Buffer.from('determinism')])
  const whole = runLayers(w, [0, 4], x, newLayerState(DEFAULT_TOY_MODEL, [0, 4]))
  const half = runLayers(w, [0, 2], x, newLayerState(DEFAULT_TOY_MODEL, [0, 2]))
  t.deepEqual(runLayers(w, [2, 4], half, newLayerState(DEFAULT_TOY_MODEL, [2, 4])), whole)
})

test('seeded sampling reproduces, greedy takes the lowest index on ties', (t) => {
  const logits = Int32Array.from([5, 9, 9, 1])
  t.is(sample(logits, greedy, 0), 1)
  const p = { temperatureMilli: 1000, topK: 4, seed: '18446744073709551615' }
  const draws = Array.from({ length: 32 }, (_, step) => sample(logits, p, step))
  t.deepEqual(draws, Array.from({ length: 32 }, (_, step) => sample(logits, p, step)))
  t.true(new Set(draws).size > 1)
  t.is(headLogits(synthesizeWeights(DEFAULT_TOY_MODEL), new Int8Array(64)).length, 256)
})

test('spec validation names the problem', (t) => {
  t.regex(validateSpec({ ...DEFAULT_TOY_MODEL, shards: [[0, 1], [2, 4]] }) ?? '', /contiguous/)
  t.regex(validateSpec({ ...DEFAULT_TOY_MODEL, shards: [[0, 3]] }) ?? '', /cover 3 layers/)
  t.is(validateSpec(DEFAULT_TOY_MODEL), undefined)
})

test('piscina engine: same prompt, same tokens and trace; different seed, different draw', async (t) => {
  const engine = new ToyPiscinaEngine({ model: DEFAULT_TOY_MODEL, threads: 2 })
  try {
    const prompt = [...Buffer.from('Hello, Verimesh')]
    const sampled = { temperatureMilli: 900, topK: 8, seed: '7' }
    const [a, b] = await Promise.all([
      generateLocally(engine, 'a', prompt, 12, sampled),
      generateLocally(engine, 'b', prompt, 12, sampled)
    ])
    t.deepEqual(a, b)
    t.is(a.tokens.length, 12)
    const c = await generateLocally(engine, 'c', prompt, 12, { ...sampled, seed: '8' })
    t.notDeepEqual(c.tokens, a.tokens)
    const g = await generateLocally(engine, 'g', prompt, 12, greedy)
    t.notDeepEqual(g.traceHash, a.traceHash)
  } finally {
    await engine.close()
  }
})

test('piscina engine refuses wrong inputs with a typed error and keeps serving', async (t) => {
  const engine = new ToyPiscinaEngine({ model: DEFAULT_TOY_MODEL, threads: 1 })
  try {
    const bad = await t.throwsAsync(engine.step({ session: 's', shard: 1, step: 0, input: { kind: 'tokens', tokens: [1] }, sampling: greedy }))
    t.true(isVerimeshError(bad, 'REQUEST_INVALID'))
    const oob = await t.throwsAsync(engine.step({ session: 's', shard: 0, step: 0, input: { kind: 'tokens', tokens: [999] }, sampling: greedy }))
    t.true(isVerimeshError(oob, 'EXECUTION_FAILED'))
    t.regex(oob.message, /outside vocabulary/)
    const ragged = await t.throwsAsync(engine.step({ session: 's', shard: 1, step: 0, input: { kind: 'activations', data: new Int8Array(10) }, sampling: greedy }))
    t.true(isVerimeshError(ragged, 'EXECUTION_FAILED'))
    const ok = await engine.step({ session: 's', shard: 0, step: 0, input: { kind: 'tokens', tokens: [1, 2] }, sampling: greedy })
    t.is(ok.activations.length, 128)
  } finally {
    await engine.close()
  }
  t.throws(() => new ToyPiscinaEngine({ model: { ...DEFAULT_TOY_MODEL, layers: 5 } as ToyModelSpec }), { message: /invalid toy model/ })
})
