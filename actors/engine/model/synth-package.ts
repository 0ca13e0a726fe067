// A seeded synthetic model written as a package: the devnet's default model and the
// fixtures of tests and benchmarks.

import { VerimeshError } from '../../../runtime/errors.js'
import { sliceShard, synthWeights, type SynthOptions } from '../int/synth.js'
import { balancedRanges, shardCosts, validateRanges, writePackage, type Manifest } from './package.js'
import { shardTensors } from './tensors.js'
import { BYTES_MIN_VOCAB, bytesTokenizerSpec } from './tokenizer-spec.js'

export interface SynthPackageOptions extends SynthOptions {
  readonly name?: string
  /** Preset name, recorded in the manifest's source. */
  readonly preset?: string
  readonly parts?: number
  readonly ranges?: ReadonlyArray<readonly [number, number]>
  readonly overwrite?: boolean
}

export async function synthPackage (dir: string, opts: SynthPackageOptions): Promise<Manifest> {
  if (opts.dims.vocab < BYTES_MIN_VOCAB) {
    throw new VerimeshError('MODEL_INVALID', `a synthetic model uses the byte tokenizer, which needs a vocabulary of at least ${BYTES_MIN_VOCAB}; got ${opts.dims.vocab}`, { vocab: opts.dims.vocab })
  }
  const whole = synthWeights(opts)
  const L = whole.config.dims.layers
  let ranges: Array<readonly [number, number]>
  if (opts.ranges !== undefined) {
    ranges = [...opts.ranges]
    validateRanges(L, ranges)
  } else {
    const names = new Set(shardTensors(whole).map((t) => t.name))
    ranges = balancedRanges(L, opts.parts ?? 1, shardCosts(whole.config, (base) => names.has(`${base}.b`)))
  }
  return await writePackage(dir, {
    name: opts.name ?? `synthetic-${opts.preset ?? `${opts.dims.dim}x${L}`}-seed${opts.seed}`,
    config: whole.config,
    tokenizer: bytesTokenizerSpec(whole.config.dims.vocab),
    synthetic: true,
    source: {
      kind: 'synthetic',
      seed: opts.seed,
      ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
      ropeStyle: whole.config.ropeStyle,
      bias: opts.bias === true
    },
    shards: ranges.map((r) => sliceShard(whole, r)),
    ...(opts.overwrite !== undefined ? { overwrite: opts.overwrite } : {})
  })
}
