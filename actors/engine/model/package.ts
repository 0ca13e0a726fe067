// The model package (docs/model-format.md): a directory with manifest.json, tokenizer.json
// and one weight file per shard. Readers trust nothing but the manifest's root: every
// byte they hand to an engine has been hashed and compared first.

import { mkdir, open, readFile, rename, rm, writeFile, readdir, type FileHandle } from 'node:fs/promises'
import { createHash, type Hash } from 'node:crypto'
import path from 'node:path'
import { VerimeshError } from '../../../runtime/errors.js'
import type { ModelConfig, ShardWeights } from '../int/types.js'
import { canonicalJson, isHash, merkleRoot, modelRoot, sha256Hex, tensorLeaf, type TensorDtype } from './merkle.js'
import { alignUp, assertLittleEndian, bytesOf, IO_CHUNK, readExactly, writeAll } from './fileio.js'
import { assembleShard, dtypeSize, shardTensors, shardTensorSpecs, type TensorData, type TensorSpec } from './tensors.js'
import { tokenizerVocab, validateTokenizerSpec, type TokenizerSpec } from './tokenizer-spec.js'
import { createTokenizer, type Tokenizer } from './tokenizer.js'

export const FORMAT = 'verimesh-model/1'
export const SHARD_MAGIC = 'VMW1'
export const ALIGN = 64
export const MANIFEST_FILE = 'manifest.json'
export const TOKENIZER_FILE = 'tokenizer.json'

export interface ManifestTensor {
  readonly name: string
  readonly dtype: TensorDtype
  readonly shape: readonly number[]
  /** Absolute byte offset in the shard file, a multiple of 64. */
  readonly offset: number
  readonly bytes: number
  /** sha256 of the data, hex. */
  readonly hash: string
}

export interface ManifestShard {
  readonly index: number
  readonly layers: readonly [start: number, end: number]
  readonly file: string
  /** Exact size of the file. */
  readonly bytes: number
  /** Merkle root over the tensor leaves in header order, hex. */
  readonly root: string
  readonly tensors: readonly ManifestTensor[]
}

export interface TokenizerRef {
  readonly file: string
  readonly type: TokenizerSpec['type']
  readonly vocab: number
  /** sha256 of tokenizer.json's bytes, hex. */
  readonly hash: string
}

export type ModelSource =
  | { readonly kind: 'synthetic', readonly seed: number, readonly preset?: string, readonly ropeStyle: 'adjacent' | 'halves', readonly bias: boolean }
  | { readonly kind: 'gguf', readonly file: string, readonly sha256: string, readonly bytes: number, readonly architecture: string, readonly name?: string, readonly tensorTypes: Readonly<Record<string, number>>, readonly ropeFreqs?: readonly number[] }

export interface Manifest {
  readonly format: typeof FORMAT
  readonly name: string
  readonly synthetic?: true
  readonly source?: ModelSource
  readonly config: ModelConfig
  /** sha256 of canonicalJson(config), hex. */
  readonly configHash: string
  readonly tokenizer: TokenizerRef
  readonly shards: readonly ManifestShard[]
  /** Merkle root over the shard roots. */
  readonly shardsRoot: string
  /**
   * Merkle root over every tensor leaf as a single shard would list it (rope once):
   * the same for every sharding of the same weights.
   */
  readonly weightsRoot: string
  /** sha256(0x02 ‖ configHash ‖ tokenizer.hash ‖ shardsRoot): the model's identity. */
  readonly root: string
}

// ---------------------------------------------------------------------------------------
// Layout and ranges

/** Sizes of what a shard holds, for balancing ranges by bytes. */
export function shardCosts (config: ModelConfig, hasBias: (linear: string) => boolean): { layer: (l: number) => number, first: number, last: number, always: number } {
  const L = config.dims.layers
  const all = shardTensorSpecs(config, [0, L], hasBias)
  let first = 0
  let last = 0
  let always = 0
  const perLayer = new Array<number>(L).fill(0)
  for (const t of all) {
    const m = /^blk\.(\d+)\./.exec(t.name)
    if (m !== null) perLayer[Number(m[1])]! += t.bytes
    else if (t.name === 'rope') always += t.bytes
    else if (t.name.startsWith('token_embd.')) first += t.bytes
    else last += t.bytes
  }
  return { layer: (l) => perLayer[l]!, first, last, always }
}

/**
 * Contiguous layer ranges for `parts` shards minimising the largest shard in bytes
 * (the first also holds the embedding, the last the output head); among those, the
 * most even in bytes, then in layer counts (least sums of squares); remaining ties give
 * earlier shards more layers, so 8 equal layers split 3+3+2.
 */
