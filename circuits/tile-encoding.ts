// The tile step (circuits/lib/tile.circom) off-circuit: its integer reference (the
// engine's spec §2.1 through actors/engine/int/fixed.ts), its commitments and its input.

import { mulr, sat32 } from '../actors/engine/int/fixed.js'
import { VerimeshError } from '../runtime/errors.js'
import { dec } from './field.js'
import { mat, vec, type CircuitInput } from './input.js'
import { hashChain } from './poseidon.js'
import { TAG } from './tags.js'

/** t = s + 31 where s = −(xa + xw + 47) is the requantization shift; the circuit takes t ∈ [0, 95]. */
export const SHIFT_T_MAX = 95

export interface TileWeights {
  readonly rows: number
  readonly cols: number
  /** int8 [rows][cols], row-major. */
  readonly w: Int8Array
  /** Per row (m, x): m · 2^x is the row's scale; 0 ≤ m < 2^31. */
  readonly scales: Int32Array
  /** Q16 int32 per row; absent = no bias (the same as zeros). */
  readonly bias?: Int32Array
}

export interface TileActivation {
  /** int8 [cols]. */
  readonly a: Int8Array
  readonly ma: number
  readonly xa: number
  /** Each row's accumulator so far (chained steps); absent = zeros. */
  readonly accIn?: Int32Array
}

export interface TileOutput {
  readonly acc: Int32Array
  readonly y: Int32Array
}

function check (w: TileWeights, x: TileActivation): void {
  const { rows, cols } = w
  const bad = (msg: string, ctx: Record<string, unknown> = {}): never => { throw new VerimeshError('PROOF_INPUT_INVALID', `tile step: ${msg}`, { rows, cols, ...ctx }) }
  if (w.w.length !== rows * cols) bad(`${w.w.length} weights for ${rows}×${cols}`)
  if (w.scales.length !== 2 * rows) bad(`${w.scales.length} scale values for ${rows} rows`)
  if (w.bias !== undefined && w.bias.length !== rows) bad(`${w.bias.length} biases for ${rows} rows`)
  if (x.a.length !== cols) bad(`input has ${x.a.length} values, tile has ${cols} columns`)
  if (x.accIn !== undefined && x.accIn.length !== rows) bad(`accIn has ${x.accIn.length} values for ${rows} rows`)
  if (!Number.isInteger(x.ma) || x.ma < 0 || x.ma >= 2 ** 31) bad(`input scale m ${x.ma} outside [0, 2^31)`)
  if (!Number.isInteger(x.xa)) bad(`input scale exponent ${x.xa} is not an integer`)
  for (let j = 0; j < rows; j++) {
    const m = w.scales[2 * j]!
    const t = -x.xa - w.scales[2 * j + 1]! - 16
    if (m < 0) bad(`row ${j} scale m ${m} is negative`, { row: j })
    if (t < 0 || t > SHIFT_T_MAX) bad(`row ${j}: shift −(xa + xw + 47) = ${t - 31} outside the supported [−31, ${SHIFT_T_MAX - 31}]`, { row: j })
  }
}

/** Spec §2.1 on the tile, continuing accIn: the engine's own mulr and sat32. */
export function tileReference (w: TileWeights, x: TileActivation): TileOutput {
  check(w, x)
  const acc = new Int32Array(w.rows)
  const y = new Int32Array(w.rows)
  for (let j = 0; j < w.rows; j++) {
    let s = x.accIn?.[j] ?? 0
    for (let k = 0; k < w.cols; k++) s += x.a[k]! * w.w[j * w.cols + k]!
    if (s < -(2 ** 31) || s >= 2 ** 31) throw new VerimeshError('PROOF_INPUT_INVALID', `tile step: row ${j} accumulator ${s} overflows int32`, { row: j })
    acc[j] = s
    const u = mulr(s, w.scales[2 * j]!, 31)
    let v = mulr(u, x.ma, -(x.xa + w.scales[2 * j + 1]! + 47))
    if (w.bias !== undefined) v = sat32(v + w.bias[j]!)
    y[j] = v
  }
  return { acc, y }
}

/** int8 values as two's-complement bytes, 31 per field element, little-endian (PackInt8). */
export function packInt8 (values: ArrayLike<number>): bigint[] {
  const out: bigint[] = []
  for (let e = 0; e * 31 < values.length; e++) {
    let v = 0n
    for (let i = Math.min(values.length, e * 31 + 31) - 1; i >= e * 31; i--) v = (v << 8n) | BigInt(values[i]! & 0xff)
    out.push(v)
  }
  return out
}

export function tileWeightsCommitment (w: TileWeights): bigint {
  const values: bigint[] = []
  for (let j = 0; j < w.rows; j++) {
    values.push(...packInt8(w.w.subarray(j * w.cols, (j + 1) * w.cols)))
    values.push(BigInt(w.scales[2 * j]!), BigInt(w.scales[2 * j + 1]!), BigInt(w.bias?.[j] ?? 0))
  }
  return hashChain(TAG.tileWeights, values)
}

export function tileInputCommitment (rows: number, x: TileActivation): bigint {
  const acc = Array.from({ length: rows }, (_, j) => BigInt(x.accIn?.[j] ?? 0))
  return hashChain(TAG.tileInput, [...packInt8(x.a), BigInt(x.ma), BigInt(x.xa), ...acc])
}

export function tileOutputCommitment (out: TileOutput): bigint {
  const values: bigint[] = []
  for (let j = 0; j < out.acc.length; j++) values.push(BigInt(out.acc[j]!), BigInt(out.y[j]!))
  return hashChain(TAG.tileOutput, values)
}

/** The tile circuit's first public signal (the second is the weights commitment alone). */
export function tileStatement (step: number | bigint, weights: bigint, input: bigint, output: bigint): bigint {
  return hashChain(TAG.tileStatement, [BigInt(step), weights, input, output])
}

export interface TileProofInput {
  readonly input: CircuitInput
  /** What the circuit makes public, in its order: [statement, weights commitment]. */
  readonly publicSignals: readonly [bigint, bigint]
  readonly output: TileOutput
  readonly statement: bigint
  readonly commitments: { readonly weights: bigint, readonly input: bigint, readonly output: bigint }
}

/** The circuit input for step `step` (a u64 the dispute assigns) with its expected output. */
export function tileInput (step: number | bigint, w: TileWeights, x: TileActivation, claimed?: TileOutput): TileProofInput {
  const output = claimed ?? tileReference(w, x)
  const commitments = { weights: tileWeightsCommitment(w), input: tileInputCommitment(w.rows, x), output: tileOutputCommitment(output) }
  const statement = tileStatement(step, commitments.weights, commitments.input, commitments.output)
  const rows = w.rows
  return {
    output,
    publicSignals: [statement, commitments.weights],
    statement,
    commitments,
    input: {
      statement: dec(statement),
      weightsCommitment: dec(commitments.weights),
      step: dec(BigInt(step)),
      w: mat(w.w, rows, w.cols),
      mw: vec(Array.from({ length: rows }, (_, j) => w.scales[2 * j]!)),
      xw: vec(Array.from({ length: rows }, (_, j) => w.scales[2 * j + 1]!)),
      bias: vec(Array.from({ length: rows }, (_, j) => w.bias?.[j] ?? 0)),
      a: vec(x.a),
      ma: dec(x.ma),
      xa: dec(x.xa),
      accIn: vec(Array.from({ length: rows }, (_, j) => x.accIn?.[j] ?? 0))
    }
  }
}
