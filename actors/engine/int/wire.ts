// Boundary activations on the wire (spec §1.4): the int8 values of every position,
// then the int32 little-endian block scales. The hash of these bytes is what the
// execution trace commits to.

import { sha256Hex } from '../commitments.js'
import { VerimeshError } from '../../../runtime/errors.js'
import type { BoundaryActs } from './types.js'

export function encodeActs (a: BoundaryActs): Uint8Array {
  const out = new Uint8Array(a.q.byteLength + a.scales.length * 4)
  out.set(new Uint8Array(a.q.buffer, a.q.byteOffset, a.q.byteLength), 0)
  const view = new DataView(out.buffer, a.q.byteLength)
  for (let i = 0; i < a.scales.length; i++) view.setInt32(i * 4, a.scales[i]!, true)
  return out
}

export function decodeActs (bytes: Uint8Array, dim: number): BoundaryActs {
  const perPosition = dim + (dim / 32) * 4
  if (bytes.byteLength === 0 || bytes.byteLength % perPosition !== 0) {
    throw new VerimeshError('ENGINE_INPUT_INVALID', `activations of ${bytes.byteLength} bytes are not a whole number of positions of ${perPosition} bytes (dim ${dim})`, { bytes: bytes.byteLength, dim })
  }
  const positions = bytes.byteLength / perPosition
  const n = positions * dim
  const q = new Int8Array(n)
  q.set(new Int8Array(bytes.buffer, bytes.byteOffset, n))
  const scales = new Int32Array(positions * dim / 32)
  const view = new DataView(bytes.buffer, bytes.byteOffset + n)
  for (let i = 0; i < scales.length; i++) scales[i] = view.getInt32(i * 4, true)
  return { positions, q, scales }
}

export function hashLogits (logits: Int32Array): string {
  const bytes = new Uint8Array(logits.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < logits.length; i++) view.setInt32(i * 4, logits[i]!, true)
  return sha256Hex(bytes)
}