export function balancedRanges (layers: number, parts: number, cost?: { layer: (l: number) => number, first: number, last: number }): Array<[number, number]> {
  if (!Number.isInteger(parts) || parts < 1 || parts > layers) {
    throw new VerimeshError('MODEL_INVALID', `cannot cut ${layers} layers into ${parts} shards (1 ≤ parts ≤ layers)`, { layers, parts })
  }
  const c = cost ?? { layer: () => 1, first: 0, last: 0 }
  const prefix = [0]
  for (let l = 0; l < layers; l++) prefix.push(prefix[l]! + c.layer(l))
  const load = (a: number, b: number): number => prefix[b]! - prefix[a]! + (a === 0 ? c.first : 0) + (b === layers ? c.last : 0)
  // Dynamic programme over (k shards, first i layers) with a score per cut, compared
  // lexicographically: [largest shard, Σ (bytes / largest)², Σ layers²].
  type Score = [number, number, number]
  const less = (a: Score, b: Score): boolean => {
    for (let i = 0; i < 3; i++) {
      const tol = 1e-9 * Math.max(Math.abs(a[i]!), Math.abs(b[i]!))
      if (a[i]! < b[i]! - tol) return true
      if (a[i]! > b[i]! + tol) return false
    }
    return false
  }
  const solve = (cap: number, byMax: boolean): { best: Score | undefined, cut: number[][] } => {
    let best: Array<Score | undefined> = [[0, 0, 0], ...new Array<undefined>(layers).fill(undefined)]
    const cut: number[][] = [[]]
    for (let k = 1; k <= parts; k++) {
      const row = new Array<Score | undefined>(layers + 1).fill(undefined)
      const from = new Array<number>(layers + 1).fill(-1)
      for (let i = k; i <= layers; i++) {
        for (let j = i - 1; j >= k - 1; j--) {
          const prev = best[j]
          const seg = load(j, i)
          if (prev === undefined || seg > cap) continue
          const v: Score = [byMax ? Math.max(prev[0], seg) : 0, prev[1] + (seg / cap) ** 2, prev[2] + (i - j) ** 2]
          if (row[i] === undefined || less(v, row[i]!)) { row[i] = v; from[i] = j }
        }
      }
      best = row
      cut.push(from)
    }
    return { best: best[layers], cut }
  }
  // First the smallest possible maximum; then, among cuts under it, the most even (the
  // maximum leaves the comparison there: a prefix with a lower maximum is no better
  // once the final one is fixed).
  const maxLoad = solve(load(0, layers), true).best![0]
  const { cut } = solve(maxLoad, false)
  const ranges: Array<[number, number]> = []
  let end = layers
  for (let k = parts; k >= 1; k--) {
    const start = cut[k]![end]!
    ranges.unshift([start, end])
    end = start
  }
  return ranges
}

export function validateRanges (layers: number, ranges: ReadonlyArray<readonly [number, number]>): void {
  let next = 0
  for (const [a, b] of ranges) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a !== next || b <= a) {
      throw new VerimeshError('MODEL_INVALID', `shard ranges must be contiguous, non-empty and start at 0: got ${JSON.stringify(ranges)}`, { ranges })
    }
    next = b
  }
  if (next !== layers) throw new VerimeshError('MODEL_INVALID', `shard ranges cover layers [0, ${next}), the model has ${layers}`, { ranges, layers })
}

export function shardFileName (index: number): string {
  return `shard-${index}.vmw`
}

// ---------------------------------------------------------------------------------------
// Shard file writing

interface HeaderJson {
  format: string
  index: number
  layers: [number, number]
  tensors: Array<{ name: string, dtype: TensorDtype, shape: number[], offset: number, bytes: number, hash: string }>
  root: string
}

/** The header exactly as written: readers compare bytes, so key order is fixed here. */
function headerBytes (h: HeaderJson): Buffer {
  const ordered: HeaderJson = {
    format: h.format,
    index: h.index,
    layers: [h.layers[0], h.layers[1]],
    tensors: h.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], offset: t.offset, bytes: t.bytes, hash: t.hash })),
    root: h.root
  }
  return Buffer.from(JSON.stringify(ordered), 'utf8')
}

function headerOf (shard: ManifestShard): HeaderJson {
  return {
    format: FORMAT,
    index: shard.index,
    layers: [shard.layers[0], shard.layers[1]],
    tensors: shard.tensors.map((t) => ({ ...t, shape: [...t.shape] })),
    root: shard.root
  }
}

const ZERO_HASH = '0'.repeat(64)

/**
 * Writes one shard file tensor by tensor, in the planned order. Offsets are fixed up
 * front: hashes are fixed-width hex, so the header written after the data has exactly
 * the length of the placeholder written before it.
 */
export class ShardFileWriter {
  private next = 0
  private readonly hashes: string[] = []
  private finished = false

  private constructor (
    private readonly fh: FileHandle,
    private readonly tmpPath: string,
    private readonly finalPath: string,
    readonly index: number,
    readonly range: readonly [number, number],
    readonly layout: readonly ManifestTensor[],
    readonly fileBytes: number
  ) {}

