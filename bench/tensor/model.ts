// The benchmark model: the model CLI's 'smol' preset (SmolLM-135M-like dimensions),
// synthesised once into a Verimesh package and exported once to GGUF Q8_0 for
// llama.cpp, both cached in bench/.peers/models/ (gitignored).

import { existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadShard, readManifest } from '../../actors/engine/model/package.js'
import type { ShardWeights } from '../../actors/engine/int/types.js'
import { runModelCommand } from '../../runtime/cli/model.js'
import { MODELS_DIR } from './peers.js'

export const MODEL_PRESET = 'smol'
export const MODEL_SEED = 1

export interface BenchModel {
  dir: string
  weights: ShardWeights
  /** GGUF Q8_0 export, or why there is none. */
  gguf?: string
  ggufReason?: string
  root: string
}

/** Runs a `verimesh model` command with its stdout sent to the log (stdout is the table). */
async function modelCommand (argv: string[], log: (msg: string) => void): Promise<void> {
  const write = process.stdout.write.bind(process.stdout)
  let buffered = ''
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    buffered += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
    const cb = rest.find(r => typeof r === 'function') as (() => void) | undefined
    cb?.()
    return true
  }) as typeof process.stdout.write
  let code: number
  try {
    code = await runModelCommand(argv)
  } finally {
    process.stdout.write = write
  }
  for (const line of buffered.split('\n')) if (line.trim() !== '') log(`  ${line}`)
  if (code !== 0) throw new Error(`verimesh model ${argv.join(' ')} exited with ${code}`)
}

export async function prepareModel (log: (msg: string) => void): Promise<BenchModel> {
  const name = `${MODEL_PRESET}-seed${MODEL_SEED}`
  const dir = join(MODELS_DIR, name)
  const gguf = join(MODELS_DIR, `${name}-q8_0.gguf`)
  if (!existsSync(join(dir, 'manifest.json'))) {
    log(`synthesising the '${MODEL_PRESET}' model into ${dir} (first run only)`)
    const tmp = `${dir}.tmp-${process.pid}`
    await rm(tmp, { recursive: true, force: true })
    await modelCommand(['synth', '--out', tmp, '--dims', MODEL_PRESET, '--seed', String(MODEL_SEED), '--name', `bench ${name}`], log)
    await rm(dir, { recursive: true, force: true })
    await rename(tmp, dir)
  }
  const manifest = await readManifest(dir)
  if (manifest.shards.length !== 1) throw new Error(`${dir} has ${manifest.shards.length} shards; the benchmark expects one`)
  let ggufReason: string | undefined
  if (!existsSync(gguf)) {
    log(`exporting ${dir} to GGUF Q8_0 ${gguf} (first run only)`)
    const tmp = `${gguf}.tmp-${process.pid}`
    try {
      await modelCommand(['export-gguf', dir, '--out', tmp, '--type', 'q8_0'], log)
      await rename(tmp, gguf)
    } catch (e) {
      await rm(tmp, { force: true })
      ggufReason = `GGUF export failed: ${(e as Error).message}`
    }
  }
  log(`loading ${dir} (verifying its Merkle root)`)
  const weights = await loadShard(dir, 0, { manifest })
  return { dir, weights, root: manifest.root, ...(existsSync(gguf) ? { gguf } : { ggufReason: ggufReason ?? 'no GGUF' }) }
}
