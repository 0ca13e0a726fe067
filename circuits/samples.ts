// Seeded sample data for the circuits: the PRNG the iris training uses, and random tiles
// shaped as the engine makes them (for tests and benchmarks of the tile step).

import { qvec } from '../actors/engine/int/fixed.js'
import type { TileActivation, TileWeights } from './tile-encoding.js'

/** mulberry32: a tiny seeded PRNG, so a run is the same everywhere. Values in [0, 1). */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A random rows×cols tile: int8 weights, row scales as quantizeLinear makes them, the input
 * as the engine makes it (qvec of Q16 values), optionally a Q16 bias and a carried accumulator.
 */
export function randomTile (rand: () => number, rows: number, cols: number, opts: { bias?: boolean, accIn?: boolean } = {}): { w: TileWeights, x: TileActivation } {
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
    ...(opts.bias === true ? { bias: Int32Array.from({ length: rows }, () => int(-(2 ** 31), 2 ** 31 - 1)) } : {})
  }
  return { w, x: { a, ma, xa, ...(opts.accIn === true ? { accIn: Int32Array.from({ length: rows }, () => int(-(2 ** 28), 2 ** 28)) } : {}) } }
}
