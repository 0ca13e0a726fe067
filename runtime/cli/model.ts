// `verimesh model …`: create, import, inspect, reshard and export model packages
// (docs/model-format.md). main.ts dispatches `verimesh model <args>` to
// runModelCommand(args); it returns the exit code: 0 ok, 2 usage error, 1 failure.

import { stat } from 'node:fs/promises'
import { parseFlags, runCommandGroup, str, UsageError, type FlagSpec, type FlagValues } from './subcommands.js'
import { DIM_PRESETS } from '../../actors/engine/int/synth.js'
import type { ModelDims } from '../../actors/engine/int/types.js'
import { parameterCount, readManifest, reshard, verifyPackage, type Manifest } from '../../actors/engine/model/package.js'
import { importGguf, type ImportProgress } from '../../actors/engine/model/gguf-import.js'
import { exportGguf, type ExportType } from '../../actors/engine/model/gguf-export.js'
import { synthPackage } from '../../actors/engine/model/synth-package.js'

export const MODEL_USAGE = `verimesh model — model packages (docs/model-format.md)

Usage:
  verimesh model synth --out DIR [--dims PRESET | --dim N --layers N --heads N ...] [--seed N] [--parts K]
  verimesh model import FILE.gguf --out DIR [--parts K] [--context N]
  verimesh model info DIR [--verify] [--json]
  verimesh model shard DIR --parts K --out DIR2
  verimesh model export-gguf DIR --out FILE.gguf [--type q8_0|f16|bf16|f32]
  verimesh model help <command>

Exit codes: 0 ok, 1 failure, 2 usage error.
`

const HELP: Readonly<Record<string, string>> = {
  synth: `verimesh model synth --out DIR [options]

Writes a seeded random model (marked synthetic in its manifest) with the byte
tokenizer. The same options give the same bytes and the same root.

Options:
  --out DIR         package directory to create (must be empty or absent)
  --dims PRESET     ${Object.keys(DIM_PRESETS).join(' | ')} (default tiny)
  --dim N --layers N --heads N --kv-heads N --head-dim N --ffn N --vocab N --context N
                    custom dimensions; each overrides the preset's (vocab ≥ 259)
  --seed N          uint32 seed (default 1)
  --parts K         number of shards, balanced by bytes (default 1)
  --rope STYLE      adjacent (llama.cpp NORM, default) | halves (NEOX)
  --bias            give q/k/v biases, as Qwen-class models have
  --name NAME       name in the manifest
  --force           replace a package already in DIR
`,
  import: `verimesh model import FILE.gguf --out DIR [options]

Imports a llama- or qwen2-architecture GGUF whose tensors are F32, F16, BF16 or
Q8_0: dequantizes each tensor, quantizes it to the integer engine's format and
writes the package, one tensor at a time. Progress goes to stderr.

Options:
  --out DIR         package directory to create
  --parts K         number of shards, balanced by bytes (default 1)
  --context N       positions of the RoPE table (default min(context_length, 2048))
  --name NAME       name in the manifest (default general.name)
  --force           replace a package already in DIR
`,
  info: `verimesh model info DIR [--verify] [--json]

Prints the package's name, source, dimensions, parameters, bytes, shard ranges and
Merkle roots. The manifest's roots are always recomputed from its tensor hashes.

Options:
  --verify          also re-hash every byte of every file (exit 1 on any mismatch)
  --json            print the manifest without its tensor lists, as JSON
`,
  shard: `verimesh model shard DIR --parts K --out DIR2

Rewrites the package with new contiguous layer ranges (balanced by bytes), copying
and re-verifying every tensor; the tensors and the weights root stay the same, the
shard roots and the model root change with the cut.

Options:
  --parts K         number of shards (1 ≤ K ≤ layers)
  --ranges LIST     explicit ranges instead, e.g. 0-3,3-8
  --out DIR2        new package directory
  --force           replace a package already in DIR2
`,
  'export-gguf': `verimesh model export-gguf DIR --out FILE.gguf [--type q8_0|f16|bf16|f32]

Writes the package as a llama-architecture GGUF v3 (weights dequantized, then stored
as --type; norms and biases F32) with its tokenizer, for llama.cpp.

Options:
  --out FILE        GGUF file to write
  --type TYPE       q8_0 (default) | f16 | bf16 | f32
`
}


