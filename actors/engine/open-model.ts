// Opens a model package for a node: reads and checks the manifest, builds the
// tokenizer, and hands out a loader that verifies each shard against the manifest's
// Merkle roots as it reads it.

import { VerimeshError } from '../../runtime/errors.js'
import type { ModelHandle } from './model-handle.js'
import { loadShard, readManifest, readTokenizerFile } from './model/package.js'
import { createTokenizer } from './model/tokenizer.js'

export interface OpenModelOptions {
  /** The name requests use. */
  readonly id: string
  /** The package directory. */
  readonly path: string
  /** Refuse the package unless its root is this one. */
  readonly root?: string
}

export async function openModel (opts: OpenModelOptions): Promise<ModelHandle> {
  const manifest = await readManifest(opts.path)
  // Roots are bytes32 on chain and in receipts: 0x-prefixed here, bare hex in the manifest.
  const root = '0x' + manifest.root
  if (opts.root !== undefined && root !== opts.root.toLowerCase()) {
    throw new VerimeshError('MODEL_CORRUPT', `model package ${opts.path} has root ${root}, the config expects ${opts.root}`, { path: opts.path, expected: opts.root, actual: root })
  }
  const tokenizer = createTokenizer(await readTokenizerFile(opts.path, manifest))
  return {
    id: opts.id,
    root,
    config: manifest.config,
    shards: manifest.shards.map(s => s.layers),
    vocab: manifest.config.dims.vocab,
    encode: (prompt: string) => tokenizer.encode(prompt),
    decode: (tokens: readonly number[]) => tokenizer.decode(tokens),
    loadShard: async (index: number) => await loadShard(opts.path, index, { manifest })
  }
}