  static async create (dir: string, index: number, range: readonly [number, number], specs: readonly TensorSpec[]): Promise<ShardFileWriter> {
    assertLittleEndian()
    const placeholder: HeaderJson = {
      format: FORMAT,
      index,
      layers: [range[0], range[1]],
      tensors: specs.map((s) => ({ name: s.name, dtype: s.dtype, shape: [...s.shape], offset: 0, bytes: s.bytes, hash: ZERO_HASH })),
      root: ZERO_HASH
    }
    // Offsets change the header's length, which moves the offsets: iterate to a fixed point.
    let offsets: number[] = []
    for (let iter = 0; ; iter++) {
      const len = headerBytes(placeholder).length
      let pos = alignUp(8 + len, ALIGN)
      const next = specs.map((s) => { const o = pos; pos = alignUp(pos + s.bytes, ALIGN); return o })
      if (next.every((o, i) => o === offsets[i])) break
      offsets = next
      placeholder.tensors.forEach((t, i) => { t.offset = offsets[i]! })
      if (iter > 8) throw new VerimeshError('INTERNAL', 'shard header layout did not converge')
    }
    const layout = placeholder.tensors.map((t) => ({ ...t }))
    const last = layout[layout.length - 1]
    const fileBytes = last === undefined ? alignUp(8 + headerBytes(placeholder).length, ALIGN) : last.offset + last.bytes
    const finalPath = path.join(dir, shardFileName(index))
    const tmpPath = `${finalPath}.partial`
    const fh = await open(tmpPath, 'w')
    try {
      await fh.truncate(fileBytes) // zero padding everywhere a tensor is not written
    } catch (err) {
      await fh.close()
      throw err
    }
    return new ShardFileWriter(fh, tmpPath, finalPath, index, range, layout, fileBytes)
  }

  /** The next tensor to write, or undefined when all are written. */
  get pending (): ManifestTensor | undefined {
    return this.layout[this.next]
  }

  async write (name: string, data: TensorData | Uint8Array): Promise<void> {
    await this.writeFrom(name, [bytesOf(data)])
  }