type Values = FlagValues

function parse (cmd: string, args: string[], options: FlagSpec, positionals: number): { values: Values, positionals: string[] } | undefined {
  return parseFlags(HELP[cmd]!, args, options, positionals)
}

function int (v: Values, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const x = v[name]
  if (x === undefined) return undefined
  const n = Number(x)
  if (typeof x !== 'string' || !/^\d+$/.test(x) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} expects an integer in [${min}, ${max}], got '${String(x)}'`)
  return n
}

function parseRanges (s: string): Array<[number, number]> {
  return s.split(',').map((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part.trim())
    if (m === null) throw new UsageError(`--ranges expects a list like 0-3,3-8, got '${s}'`)
    return [Number(m[1]), Number(m[2])] as [number, number]
  })
}

function mb (bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`
}

/** Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise. */
class Progress {
  private last = 0
  private readonly tty = process.stderr.isTTY === true
  private shown = false

  update (line: string, force = false): void {
    const now = performance.now()
    if (!force && now - this.last < (this.tty ? 100 : 2000)) return
    this.last = now
    this.shown = true
    process.stderr.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`)
  }

  done (): void {
    if (this.tty && this.shown) process.stderr.write('\n')
  }
}

function importLine (p: ImportProgress): string {
  const rate = p.seconds > 0 ? `${(p.bytes / 1e6 / p.seconds).toFixed(1)} MB/s` : ''
  if (p.phase === 'hash') return `hashing ${mb(p.bytes)} / ${mb(p.total)}  ${rate}`
  return `tensor ${p.done}/${p.total}  ${p.tensor ?? ''}  read ${mb(p.bytes)}  ${rate}`
}

function dimsOf (v: Values): { dims: ModelDims, preset?: string } {
  const presetName = str(v, 'dims')
  const custom = ['dim', 'layers', 'heads', 'kv-heads', 'head-dim', 'ffn', 'vocab', 'context'].some((k) => v[k] !== undefined)
  const base = presetName === undefined ? (custom ? undefined : DIM_PRESETS.tiny) : DIM_PRESETS[presetName]
  if (presetName !== undefined && base === undefined) throw new UsageError(`--dims must be one of ${Object.keys(DIM_PRESETS).join(', ')}, got '${presetName}'`)
  const pick = (k: string, fallback: number | undefined): number => {
    const n = int(v, k, 1) ?? fallback
    if (n === undefined) throw new UsageError(`custom dimensions need --${k} (or start from a --dims preset)`)
    return n
  }
  const dim = pick('dim', base?.dim)
  const heads = pick('heads', base?.heads)
  const headDimDefault = v.dim !== undefined || v.heads !== undefined ? Math.floor(dim / heads) : base?.headDim
  const dims: ModelDims = {
    vocab: pick('vocab', base?.vocab),
    dim,
    layers: pick('layers', base?.layers),
    heads,
    kvHeads: pick('kv-heads', v.heads !== undefined ? heads : base?.kvHeads ?? heads),
    headDim: pick('head-dim', headDimDefault),
    ffn: pick('ffn', base?.ffn),
    context: pick('context', base?.context ?? 256)
  }
  return presetName !== undefined && !custom ? { dims, preset: presetName } : { dims }
}

async function synthCommand (args: string[]): Promise<number> {
  const p = parse('synth', args, {
    out: { type: 'string' }, dims: { type: 'string' }, dim: { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' },
    'kv-heads': { type: 'string' }, 'head-dim': { type: 'string' }, ffn: { type: 'string' }, vocab: { type: 'string' }, context: { type: 'string' },
    seed: { type: 'string' }, parts: { type: 'string' }, rope: { type: 'string' }, bias: { type: 'boolean' }, name: { type: 'string' }, force: { type: 'boolean' }
  }, 0)
  if (p === undefined) return 0
  const v = p.values
  const out = str(v, 'out', true)
  const { dims, preset } = dimsOf(v)
  const rope = str(v, 'rope') ?? 'adjacent'
  if (rope !== 'adjacent' && rope !== 'halves') throw new UsageError(`--rope must be adjacent or halves, got '${rope}'`)
  const seed = int(v, 'seed', 0, 0xffffffff) ?? 1
  const t0 = performance.now()
  const m = await synthPackage(out, {
    dims,
    seed,
    ropeStyle: rope,
    bias: v.bias === true,
    parts: int(v, 'parts', 1) ?? 1,
    ...(preset !== undefined ? { preset } : {}),
    ...(str(v, 'name') !== undefined ? { name: str(v, 'name')! } : {}),
    overwrite: v.force === true
  })
  process.stdout.write(`wrote synthetic model ${m.name} to ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n${summary(m)}`)
  return 0
}

async function importCommand (args: string[]): Promise<number> {
  const p = parse('import', args, { out: { type: 'string' }, parts: { type: 'string' }, context: { type: 'string' }, name: { type: 'string' }, force: { type: 'boolean' } }, 1)
  if (p === undefined) return 0
  const v = p.values
  const file = p.positionals[0]!
  const out = str(v, 'out', true)
  const progress = new Progress()
  const t0 = performance.now()
  const context = int(v, 'context', 1)
  try {
    const m = await importGguf(file, out, {
      parts: int(v, 'parts', 1) ?? 1,
      ...(context !== undefined ? { context } : {}),
      ...(str(v, 'name') !== undefined ? { name: str(v, 'name')! } : {}),
      overwrite: v.force === true,
      onProgress: (pr) => progress.update(importLine(pr), pr.done === pr.total)
    })
    progress.done()
    process.stdout.write(`imported ${file} to ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n${summary(m)}`)
    return 0
  } finally {
    progress.done()
  }
}

function summary (m: Manifest): string {
  const d = m.config.dims
  const total = m.shards.reduce((n, s) => n + s.bytes, 0)
  const src = m.source
  const source = src === undefined ? '' : src.kind === 'synthetic'
    ? `synthetic (seed ${src.seed}${src.preset !== undefined ? `, preset ${src.preset}` : ''})`
    : `${src.file} (${src.architecture}, sha256 ${src.sha256}, ${mb(src.bytes)}, ${Object.entries(src.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ')})`
  const lines = [
    `name:        ${m.name}${m.synthetic === true ? ' [synthetic]' : ''}`,
    ...(source !== '' ? [`source:      ${source}`] : []),
    `format:      ${m.format}`,
    `dims:        vocab ${d.vocab}, dim ${d.dim}, layers ${d.layers}, heads ${d.heads} (kv ${d.kvHeads}, head ${d.headDim}), ffn ${d.ffn}, context ${d.context}`,
    `rope:        ${m.config.ropeStyle}, theta ${m.config.ropeTheta}; eps ${(m.config.epsQ32 / 2 ** 32).toPrecision(3)}`,
    `tokenizer:   ${m.tokenizer.type}, ${m.tokenizer.vocab} tokens, sha256 ${m.tokenizer.hash}`,
    `parameters:  ${parameterCount(m).toLocaleString('en-US')}`,
    `bytes:       ${mb(total)} in ${m.shards.length} shard${m.shards.length === 1 ? '' : 's'}`,
    ...m.shards.map((s) => `  shard ${s.index}:  layers [${s.layers[0]}, ${s.layers[1]})  ${mb(s.bytes).padStart(10)}  ${s.tensors.length} tensors  ${s.file}  root ${s.root}`),
    `weights root: ${m.weightsRoot}`,
    `root:        ${m.root}`
  ]
  return lines.join('\n') + '\n'
}

async function infoCommand (args: string[]): Promise<number> {
  const p = parse('info', args, { verify: { type: 'boolean' }, json: { type: 'boolean' } }, 1)
  if (p === undefined) return 0
  const dir = p.positionals[0]!
  const m = await readManifest(dir)
  if (p.values.json === true) {
    const { shards, ...rest } = m
    process.stdout.write(JSON.stringify({ ...rest, shards: shards.map(({ tensors, ...s }) => ({ ...s, tensors: tensors.length })) }, null, 2) + '\n')
  } else {
    process.stdout.write(summary(m))
  }
  if (p.values.verify !== true) return 0
  const progress = new Progress()
  const r = await verifyPackage(dir, { onShard: (i, n) => progress.update(`verifying shard ${i + 1}/${n}`, true) })
  progress.done()
  if (r.problems.length > 0) {
    for (const e of r.problems) process.stderr.write(`verimesh model: ${e.code}: ${e.message}\n`)
    process.stderr.write(`verimesh model: ${dir} FAILED verification (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})\n`)
    return 1
  }
  process.stdout.write(`verified:    every byte of ${mb(r.bytes)} in ${r.seconds.toFixed(2)} s (${(r.bytes / 1e6 / Math.max(r.seconds, 1e-9)).toFixed(0)} MB/s): OK\n`)
  return 0
}

async function shardCommand (args: string[]): Promise<number> {
  const p = parse('shard', args, { parts: { type: 'string' }, ranges: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } }, 1)
  if (p === undefined) return 0
  const v = p.values
  const out = str(v, 'out', true)
  const parts = int(v, 'parts', 1)
  const ranges = str(v, 'ranges')
  if ((parts === undefined) === (ranges === undefined)) throw new UsageError('give exactly one of --parts and --ranges')
  const progress = new Progress()
  const t0 = performance.now()
  let bytes = 0
  const m = await reshard(p.positionals[0]!, parts ?? parseRanges(ranges!), out, {
    overwrite: v.force === true,
    onTensor: (done, total, b) => {
      bytes += b
      const s = (performance.now() - t0) / 1000
      progress.update(`tensor ${done}/${total}  ${mb(bytes)}  ${s > 0 ? (bytes / 1e6 / s).toFixed(1) : '-'} MB/s`, done === total)
    }
  })
  progress.done()
  process.stdout.write(`resharded into ${m.shards.length} shards in ${out}\n${summary(m)}`)
  return 0
}

async function exportCommand (args: string[]): Promise<number> {
  const p = parse('export-gguf', args, { out: { type: 'string' }, type: { type: 'string' } }, 1)
  if (p === undefined) return 0
  const out = str(p.values, 'out', true)
  const type = str(p.values, 'type') ?? 'q8_0'
  if (!['q8_0', 'f16', 'bf16', 'f32'].includes(type)) throw new UsageError(`--type must be q8_0, f16, bf16 or f32, got '${type}'`)
  const progress = new Progress()
  const r = await exportGguf(p.positionals[0]!, out, {
    type: type as ExportType,
    onTensor: (done, total, name, bytes, s) => progress.update(`tensor ${done}/${total}  ${name}  ${mb(bytes)}  ${s > 0 ? (bytes / 1e6 / s).toFixed(1) : '-'} MB/s`, done === total)
  })
  progress.done()
  const size = (await stat(out)).size
  process.stdout.write(`wrote ${out}: ${r.tensors} tensors, ${mb(size)} (llama architecture, ${type})\n`)
  return 0
}

export async function runModelCommand (argv: string[]): Promise<number> {
  return await runCommandGroup({
    name: 'model',
    usage: MODEL_USAGE,
    help: HELP,
    commands: { synth: synthCommand, import: importCommand, info: infoCommand, shard: shardCommand, 'export-gguf': exportCommand },
    fullHelpOnUsageError: true
  }, argv)
}
