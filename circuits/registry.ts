// The circuits this repository builds, and where their outputs live. Paths are relative
// to the repository root because circom2 (WASI) only reads and writes under its cwd.

import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface CircuitSpec {
  readonly name: string
  /** The main .circom file, relative to the repository root. */
  readonly source: string
  readonly description: string
}

export const CIRCUITS: readonly CircuitSpec[] = [
  { name: 'receipt', source: 'circuits/receipt.circom', description: 'Poseidon commitment to a receipt (model root, request, input, output, executor, epoch)' },
  { name: 'tile_4x16', source: 'circuits/tile_4x16.circom', description: 'engine linear step on a 4×16 int8 tile (small instance for end-to-end tests)' },
  { name: 'tile_16x64', source: 'circuits/tile_16x64.circom', description: 'engine linear step on a 16×64 int8 tile (the dispute tile)' },
  { name: 'iris_mlp', source: 'circuits/iris_mlp.circom', description: 'whole inference of the quantized iris MLP (4→8→3) to its class' }
]

export function circuitSpec (name: string): CircuitSpec | undefined {
  return CIRCUITS.find((c) => c.name === name)
}

/** Nearest ancestor of this module holding package.json: the repository root. */
export function repoRoot (): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
}

/** Build outputs of circuit `name` (relative to the root unless `root` is given). */
export function circuitPaths (name: string, root?: string): { dir: string, r1cs: string, sym: string, wasm: string, zkey: string, vkey: string, verifier: string, manifest: string } {
  const dir = root === undefined ? path.join('circuits', 'build', name) : path.join(root, 'circuits', 'build', name)
  return {
    dir,
    r1cs: path.join(dir, `${name}.r1cs`),
    sym: path.join(dir, `${name}.sym`),
    wasm: path.join(dir, `${name}_js`, `${name}.wasm`),
    zkey: path.join(dir, `${name}.zkey`),
    vkey: path.join(dir, `${name}.vkey.json`),
    verifier: path.join(dir, `${name}Verifier.sol`),
    manifest: path.join(dir, 'manifest.json')
  }
}