  /** Writes the next tensor from chunks whose lengths add up to its size. */
  async writeFrom (name: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<string> {
    const t = this.layout[this.next]
    if (t === undefined || t.name !== name) {
      throw new VerimeshError('INTERNAL', `shard ${this.index}: expected tensor ${t?.name ?? '(none)'}, got ${name}`)
    }
    const h = createHash('sha256')
    let written = 0
    for await (const chunk of chunks) {
      if (written + chunk.length > t.bytes) throw new VerimeshError('INTERNAL', `tensor ${name}: more than ${t.bytes} bytes written`)
      h.update(chunk)
      await writeAll(this.fh, chunk, t.offset + written)
      written += chunk.length
    }
    if (written !== t.bytes) throw new VerimeshError('INTERNAL', `tensor ${name}: ${written} bytes written, ${t.bytes} expected`)
    const hex = h.digest('hex')
    this.hashes.push(hex)
    this.next++
    return hex
  }

  async finish (): Promise<ManifestShard> {
    if (this.next !== this.layout.length) throw new VerimeshError('INTERNAL', `shard ${this.index}: ${this.layout.length - this.next} tensors not written, next is ${this.pending?.name ?? ''}`)
    const tensors = this.layout.map((t, i) => ({ ...t, hash: this.hashes[i]! }))
    const root = shardRootOf(tensors).toString('hex')
    const shard: ManifestShard = {
      index: this.index,
      layers: [this.range[0], this.range[1]],
      file: shardFileName(this.index),
      bytes: this.fileBytes,
      root,
      tensors
    }
    const header = headerBytes(headerOf(shard))
    const prefix = Buffer.alloc(8)
    prefix.write(SHARD_MAGIC, 0, 'latin1')
    prefix.writeUInt32LE(header.length, 4)
    await writeAll(this.fh, prefix, 0)
    await writeAll(this.fh, header, 8)
    await this.fh.sync()
    await this.fh.close()
    this.finished = true
    await rename(this.tmpPath, this.finalPath)
    return shard
  }

  async abort (): Promise<void> {
    if (this.finished) return
    this.finished = true
    await this.fh.close().catch(() => {})
    await rm(this.tmpPath, { force: true })
  }
}

function shardRootOf (tensors: readonly ManifestTensor[]): Buffer {
  return merkleRoot(tensors.map((t) => tensorLeaf(t, Buffer.from(t.hash, 'hex'))))
}

// ---------------------------------------------------------------------------------------
// Manifest

export interface PackageHead {
  readonly name: string
  readonly config: ModelConfig
  readonly tokenizer: TokenizerSpec
  readonly synthetic?: boolean
  readonly source?: ModelSource
}

/** Creates `dir` (which must not hold a package yet unless `overwrite`). */
export async function preparePackageDir (dir: string, overwrite = false): Promise<void> {
  await mkdir(dir, { recursive: true })
  const entries = await readdir(dir)
  if (entries.length === 0) return
  if (!overwrite) throw new VerimeshError('MODEL_INVALID', `${dir} is not empty; choose a new directory`, { dir })
  await removePackageFiles(dir)
}

/** Removes what a failed write left in `dir` (never other files). */
export async function removePackageFiles (dir: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch {
    return
  }
  for (const e of entries) {
    if (e === MANIFEST_FILE || e === TOKENIZER_FILE || e === `${MANIFEST_FILE}.partial` || /^shard-\d+\.vmw(\.partial)?$/.test(e)) await rm(path.join(dir, e), { force: true })
  }
}

/** Runs the body of a package write; on failure leaves no half-written package behind. */
export async function cleanOnFailure<T> (dir: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (err) {
    await removePackageFiles(dir)
    throw err
  }
}

export async function writeTokenizerFile (dir: string, spec: TokenizerSpec): Promise<TokenizerRef> {
  validateTokenizerSpec(spec)
  const bytes = Buffer.from(canonicalJson(spec), 'utf8')
  await writeFile(path.join(dir, TOKENIZER_FILE), bytes)
  return { file: TOKENIZER_FILE, type: spec.type, vocab: tokenizerVocab(spec), hash: sha256Hex(bytes) }
}

function weightsRootOf (config: ModelConfig, shards: readonly ManifestShard[]): Buffer {
  const byName = new Map<string, ManifestTensor>()
  for (const s of shards) for (const t of s.tensors) if (!byName.has(t.name)) byName.set(t.name, t)
  const order = shardTensorSpecs(config, [0, config.dims.layers], (base) => byName.has(`${base}.b`))
  return merkleRoot(order.map((spec) => {
    const t = byName.get(spec.name)
    if (t === undefined) throw new VerimeshError('MODEL_INVALID', `no shard holds tensor ${spec.name}`, { tensor: spec.name })
    return tensorLeaf(t, Buffer.from(t.hash, 'hex'))
  }))
}

function manifestOf (head: Omit<PackageHead, 'tokenizer'>, tokenizer: TokenizerRef, shards: readonly ManifestShard[]): Manifest {
  const configHash = sha256Hex(Buffer.from(canonicalJson(head.config), 'utf8'))
  const shardsRoot = merkleRoot(shards.map((s) => Buffer.from(s.root, 'hex')))
  const root = modelRoot(Buffer.from(configHash, 'hex'), Buffer.from(tokenizer.hash, 'hex'), shardsRoot)
  return {
    format: FORMAT,
    name: head.name,
    ...(head.synthetic === true ? { synthetic: true as const } : {}),
    ...(head.source !== undefined ? { source: head.source } : {}),
    config: head.config,
    configHash,
    tokenizer,
    shards,
    shardsRoot: shardsRoot.toString('hex'),
    weightsRoot: weightsRootOf(head.config, shards).toString('hex'),
    root: root.toString('hex')
  }
}

/** Writes manifest.json last: a directory without one is an unfinished package. */
export async function writeManifest (dir: string, head: Omit<PackageHead, 'tokenizer'>, tokenizer: TokenizerRef, shards: readonly ManifestShard[]): Promise<Manifest> {
  const manifest = manifestOf(head, tokenizer, shards)
  const tmp = path.join(dir, `${MANIFEST_FILE}.partial`)
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n')
  await rename(tmp, path.join(dir, MANIFEST_FILE))
  return manifest
}

export interface WritePackageOptions extends PackageHead {
  /** Contiguous shards covering [0, layers), all with `config`. */
  readonly shards: readonly ShardWeights[]
  readonly overwrite?: boolean
}

export async function writePackage (dir: string, opts: WritePackageOptions): Promise<Manifest> {
  const L = opts.config.dims.layers
  validateRanges(L, opts.shards.map((s) => s.range))
  const configJson = canonicalJson(opts.config)
  for (const s of opts.shards) {
    if (canonicalJson(s.config) !== configJson) throw new VerimeshError('MODEL_INVALID', `shard [${s.range[0]}, ${s.range[1]}) has a different config than the package`, { range: s.range })
  }
  checkTokenizerFits(opts.tokenizer, opts.config)
  await preparePackageDir(dir, opts.overwrite)
  return await cleanOnFailure(dir, async () => {
    const tokenizer = await writeTokenizerFile(dir, opts.tokenizer)
    const shards: ManifestShard[] = []
    for (const [index, w] of opts.shards.entries()) {
      const tensors = shardTensors(w)
      const writer = await ShardFileWriter.create(dir, index, w.range, tensors)
      try {
        for (const t of tensors) await writer.write(t.name, t.data)
        shards.push(await writer.finish())
      } catch (err) {
        await writer.abort()
        throw err
      }
    }
    return await writeManifest(dir, opts, tokenizer, shards)
  })
}

export function checkTokenizerFits (spec: TokenizerSpec, config: ModelConfig): void {
  const v = tokenizerVocab(spec)
  if (v > config.dims.vocab) throw new VerimeshError('MODEL_INVALID', `the tokenizer has ${v} tokens, the model's vocabulary only ${config.dims.vocab}`, { tokenizer: v, vocab: config.dims.vocab })
}

// ---------------------------------------------------------------------------------------
// Reading and verification

function invalid (dir: string, what: string, ctx: Record<string, unknown> = {}): VerimeshError {
  return new VerimeshError('MODEL_INVALID', `${path.join(dir, MANIFEST_FILE)}: ${what}`, { dir, ...ctx })
}

function isInt (v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min
}

function checkConfig (dir: string, c: unknown): asserts c is ModelConfig {
  const o = c as Partial<ModelConfig> | undefined
  if (typeof o !== 'object' || o === null) throw invalid(dir, 'config is missing')
  if (o.architecture !== 'llama') throw invalid(dir, `config.architecture must be 'llama', got ${JSON.stringify(o.architecture)}`)
  if (o.ropeStyle !== 'adjacent' && o.ropeStyle !== 'halves') throw invalid(dir, `config.ropeStyle must be 'adjacent' or 'halves', got ${JSON.stringify(o.ropeStyle)}`)
  if (typeof o.ropeTheta !== 'number' || !(o.ropeTheta > 0)) throw invalid(dir, 'config.ropeTheta must be a positive number')
  if (!isInt(o.epsQ32, 1)) throw invalid(dir, 'config.epsQ32 must be a positive integer')
  const s = o.attnScale
  if (!Array.isArray(s) || s.length !== 2 || !isInt(s[0], 2 ** 29) || s[0] >= 2 ** 31 || !Number.isInteger(s[1])) throw invalid(dir, 'config.attnScale must be a scale [m, x] with 2^29 ≤ m < 2^31')
  const d = o.dims as unknown as Record<string, unknown> | undefined
  if (typeof d !== 'object' || d === null) throw invalid(dir, 'config.dims is missing')
  for (const k of ['vocab', 'dim', 'layers', 'heads', 'kvHeads', 'headDim', 'ffn', 'context']) {
    if (!isInt(d[k], 1)) throw invalid(dir, `config.dims.${k} must be a positive integer, got ${JSON.stringify(d[k])}`)
  }
  const dims = o.dims!
  if (dims.dim % 32 !== 0 || dims.headDim % 2 !== 0 || dims.heads % dims.kvHeads !== 0) throw invalid(dir, 'config.dims: dim must be a multiple of 32, headDim even, heads a multiple of kvHeads')
}

/**
 * Reads manifest.json, checks its structure against the config (every tensor a shard
 * must hold, with its type, shape and a valid layout) and recomputes every root from
 * the tensor hashes. Tampering with the manifest is caught here unless its root is
 * recomputed too, which `expectedRoot` (from a trusted source) catches.
 */
export async function readManifest (dir: string, opts: { expectedRoot?: string } = {}): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new VerimeshError('MODEL_INVALID', `cannot read ${file}: ${(err as Error).message}`, { dir }, { cause: err })
  }
  let m: Manifest
  try {
    m = JSON.parse(text) as Manifest
  } catch (err) {
    throw new VerimeshError('MODEL_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { dir }, { cause: err })
  }
  if (typeof m !== 'object' || m === null) throw invalid(dir, 'not an object')
  if (m.format !== FORMAT) throw invalid(dir, `format is ${JSON.stringify(m.format)}, expected '${FORMAT}'`)
  if (typeof m.name !== 'string') throw invalid(dir, 'name must be a string')
  checkConfig(dir, m.config)
  const tok = m.tokenizer as Partial<TokenizerRef> | undefined
  if (typeof tok !== 'object' || tok === null || typeof tok.file !== 'string' || !isHash(tok.hash) || !isInt(tok.vocab, 1) || path.basename(tok.file) !== tok.file) throw invalid(dir, 'tokenizer must be { file, type, vocab, hash }')
  if (!Array.isArray(m.shards) || m.shards.length === 0) throw invalid(dir, 'shards must be a non-empty array')
  m.shards.forEach((s, i) => {
    if (typeof s !== 'object' || s === null || s.index !== i) throw invalid(dir, `shards[${i}].index must be ${i}`)
    if (!Array.isArray(s.layers) || s.layers.length !== 2) throw invalid(dir, `shards[${i}].layers must be [start, end)`)
    if (s.file !== shardFileName(i)) throw invalid(dir, `shards[${i}].file must be ${shardFileName(i)}`)
    if (!isInt(s.bytes) || !isHash(s.root) || !Array.isArray(s.tensors)) throw invalid(dir, `shards[${i}] needs bytes, root and tensors`)
  })
  try {
    validateRanges(m.config.dims.layers, m.shards.map((s) => s.layers))
  } catch (err) {
    throw invalid(dir, (err as Error).message)
  }
  for (const s of m.shards) checkShardLayout(dir, m.config, s)

  const corrupt = (what: string, expected: string, actual: string): VerimeshError =>
    new VerimeshError('MODEL_CORRUPT', `${file}: ${what} does not match its contents: expected ${expected}, actual ${actual}`, { dir, what, expected, actual })
  const configHash = sha256Hex(Buffer.from(canonicalJson(m.config), 'utf8'))
  if (m.configHash !== configHash) throw corrupt('configHash', String(m.configHash), configHash)
  for (const s of m.shards) {
    const root = shardRootOf(s.tensors).toString('hex')
    if (root !== s.root) throw corrupt(`shard ${s.index} root`, s.root, root)
  }
  const again = manifestOf(m, m.tokenizer, m.shards)
  if (m.shardsRoot !== again.shardsRoot) throw corrupt('shardsRoot', String(m.shardsRoot), again.shardsRoot)
  if (m.weightsRoot !== again.weightsRoot) throw corrupt('weightsRoot', String(m.weightsRoot), again.weightsRoot)
  if (m.root !== again.root) throw corrupt('root', String(m.root), again.root)
  if (opts.expectedRoot !== undefined && opts.expectedRoot !== m.root) {
    throw new VerimeshError('MODEL_CORRUPT', `${file}: package root ${m.root} is not the expected ${opts.expectedRoot}`, { dir, expected: opts.expectedRoot, actual: m.root })
  }
  return m
}

