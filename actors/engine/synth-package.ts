// A synthetic model package on disk, created once and reused: the devnet's default
// model and the tests' fixture. Named as synthetic in its manifest.

import { existsSync } from 'node:fs'
import path from 'node:path'
import { VerimeshError } from '../../runtime/errors.js'
import { balancedRanges, writePackage, MANIFEST_FILE, type Manifest } from './model/package.js'
import { bytesTokenizerSpec } from './model/tokenizer.js'
import { DIM_PRESETS, sliceShard, synthWeights } from './int/synth.js'
import type { ModelDims } from './int/types.js'

export interface SynthPackageOptions {
  readonly dims: ModelDims | keyof typeof DIM_PRESETS
  readonly seed: number
  readonly parts: number
  readonly name?: string
  readonly ropeStyle?: 'adjacent' | 'halves'
  readonly bias?: boolean
}

export function resolveDims (dims: SynthPackageOptions['dims']): ModelDims {
  if (typeof dims !== 'string') return dims
  const d = DIM_PRESETS[dims]
  if (d === undefined) throw new VerimeshError('MODEL_INVALID', `unknown dims preset '${dims}'; one of ${Object.keys(DIM_PRESETS).join(', ')}`)
  return d
}

/** Writes the package into `dir`, or leaves an existing complete one in place. */
export async function ensureSynthPackage (dir: string, opts: SynthPackageOptions): Promise<string> {
  if (existsSync(path.join(dir, MANIFEST_FILE))) return dir
  await writeSynthPackage(dir, opts)
  return dir
}

export async function writeSynthPackage (dir: string, opts: SynthPackageOptions, overwrite = false): Promise<Manifest> {
  const dims = resolveDims(opts.dims)
  const ropeStyle = opts.ropeStyle ?? 'adjacent'
  const bias = opts.bias === true
  const whole = synthWeights({ dims, seed: opts.seed, ropeStyle, bias })
  const shards = balancedRanges(dims.layers, opts.parts).map(r => sliceShard(whole, r))
  return await writePackage(dir, {
    name: opts.name ?? `synthetic-${typeof opts.dims === 'string' ? opts.dims : `${dims.dim}x${dims.layers}`}-seed${opts.seed}`,
    config: whole.config,
    tokenizer: bytesTokenizerSpec(dims.vocab),
    synthetic: true,
    source: { kind: 'synthetic', seed: opts.seed, ...(typeof opts.dims === 'string' ? { preset: opts.dims } : {}), ropeStyle, bias },
    shards,
    overwrite
  })
}
