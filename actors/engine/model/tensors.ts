// The mapping between in-memory ShardWeights and the named tensors of a shard file
// (docs/model-format.md §Tensors). Names follow GGUF's so a package and the GGUF it came
// from can be read side by side.

import { VerimeshError } from '../../../runtime/errors.js'
import type { ModelConfig, QEmbedding, QLayer, QLinear, ShardWeights } from '../int/types.js'
import type { TensorDescriptor, TensorDtype } from './merkle.js'

export type TensorData = Int8Array | Int32Array

export interface TensorSpec extends TensorDescriptor {
  /** Byte length of the data (elements × element size). */
  readonly bytes: number
}

export interface NamedTensor extends TensorSpec {
  readonly data: TensorData
}

export const LINEARS = [
  ['wq', 'attn_q'], ['wk', 'attn_k'], ['wv', 'attn_v'], ['wo', 'attn_output'],
  ['wGate', 'ffn_gate'], ['wUp', 'ffn_up'], ['wDown', 'ffn_down']
] as const

export type LinearKey = typeof LINEARS[number][0]

export function dtypeSize (d: TensorDtype): number {
  return d === 'i8' ? 1 : 4
}

function spec (name: string, dtype: TensorDtype, shape: readonly number[]): TensorSpec {
  return { name, dtype, shape, bytes: shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype) }
}

/** [rows, cols] of every linear of a layer. */
export function linearShapes (config: ModelConfig): Record<LinearKey, readonly [number, number]> {
  const d = config.dims
  const qd = d.heads * d.headDim
  const kvd = d.kvHeads * d.headDim
  return {
    wq: [qd, d.dim],
    wk: [kvd, d.dim],
    wv: [kvd, d.dim],
    wo: [d.dim, qd],
    wGate: [d.ffn, d.dim],
    wUp: [d.ffn, d.dim],
    wDown: [d.dim, d.ffn]
  }
}

function linearSpecs (base: string, rows: number, cols: number, bias: boolean): TensorSpec[] {
  const out = [spec(`${base}.q`, 'i8', [rows, cols]), spec(`${base}.s`, 'i32', [rows, 2])]
  if (bias) out.push(spec(`${base}.b`, 'i32', [rows]))
  return out
}

/**
 * Every tensor of the shard holding layers [a, b), in file (and Merkle) order.
 * `hasBias('blk.3.attn_q')` says which linears carry a bias, which the config alone
 * cannot tell.
 */
export function shardTensorSpecs (config: ModelConfig, range: readonly [number, number], hasBias: (linear: string) => boolean): TensorSpec[] {
  const d = config.dims
  const [a, b] = range
  const shapes = linearShapes(config)
  const out: TensorSpec[] = [spec('rope', 'i32', [d.context, d.headDim / 2, 2])]
  if (a === 0) {
    out.push(spec('token_embd.q', 'i8', [d.vocab, d.dim]), spec('token_embd.s', 'i32', [d.vocab, d.dim / 32]))
  }
  for (let l = a; l < b; l++) {
    out.push(spec(`blk.${l}.attn_norm`, 'i32', [d.dim]))
    for (const [key, name] of LINEARS) {
      if (key === 'wGate') out.push(spec(`blk.${l}.ffn_norm`, 'i32', [d.dim]))
      const [rows, cols] = shapes[key]
      const base = `blk.${l}.${name}`
      out.push(...linearSpecs(base, rows, cols, hasBias(base)))
    }
  }
  if (b === d.layers) {
    out.push(spec('output_norm', 'i32', [d.dim]), ...linearSpecs('output', d.vocab, d.dim, hasBias('output')))
  }
  return out
}

function pushLinear (out: NamedTensor[], base: string, w: QLinear): void {
  out.push({ ...spec(`${base}.q`, 'i8', [w.rows, w.cols]), data: w.q })
  out.push({ ...spec(`${base}.s`, 'i32', [w.rows, 2]), data: w.scales })
  if (w.bias !== undefined) out.push({ ...spec(`${base}.b`, 'i32', [w.rows]), data: w.bias })
}