function checkShardLayout (dir: string, config: ModelConfig, s: ManifestShard): void {
  const names = new Set(s.tensors.map((t) => t?.name))
  const expected = shardTensorSpecs(config, s.layers, (base) => names.has(`${base}.b`))
  const where = `shards[${s.index}] (${s.file})`
  if (s.tensors.length !== expected.length) {
    const missing = expected.filter((e) => !names.has(e.name)).map((e) => e.name)
    throw invalid(dir, `${where} lists ${s.tensors.length} tensors, layers [${s.layers[0]}, ${s.layers[1]}) need ${expected.length}${missing.length > 0 ? ` (missing ${missing.slice(0, 5).join(', ')})` : ''}`)
  }
  let end = 8
  expected.forEach((e, i) => {
    const t = s.tensors[i]!
    if (typeof t !== 'object' || t === null || t.name !== e.name) throw invalid(dir, `${where} tensor ${i} is ${JSON.stringify(t?.name)}, expected ${e.name}`, { tensor: e.name })
    if (t.dtype !== e.dtype || !Array.isArray(t.shape) || t.shape.join(',') !== e.shape.join(',') || t.bytes !== e.bytes) {
      throw invalid(dir, `${where} tensor ${t.name} is ${String(t.dtype)} [${String(t.shape)}] (${t.bytes} bytes), the config needs ${e.dtype} [${e.shape.join(', ')}] (${e.bytes} bytes)`, { tensor: t.name })
    }
    if (!isInt(t.offset) || t.offset % ALIGN !== 0 || t.offset < end) throw invalid(dir, `${where} tensor ${t.name} has a bad offset ${t.offset}`, { tensor: t.name })
    if (!isHash(t.hash)) throw invalid(dir, `${where} tensor ${t.name} has a bad hash`, { tensor: t.name })
    end = t.offset + t.bytes
  })
  if (s.bytes !== end) throw invalid(dir, `${where} says ${s.bytes} bytes, its last tensor ends at ${end}`)
}

