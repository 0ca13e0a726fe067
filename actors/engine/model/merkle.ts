// Content addressing of model packages (docs/model-format.md §Hashes). Every tensor is a
// Merkle leaf that binds its name, type and shape to its bytes, so a shard root says
// exactly which weights, under which names, a shard serves.

import { createHash } from 'node:crypto'

export const HASH_BYTES = 32

export function sha256 (...parts: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

export function sha256Hex (...parts: readonly Uint8Array[]): string {
  return sha256(...parts).toString('hex')
}

const LEAF_TAG = Uint8Array.of(0x00)
const NODE_TAG = Uint8Array.of(0x01)
const MODEL_TAG = Uint8Array.of(0x02)

export type TensorDtype = 'i8' | 'i32'

export interface TensorDescriptor {
  readonly name: string
  readonly dtype: TensorDtype
  readonly shape: readonly number[]
}

/**
 * The bytes a leaf commits to besides the data hash. JSON of a fixed-order array is
 * trivial to reproduce in any language and cannot be confused between fields.
 */
export function canonicalDescriptor (d: TensorDescriptor): Buffer {
  return Buffer.from(JSON.stringify([d.name, d.dtype, [...d.shape]]), 'utf8')
}

/** leaf = sha256(0x00 ‖ descriptor ‖ sha256(data)). */
export function tensorLeaf (d: TensorDescriptor, dataHash: Uint8Array): Buffer {
  if (dataHash.length !== HASH_BYTES) throw new RangeError(`data hash must be ${HASH_BYTES} bytes`)
  return sha256(LEAF_TAG, canonicalDescriptor(d), dataHash)
}

/** node = sha256(0x01 ‖ left ‖ right). */
export function merkleNode (left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(NODE_TAG, left, right)
}

/**
 * Binary Merkle root, pairing left to right per level; an odd last node is promoted
 * unchanged (no duplication, so [a, b, c] and [a, b, c, c] differ). The root of one
 * leaf is the leaf; an empty list has no root.
 */
export function merkleRoot (leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  let level: Uint8Array[] = [...leaves]
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(merkleNode(level[i]!, level[i + 1]!))
    if (level.length % 2 === 1) next.push(level[level.length - 1]!)
    level = next
  }
  return Buffer.from(level[0]!)
}

/**
 * The model root commits to the shard roots and to everything outside the tensors that
 * changes the computation or its interpretation: the config (eps, attention scale, RoPE
 * style) and the tokenizer. root = sha256(0x02 ‖ configHash ‖ tokenizerHash ‖ shardsRoot).
 */
export function modelRoot (configHash: Uint8Array, tokenizerHash: Uint8Array, shardsRoot: Uint8Array): Buffer {
  return sha256(MODEL_TAG, configHash, tokenizerHash, shardsRoot)
}

/** JSON with object keys sorted at every level and no whitespace: the hashed form of configs. */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('canonical JSON cannot hold a non-finite number')
    const s = JSON.stringify(value)
    if (s === undefined) throw new RangeError(`canonical JSON cannot hold ${typeof value}`)
    return s
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
}

export function hexToBytes (hex: string): Buffer {
  return Buffer.from(hex, 'hex')
}

export function isHash (v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)
}
