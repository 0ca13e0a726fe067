// The iris MLP circuit's input and public signal, from features in cm.

import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { QLinear } from '../../actors/engine/int/types.js'
import { dec } from '../field.js'
import type { CircuitInput } from '../input.js'
import { vec } from '../input.js'
import { hashChain } from '../poseidon.js'
import { repoRoot } from '../registry.js'
import { TAG } from '../tags.js'
import { featuresQ16, irisInfer, toQLinear, type IrisModelJson } from './model.js'

let cached: IrisModelJson | undefined

/** The committed quantized model (circuits/iris/iris-mlp.json); the circuit's constants come from it. */
export function loadIrisModel (): IrisModelJson {
  cached ??= JSON.parse(readFileSync(path.join(repoRoot(), 'circuits', 'iris', 'iris-mlp.json'), 'utf8')) as IrisModelJson
  return cached
}

export function irisLayers (m: IrisModelJson = loadIrisModel()): readonly [QLinear, QLinear] {
  return [toQLinear(m.layers[0]), toQLinear(m.layers[1])]
}

export function mlpStatement (xQ16: ArrayLike<number>, cls: number): bigint {
  return hashChain(TAG.mlpStatement, [...Array.from(xQ16, (v) => BigInt(v)), BigInt(cls)])
}

/** Input of circuits/iris_mlp.circom for `features`, with the class the reference computes (or a claimed one). */
export function mlpInput (features: readonly number[], opts: { claimedClass?: number, model?: IrisModelJson } = {}): { input: CircuitInput, cls: number, statement: bigint } {
  const x = featuresQ16(features)
  const cls = opts.claimedClass ?? irisInfer(irisLayers(opts.model), x).cls
  const statement = mlpStatement(x, cls)
  return { cls, statement, input: { statement: dec(statement), x: vec(x), class: dec(cls) } }
}