/** Reads and checks the fixed header of a shard file against the manifest, byte for byte. */
async function checkShardHeader (fh: FileHandle, file: string, shard: ManifestShard): Promise<number> {
  const size = (await fh.stat()).size
  for (const t of shard.tensors) {
    if (t.offset + t.bytes > size) {
      throw new VerimeshError('MODEL_CORRUPT', `${file} is truncated: tensor ${t.name} needs bytes [${t.offset}, ${t.offset + t.bytes}) but the file has ${size}`, { file, tensor: t.name, size, expectedSize: shard.bytes })
    }
  }
  if (size !== shard.bytes) throw new VerimeshError('MODEL_CORRUPT', `${file} has ${size} bytes, the manifest says ${shard.bytes}`, { file, size, expectedSize: shard.bytes })
  const expected = headerBytes(headerOf(shard))
  const head = Buffer.alloc(8 + expected.length)
  await readExactly(fh, head, 0, file, 'the header')
  if (head.toString('latin1', 0, 4) !== SHARD_MAGIC) throw new VerimeshError('MODEL_CORRUPT', `${file} does not start with ${SHARD_MAGIC}`, { file })
  const len = head.readUInt32LE(4)
  if (len !== expected.length || !head.subarray(8).equals(expected)) {
    throw new VerimeshError('MODEL_CORRUPT', `${file}: its header does not match the manifest's description of shard ${shard.index}`, { file, headerLength: len, expectedLength: expected.length })
  }
  return 8 + len
}

/**
 * Streams a shard file in order: header, then each tensor (and the zero padding
 * between them) through `sink`, hashing as it goes. Any byte that differs from what
 * the manifest commits to is reported with the file, the tensor and both hashes.
 */