/** The named tensors of in-memory weights, in file order, viewing (not copying) their data. */
export function shardTensors (w: ShardWeights): NamedTensor[] {
  const d = w.config.dims
  const [a, b] = w.range
  const out: NamedTensor[] = [{ ...spec('rope', 'i32', [d.context, d.headDim / 2, 2]), data: w.rope }]
  if (a === 0) {
    if (w.embedding === undefined) throw new VerimeshError('MODEL_INVALID', 'the first shard has no embedding', { range: w.range })
    out.push({ ...spec('token_embd.q', 'i8', [d.vocab, d.dim]), data: w.embedding.q })
    out.push({ ...spec('token_embd.s', 'i32', [d.vocab, d.dim / 32]), data: w.embedding.scales })
  }
  if (w.layers.length !== b - a) throw new VerimeshError('MODEL_INVALID', `shard [${a}, ${b}) holds ${w.layers.length} layers`, { range: w.range })
  w.layers.forEach((layer, i) => {
    const l = a + i
    out.push({ ...spec(`blk.${l}.attn_norm`, 'i32', [d.dim]), data: layer.attnNorm })
    for (const [key, name] of LINEARS) {
      if (key === 'wGate') out.push({ ...spec(`blk.${l}.ffn_norm`, 'i32', [d.dim]), data: layer.ffnNorm })
      pushLinear(out, `blk.${l}.${name}`, layer[key])
    }
  })
  if (b === d.layers) {
    if (w.outputNorm === undefined || w.output === undefined) throw new VerimeshError('MODEL_INVALID', 'the last shard has no output head', { range: w.range })
    out.push({ ...spec('output_norm', 'i32', [d.dim]), data: w.outputNorm })
    pushLinear(out, 'output', w.output)
  }
  for (const t of out) {
    if (t.data.byteLength !== t.bytes) {
      throw new VerimeshError('MODEL_INVALID', `tensor ${t.name} has ${t.data.byteLength} bytes, its shape [${t.shape.join(', ')}] needs ${t.bytes}`, { tensor: t.name })
    }
  }
  return out
}

/** Rebuilds ShardWeights from tensors by name; the caller has checked names, types and shapes. */
export function assembleShard (config: ModelConfig, range: readonly [number, number], tensors: ReadonlyMap<string, TensorData>): ShardWeights {
  const d = config.dims
  const [a, b] = range
  const get8 = (name: string): Int8Array => {
    const t = tensors.get(name)
    if (!(t instanceof Int8Array)) throw new VerimeshError('MODEL_INVALID', `tensor ${name} is missing or not i8`, { tensor: name })
    return t
  }
  const get32 = (name: string): Int32Array => {
    const t = tensors.get(name)
    if (!(t instanceof Int32Array)) throw new VerimeshError('MODEL_INVALID', `tensor ${name} is missing or not i32`, { tensor: name })
    return t
  }
  const linear = (base: string, rows: number, cols: number): QLinear => {
    const bias = tensors.get(`${base}.b`)
    const w: QLinear = { rows, cols, q: get8(`${base}.q`), scales: get32(`${base}.s`) }
    return bias === undefined ? w : { ...w, bias: get32(`${base}.b`) }
  }
  const shapes = linearShapes(config)
  const layers: QLayer[] = []
  for (let l = a; l < b; l++) {
    const lin = (key: LinearKey, name: string): QLinear => linear(`blk.${l}.${name}`, shapes[key][0], shapes[key][1])
    layers.push({
      attnNorm: get32(`blk.${l}.attn_norm`),
      wq: lin('wq', 'attn_q'),
      wk: lin('wk', 'attn_k'),
      wv: lin('wv', 'attn_v'),
      wo: lin('wo', 'attn_output'),
      ffnNorm: get32(`blk.${l}.ffn_norm`),
      wGate: lin('wGate', 'ffn_gate'),
      wUp: lin('wUp', 'ffn_up'),
      wDown: lin('wDown', 'ffn_down')
    })
  }
  const embedding: QEmbedding | undefined = a === 0 ? { q: get8('token_embd.q'), scales: get32('token_embd.s') } : undefined
  const last = b === d.layers
  return {
    config,
    range: [a, b],
    rope: get32('rope'),
    ...(embedding !== undefined ? { embedding } : {}),
    layers,
    ...(last ? { outputNorm: get32('output_norm'), output: linear('output', d.vocab, d.dim) } : {})
  }
}

/** Which layer a tensor belongs to: its `blk.N.` index, or the shard ends it goes with. */
export function tensorLayer (name: string): number | 'rope' | 'first' | 'last' {
  const m = /^blk\.(\d+)\./.exec(name)
  if (m !== null) return Number(m[1])
  if (name === 'rope') return 'rope'
  if (name.startsWith('token_embd.')) return 'first'
  return 'last'
}
