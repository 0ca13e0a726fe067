// The quantized iris MLP (4 → 8 → 3, ReLU) in the engine's integer arithmetic: features as
// Q16, qvec before each layer, the engine's own `linear` (spec §2.1), ReLU on Q16, argmax
// (first maximum). circuits/iris_mlp.circom computes exactly this.

import { qvec } from '../../actors/engine/int/fixed.js'
import { linear } from '../../actors/engine/int/forward.js'
import type { QLinear } from '../../actors/engine/int/types.js'
import { VerimeshError } from '../../runtime/errors.js'

export interface IrisLayerJson {
  readonly rows: number
  readonly cols: number
  /** int8 row-major */
  readonly q: number[]
  /** (m, x) per row */
  readonly scales: number[]
  /** Q16 */
  readonly bias: number[]
}

export interface IrisModelJson {
  readonly format: 'verimesh-iris-mlp/1'
  readonly dataset: string
  readonly classes: string[]
  readonly split: string
  readonly architecture: string
  readonly training: Record<string, number | string>
  readonly accuracy: {
    readonly float: { readonly test: number, readonly all: number }
    readonly integer: { readonly test: number, readonly all: number }
  }
  readonly layers: [IrisLayerJson, IrisLayerJson]
}

export const IRIS_FEATURES = 4

export function toQLinear (l: IrisLayerJson): QLinear {
  return { rows: l.rows, cols: l.cols, q: Int8Array.from(l.q), scales: Int32Array.from(l.scales), bias: Int32Array.from(l.bias) }
}

/** Features (cm) as Q16 integers. */
export function featuresQ16 (features: readonly number[]): Int32Array {
  if (features.length !== IRIS_FEATURES || !features.every((f) => Number.isFinite(f) && Math.abs(f) < 32768)) {
    throw new VerimeshError('PROOF_INPUT_INVALID', `iris takes ${IRIS_FEATURES} finite features below 32768 in magnitude, got ${JSON.stringify(features)}`)
  }
  return Int32Array.from(features, (f) => Math.round(f * 65536))
}

export interface IrisTrace {
  readonly hidden: Int32Array
  readonly logits: Int32Array
  readonly cls: number
}

/** Integer inference from Q16 features. */
export function irisInfer (layers: readonly [QLinear, QLinear], x: Int32Array): IrisTrace {
  const q0 = new Int8Array(x.length)
  const [m0, x0] = qvec(x, 0, x.length, q0, 0)
  const hidden = new Int32Array(layers[0].rows)
  linear(layers[0], { q: q0, m: m0, x: x0 }, hidden)
  for (let i = 0; i < hidden.length; i++) if (hidden[i]! < 0) hidden[i] = 0
  const q1 = new Int8Array(hidden.length)
  const [m1, x1] = qvec(hidden, 0, hidden.length, q1, 0)
  const logits = new Int32Array(layers[1].rows)
  linear(layers[1], { q: q1, m: m1, x: x1 }, logits)
  let cls = 0
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[cls]!) cls = i
  return { hidden, logits, cls }
}