async function scanShard (dir: string, shard: ManifestShard, target: (t: ManifestTensor) => Uint8Array | undefined, scratch: Buffer): Promise<void> {
  const file = path.join(dir, shard.file)
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch (err) {
    throw new VerimeshError('MODEL_CORRUPT', `cannot open ${file}: ${(err as Error).message}`, { file }, { cause: err })
  }
  try {
    let pos = await checkShardHeader(fh, file, shard)
    for (const t of shard.tensors) {
      if (t.offset > pos) {
        const gap = scratch.subarray(0, t.offset - pos)
        await readExactly(fh, gap, pos, file, `the padding before ${t.name}`)
        if (gap.some((b) => b !== 0)) throw new VerimeshError('MODEL_CORRUPT', `${file}: non-zero padding before tensor ${t.name}`, { file, tensor: t.name })
      }
      // Read straight into the tensor's own memory when loading; through scratch when only verifying.
      const into = target(t)
      const h: Hash = createHash('sha256')
      const step = into === undefined ? scratch.length : IO_CHUNK
      for (let at = 0; at < t.bytes; at += step) {
        const n = Math.min(step, t.bytes - at)
        const chunk = into === undefined ? scratch.subarray(0, n) : into.subarray(at, at + n)
        await readExactly(fh, chunk, t.offset + at, file, `tensor ${t.name}`)
        h.update(chunk)
      }
      const actual = h.digest('hex')
      if (actual !== t.hash) {
        throw new VerimeshError('MODEL_CORRUPT', `${file}: tensor ${t.name} is corrupt: expected sha256 ${t.hash}, actual ${actual}`, { file, tensor: t.name, expected: t.hash, actual })
      }
      pos = t.offset + t.bytes
    }
  } finally {
    await fh.close()
  }
}

function scratchBuffer (): Buffer {
  return Buffer.allocUnsafe(Math.min(IO_CHUNK, 4 * 1024 * 1024))
}

export interface LoadOptions {
  /** A manifest already read (and so checked) by readManifest. */
  readonly manifest?: Manifest
  readonly expectedRoot?: string
}

/**
 * Loads shard `index`, verifying every tensor's hash (and so the shard root the
 * manifest's root commits to). Each tensor is read straight into its own typed array:
 * memory is the size of the shard plus a small scratch buffer.
 */
export async function loadShard (dir: string, index: number, opts: LoadOptions = {}): Promise<ShardWeights> {
  const manifest = opts.manifest ?? await readManifest(dir, opts)
  if (opts.expectedRoot !== undefined && manifest.root !== opts.expectedRoot) {
    throw new VerimeshError('MODEL_CORRUPT', `package root ${manifest.root} is not the expected ${opts.expectedRoot}`, { dir, expected: opts.expectedRoot, actual: manifest.root })
  }
  const shard = manifest.shards[index]
  if (shard === undefined) throw new VerimeshError('MODEL_INVALID', `the package has ${manifest.shards.length} shards, no shard ${index}`, { dir, index })
  const tensors = new Map<string, TensorData>()
  await scanShard(dir, shard, (t) => {
    const n = t.bytes / dtypeSize(t.dtype)
    const data = t.dtype === 'i8' ? new Int8Array(n) : new Int32Array(n)
    tensors.set(t.name, data)
    return bytesOf(data)
  }, scratchBuffer())
  return assembleShard(manifest.config, shard.layers, tensors)
}

export interface VerifyReport {
  readonly root: string
  readonly bytes: number
  readonly seconds: number
  /** One entry per failure (tokenizer, then shards); empty when the package is intact. */
  readonly problems: readonly VerimeshError[]
}

/** Re-hashes every byte of the package against its manifest. */
export async function verifyPackage (dir: string, opts: { expectedRoot?: string, onShard?: (index: number, of: number) => void } = {}): Promise<VerifyReport> {
  const t0 = performance.now()
  const manifest = await readManifest(dir, opts)
  const problems: VerimeshError[] = []
  try {
    await readTokenizerFile(dir, manifest)
  } catch (err) {
    problems.push(VerimeshError.from(err, 'MODEL_CORRUPT'))
  }
  const scratch = scratchBuffer()
  let bytes = 0
  for (const s of manifest.shards) {
    opts.onShard?.(s.index, manifest.shards.length)
    try {
      await scanShard(dir, s, () => undefined, scratch)
      bytes += s.bytes
    } catch (err) {
      problems.push(VerimeshError.from(err, 'MODEL_CORRUPT'))
    }
  }
  return { root: manifest.root, bytes, seconds: (performance.now() - t0) / 1000, problems }
}

/** The package's tokenizer, its file verified against the manifest. */
export async function loadTokenizer (dir: string, manifest?: Manifest): Promise<Tokenizer> {
  return createTokenizer(await readTokenizerFile(dir, manifest ?? await readManifest(dir)))
}

export async function readTokenizerFile (dir: string, manifest: Manifest): Promise<TokenizerSpec> {
  const file = path.join(dir, manifest.tokenizer.file)
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new VerimeshError('MODEL_CORRUPT', `cannot read ${file}: ${(err as Error).message}`, { file }, { cause: err })
  }
  const actual = sha256Hex(bytes)
  if (actual !== manifest.tokenizer.hash) {
    throw new VerimeshError('MODEL_CORRUPT', `${file} is corrupt: expected sha256 ${manifest.tokenizer.hash}, actual ${actual}`, { file, expected: manifest.tokenizer.hash, actual })
  }
  const spec = JSON.parse(bytes.toString('utf8')) as TokenizerSpec
  validateTokenizerSpec(spec)
  if (spec.type !== manifest.tokenizer.type || tokenizerVocab(spec) !== manifest.tokenizer.vocab) {
    throw new VerimeshError('MODEL_INVALID', `${file} is a ${spec.type} tokenizer of ${tokenizerVocab(spec)} tokens, the manifest says ${manifest.tokenizer.type} of ${manifest.tokenizer.vocab}`, { file })
  }
  return spec
}

// ---------------------------------------------------------------------------------------
// Resharding

export interface ReshardOptions {
  readonly overwrite?: boolean
  readonly onTensor?: (done: number, total: number, bytes: number) => void
}

/**
 * Rewrites the package under new layer ranges into `outDir`: `parts` shards balanced by
 * bytes, or explicit contiguous ranges. Tensors are copied in chunks and re-verified
 * against the source manifest on the way, so a corrupt source cannot produce a package
 * with fresh, valid-looking roots.
 */
export async function reshard (dir: string, target: number | ReadonlyArray<readonly [number, number]>, outDir: string, opts: ReshardOptions = {}): Promise<Manifest> {
  if (path.resolve(dir) === path.resolve(outDir)) throw new VerimeshError('MODEL_INVALID', 'reshard needs a different output directory', { dir })
  const src = await readManifest(dir)
  const config = src.config
  const L = config.dims.layers
  const where = new Map<string, { shard: ManifestShard, tensor: ManifestTensor }>()
  for (const s of src.shards) for (const t of s.tensors) if (!where.has(t.name)) where.set(t.name, { shard: s, tensor: t })
  const hasBias = (base: string): boolean => where.has(`${base}.b`)
  let ranges: Array<readonly [number, number]>
  if (typeof target === 'number') {
    ranges = balancedRanges(L, target, shardCosts(config, hasBias))
  } else {
    ranges = [...target]
    validateRanges(L, ranges)
  }
  const tokenizerSpec = await readTokenizerFile(dir, src)
  await preparePackageDir(outDir, opts.overwrite)
  return await cleanOnFailure(outDir, async () => {
    const tokenizer = await writeTokenizerFile(outDir, tokenizerSpec)
    if (tokenizer.hash !== src.tokenizer.hash) throw new VerimeshError('INTERNAL', 'tokenizer.json did not round-trip byte for byte')

    const handles = new Map<string, FileHandle>()
    const scratch = scratchBuffer()
    const total = ranges.reduce((n, r) => n + shardTensorSpecs(config, r, hasBias).length, 0)
    let done = 0
    const shards: ManifestShard[] = []
    try {
      for (const [index, range] of ranges.entries()) {
        const specs = shardTensorSpecs(config, range, hasBias)
        const writer = await ShardFileWriter.create(outDir, index, range, specs)
        try {
          for (const spec of specs) {
            const from = where.get(spec.name)
            if (from === undefined) throw new VerimeshError('MODEL_INVALID', `no shard of ${dir} holds tensor ${spec.name}`, { tensor: spec.name })
            const file = path.join(dir, from.shard.file)
            let fh = handles.get(file)
            if (fh === undefined) {
              fh = await open(file, 'r')
              handles.set(file, fh)
              await checkShardHeader(fh, file, from.shard)
            }
            const hash = await writer.writeFrom(spec.name, readChunks(fh, file, from.tensor, scratch))
            if (hash !== from.tensor.hash) {
              throw new VerimeshError('MODEL_CORRUPT', `${file}: tensor ${spec.name} is corrupt: expected sha256 ${from.tensor.hash}, actual ${hash}`, { file, tensor: spec.name, expected: from.tensor.hash, actual: hash })
            }
            opts.onTensor?.(++done, total, spec.bytes)
          }
          shards.push(await writer.finish())
        } catch (err) {
          await writer.abort()
          throw err
        }
      }
    } finally {
      for (const fh of handles.values()) await fh.close()
    }
    return await writeManifest(outDir, src, tokenizer, shards)
  })
}

async function * readChunks (fh: FileHandle, file: string, t: ManifestTensor, scratch: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < t.bytes; at += scratch.length) {
    const chunk = scratch.subarray(0, Math.min(scratch.length, t.bytes - at))
    await readExactly(fh, chunk, t.offset + at, file, `tensor ${t.name}`)
    yield chunk
  }
}

/** Total parameters (elements of weight tensors, not scales or the RoPE table). */
export function parameterCount (manifest: Manifest): number {
  let n = 0
  const seen = new Set<string>()
  for (const s of manifest.shards) {
    for (const t of s.tensors) {
      if (seen.has(t.name)) continue
      seen.add(t.name)
      if (t.name.endsWith('.q') || t.name.endsWith('_norm') || t.name.endsWith('.b')) n += t.shape.reduce((a, b) => a * b, 1)
    }
  }
  return n
}
