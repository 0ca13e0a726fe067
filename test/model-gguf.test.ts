import test from 'ava'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { isVerimeshError } from '../runtime/errors.js'
import { quantizeLinear, ropeTable } from '../actors/engine/int/quantize.js'
import { DIM_PRESETS, quantizeModel, sliceShard, synthFloatModel } from '../actors/engine/int/synth.js'
import { allocKv, runShard } from '../actors/engine/int/forward.js'
import type { FloatLayer, FloatLinear, FloatModel, ModelDims, ShardWeights } from '../actors/engine/int/types.js'
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloatTable, type GgufValue } from '../actors/engine/model/gguf.js'
import { GgufReader } from '../actors/engine/model/gguf-read.js'
import { quantizeQ8_0, writeGguf, type GgufTensorToWrite, type GgufWriteType } from '../actors/engine/model/gguf-write.js'
import { importGguf, ropeTableWithFactors } from '../actors/engine/model/gguf-import.js'
import { dequantizeLinear, exportGguf, halvesToAdjacentRows, writeFloatModelGguf } from '../actors/engine/model/gguf-export.js'
import { loadShard, readManifest, readTokenizerFile } from '../actors/engine/model/package.js'
import { synthPackage } from '../actors/engine/model/synth-package.js'
import { LINEARS } from '../actors/engine/model/tensors.js'
import { BYTE_TO_UNICODE, TokenType, type Gpt2TokenizerSpec, type LlamaTokenizerSpec } from '../actors/engine/model/tokenizer.js'

const DIMS: ModelDims = { ...DIM_PRESETS.tiny!, layers: 3, context: 64 }

async function tmp (): Promise<string> {
  return await mkdtemp(path.join(os.tmpdir(), 'verimesh-gguf-'))
}

/** A 259-token SentencePiece vocabulary: 3 specials and the 256 byte tokens. */
function llamaVocab (): LlamaTokenizerSpec {
  const tokens = ['<unk>', '<s>', '</s>']
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(TokenType.BYTE) }
  return { type: 'llama', tokens, scores: tokens.map((_, i) => i === 0 ? 0 : -i / 4), types, bos: 1, eos: 2, unk: 0, addBos: true, addEos: false, addSpacePrefix: true }
}

function gpt2Vocab (): Gpt2TokenizerSpec {
  const tokens = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', ...BYTE_TO_UNICODE]
  const types = tokens.map((_, i) => i < 3 ? TokenType.CONTROL : TokenType.NORMAL as number)
  return { type: 'gpt2', pre: 'qwen2', tokens, types, merges: [], bos: 0, eos: 2, addBos: false, addEos: false }
}

async function sha256File (file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex')
}

/** What import must produce: the GGUF's tensors as floats, quantized by quantize.ts. */
async function expectedFromGguf (file: string, context: number, tied: boolean, ropeStyle: 'adjacent' | 'halves'): Promise<ShardWeights> {
  const g = await GgufReader.open(file)
  try {
    const f = async (name: string): Promise<Float32Array> => await g.readF32(g.tensor(name)!)
    const lin = async (name: string, rows: number, cols: number): Promise<FloatLinear> => {
      const bias = g.tensor(`${name}.bias`)
      return { rows, cols, w: await f(`${name}.weight`), ...(bias !== undefined ? { bias: await g.readF32(bias) } : {}) }
    }
    const d = { ...DIMS, context }
    const layers: FloatLayer[] = []
    for (let l = 0; l < d.layers; l++) {
      const qd = d.heads * d.headDim
      const kvd = d.kvHeads * d.headDim
      layers.push({
        attnNorm: await f(`blk.${l}.attn_norm.weight`),
        wq: await lin(`blk.${l}.attn_q`, qd, d.dim),
        wk: await lin(`blk.${l}.attn_k`, kvd, d.dim),
        wv: await lin(`blk.${l}.attn_v`, kvd, d.dim),
        wo: await lin(`blk.${l}.attn_output`, d.dim, qd),
        ffnNorm: await f(`blk.${l}.ffn_norm.weight`),
        wGate: await lin(`blk.${l}.ffn_gate`, d.ffn, d.dim),
        wUp: await lin(`blk.${l}.ffn_up`, d.ffn, d.dim),
        wDown: await lin(`blk.${l}.ffn_down`, d.dim, d.ffn)
      })
    }
    const embedding = await f('token_embd.weight')
    const model: FloatModel = {
      config: { dims: d, ropeStyle, ropeTheta: g.number(`${g.string('general.architecture')!}.rope.freq_base`)!, eps: g.number(`${g.string('general.architecture')!}.attention.layer_norm_rms_epsilon`)! },
      embedding,
      layers,
      outputNorm: await f('output_norm.weight'),
      output: tied ? { rows: d.vocab, cols: d.dim, w: embedding } : { rows: d.vocab, cols: d.dim, w: await f('output.weight') }
    }
    return quantizeModel(model)
  } finally {
    await g.close()
  }
}

async function loadAll (dir: string): Promise<ShardWeights[]> {
  const m = await readManifest(dir)
  return await Promise.all(m.shards.map(async (s) => await loadShard(dir, s.index, { manifest: m })))
}

/** Copies a GGUF tensor for tensor (raw bytes) with edits: the way to build bad files. */
async function rewriteGguf (src: string, dst: string, edit: { metadata?: (m: Array<[string, GgufValue]>) => Array<[string, GgufValue]>, tensors?: (t: GgufTensorToWrite[]) => GgufTensorToWrite[] }): Promise<void> {
  const g = await GgufReader.open(src)
  const raws = await Promise.all(g.tensors.map(async (t) => await g.readRaw(t)))
  let tensors: GgufTensorToWrite[] = g.tensors.map((t, i) => ({ name: t.name, dims: t.dims, ggmlType: t.type, raw: () => raws[i]! }))
  let metadata = [...g.metadata.entries()]
  await g.close()
  if (edit.metadata !== undefined) metadata = edit.metadata(metadata)
  if (edit.tensors !== undefined) tensors = edit.tensors(tensors)
  await writeGguf(dst, { metadata, tensors })
}

// ---------------------------------------------------------------------------------------

test('half and bfloat16 conversions are exact and round to nearest even', (t) => {
  const table = halfToFloatTable()
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(table[h])) continue
    if (floatToHalf(table[h]!) !== h) { t.fail(`half 0x${h.toString(16)} does not round-trip`); return }
  }
  t.is(floatToHalf(1), 0x3c00)
  t.is(floatToHalf(-2), 0xc000)
  t.is(floatToHalf(65504), 0x7bff)
  t.is(floatToHalf(65520), 0x7c00) // halfway to the next power: rounds to infinity
  t.is(floatToHalf(2 ** -24), 1)
  t.is(floatToHalf(2 ** -25), 0) // tie to even
  t.is(floatToHalf(3 * 2 ** -25), 2) // tie to even
  t.is(floatToHalf(1 + 2 ** -11), 0x3c00) // tie to even
  t.is(floatToHalf(1 + 3 * 2 ** -11), 0x3c02)
  t.true(Number.isNaN(table[floatToHalf(NaN)]!))
  t.is(floatToBf16(1), 0x3f80)
  t.is(bf16ToFloat(0xc0a0), -5)
  t.is(floatToBf16(1 + 2 ** -8), 0x3f80) // tie to even
})

test('Q8_0 follows ggml: d = amax/127 as fp16, q = round half away from zero', (t) => {
  const x = new Float32Array(64)
  for (let i = 0; i < 64; i++) x[i] = Math.sin(i) * (i < 32 ? 1 : 1000)
  x[5] = 0
  const out = Buffer.alloc(68)
  quantizeQ8_0(x, out)
  const half = halfToFloatTable()
  for (let b = 0; b < 2; b++) {
    const d = half[out.readUInt16LE(b * 34)]!
    const amax = Math.max(...Array.from(x.subarray(b * 32, b * 32 + 32), Math.abs))
    t.is(out.readUInt16LE(b * 34), floatToHalf(amax / 127))
    for (let j = 0; j < 32; j++) {
      const q = out.readInt8(b * 34 + 2 + j)
      t.true(Math.abs(q * d - x[b * 32 + j]!) <= d * 0.51 + 1e-6)
    }
  }
  t.is(out.readInt8(2 + 5), 0)
})

test('GGUF writer and reader agree on every metadata type, alignment and tensor type', async (t) => {
  const dir = await tmp()
  try {
    const metadata: Array<[string, GgufValue]> = [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['t.u8', { type: 'u8', value: 255 }], ['t.i8', { type: 'i8', value: -128 }],
      ['t.u16', { type: 'u16', value: 65535 }], ['t.i16', { type: 'i16', value: -32768 }],
      ['t.u32', { type: 'u32', value: 4294967295 }], ['t.i32', { type: 'i32', value: -2147483648 }],
      ['t.f32', { type: 'f32', value: 0.5 }], ['t.f64', { type: 'f64', value: Math.PI }],
      ['t.u64', { type: 'u64', value: 2n ** 64n - 1n }], ['t.i64', { type: 'i64', value: -(2n ** 63n) }],
      ['t.bool', { type: 'bool', value: true }], ['t.str', { type: 'string', value: 'héllo ▁ 🙂' }],
      ['t.arr', { type: 'array', itemType: 'string', value: ['a', '', 'ü'] }],
      ['t.arr32', { type: 'array', itemType: 'f32', value: [1.5, -2, 0] }],
      ['t.nested', { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'i32', value: [1, 2] }, { type: 'array', itemType: 'i32', value: [] }] }]
    ]
    const values = Float32Array.from({ length: 96 }, (_, i) => (i - 40) / 7)
    const types: GgufWriteType[] = ['F32', 'F16', 'BF16', 'Q8_0']
    for (const version of [2, 3] as const) {
      const file = path.join(dir, `v${version}.gguf`)
      await writeGguf(file, {
        metadata,
        version,
        alignment: 64,
        tensors: types.map((type) => ({ name: `x.${type}`, dims: [32, 3], type, data: () => values }))
      })
      const g = await GgufReader.open(file)
      t.is(g.version, version)
      t.is(g.alignment, 64)
      t.is(g.dataOffset % 64, 0)
      for (const [k, v] of metadata) t.deepEqual(g.get(k), v, k)
      t.deepEqual(g.get('general.alignment'), { type: 'u32', value: 64 })
      t.throws(() => g.number('t.u64'), { message: /does not fit a number/ })
      t.is(g.number('t.i32'), -2147483648)
      t.deepEqual(g.strings('t.arr'), ['a', '', 'ü'])
      const f32 = await g.readF32(g.tensor('x.F32')!)
      t.deepEqual(f32, values)
      const f16 = await g.readF32(g.tensor('x.F16')!)
      t.deepEqual(f16, values.map((v) => halfToFloatTable()[floatToHalf(v)]!))
      const bf = await g.readF32(g.tensor('x.BF16')!)
      t.deepEqual(bf, values.map((v) => bf16ToFloat(floatToBf16(v))))
      const q8 = await g.readF32(g.tensor('x.Q8_0')!)
      const raw = Buffer.alloc(3 * 34)
      quantizeQ8_0(values, raw)
      t.deepEqual(Buffer.from(await g.readRaw(g.tensor('x.Q8_0')!)), raw)
      for (let i = 0; i < 96; i++) t.true(Math.abs(q8[i]! - values[i]!) < 0.05)
      t.deepEqual(g.tensor('x.Q8_0')!.dims, [32, 3])
      await g.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

const MIXED: Readonly<Record<string, GgufWriteType>> = {
  token_embd: 'F16', attn_q: 'Q8_0', attn_k: 'F32', attn_v: 'BF16', attn_output: 'Q8_0', ffn_gate: 'F16', ffn_up: 'Q8_0', ffn_down: 'F32', output: 'Q8_0'
}
function mixedType (name: string): GgufWriteType {
  const key = name.replace(/^blk\.\d+\./, '').replace(/\.weight$/, '')
  return MIXED[key] ?? 'F32'
}

test('import of a llama GGUF with F32, F16, BF16 and Q8_0 tensors equals quantizing its floats directly', async (t) => {
  const dir = await tmp()
  try {
    const fm = synthFloatModel({ dims: DIMS, seed: 11 })
    const file = path.join(dir, 'mixed.gguf')
    await writeFloatModelGguf(file, fm, { name: 'mixed', typeOf: mixedType, tokenizer: llamaVocab() })
    const progress: string[] = []
    const m = await importGguf(file, path.join(dir, 'pkg'), { parts: 2, context: 32, onProgress: (p) => progress.push(`${p.phase} ${p.done}/${p.total}`) })
    t.is(m.name, 'mixed')
    t.is(m.synthetic, undefined)
    t.is(m.config.dims.context, 32)
    t.is(m.config.ropeStyle, 'adjacent')
    t.deepEqual(m.source, { kind: 'gguf', file: 'mixed.gguf', sha256: await sha256File(file), bytes: (await readFile(file)).length, architecture: 'llama', name: 'mixed', tensorTypes: { F16: 4, Q8_0: 10, F32: 13, BF16: 3 } })
    t.true(progress.includes(`tensors ${m.shards.reduce((n, s) => n + s.tensors.length, 0)}/${m.shards.reduce((n, s) => n + s.tensors.length, 0)}`))

    const expected = await expectedFromGguf(file, 32, false, 'adjacent')
    const shards = await loadAll(path.join(dir, 'pkg'))
    t.is(shards.length, 2)
    for (const s of shards) t.deepEqual(s, sliceShard(expected, s.range))
    // F32 tensors arrive unchanged; so their quantization equals quantizing the original.
    t.deepEqual(shards[0]!.layers[0]!.wk, quantizeLinear(fm.layers[0]!.wk))
    t.deepEqual(shards[0]!.rope, ropeTable({ ...DIMS, context: 32 }, 10000))
    // The tokenizer comes along.
    t.deepEqual(await readTokenizerFile(path.join(dir, 'pkg'), m), llamaVocab())
    // Default context: min(context_length, 2048).
    const full = await importGguf(file, path.join(dir, 'pkg-full'))
    t.is(full.config.dims.context, 64)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('import of a qwen2 GGUF: NEOX rope, q/k/v biases, tied output, byte-level BPE tokenizer', async (t) => {
  const dir = await tmp()
  try {
    const fm = synthFloatModel({ dims: DIMS, seed: 12, bias: true, ropeStyle: 'halves', ropeTheta: 1e6 })
    const file = path.join(dir, 'qwen.gguf')
    await writeFloatModelGguf(file, fm, { architecture: 'qwen2', typeOf: mixedType, tokenizer: gpt2Vocab(), tiedOutput: true, version: 2 })
    const m = await importGguf(file, path.join(dir, 'pkg'))
    t.is(m.config.ropeStyle, 'halves')
    t.is(m.config.ropeTheta, 1e6)
    t.is(m.tokenizer.type, 'gpt2')
    const [w] = await loadAll(path.join(dir, 'pkg'))
    t.deepEqual(w, await expectedFromGguf(file, 64, true, 'halves'))
    t.truthy(w!.layers[1]!.wq.bias)
    t.is(w!.layers[1]!.wo.bias, undefined)
    t.is(m.shards[0]!.tensors.filter((x) => x.name.endsWith('.b')).length, 3 * DIMS.layers)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('llama3 rope_freqs divide the frequencies; all-ones factors give quantize.ts\'s table exactly', async (t) => {
  const dims = { ...DIMS, context: 16 }
  t.deepEqual(ropeTableWithFactors(dims, 500000, new Float32Array(dims.headDim / 2).fill(1)), ropeTable(dims, 500000))
  const dir = await tmp()
  try {
    const fm = synthFloatModel({ dims, seed: 13, ropeTheta: 500000 })
    const factors = Float32Array.from({ length: dims.headDim / 2 }, (_, i) => 1 + i)
    const plain = path.join(dir, 'plain.gguf')
    await writeFloatModelGguf(plain, fm, { tokenizer: llamaVocab() })
    const file = path.join(dir, 'llama3.gguf')
    await rewriteGguf(plain, file, { tensors: (ts) => [{ name: 'rope_freqs.weight', dims: [factors.length], type: 'F32', data: () => factors }, ...ts] })
    const m = await importGguf(file, path.join(dir, 'pkg'))
    const [w] = await loadAll(path.join(dir, 'pkg'))
    t.deepEqual(w!.rope, ropeTableWithFactors(dims, 500000, factors))
    t.notDeepEqual(w!.rope, ropeTable(dims, 500000))
    t.deepEqual(m.source?.kind === 'gguf' ? m.source.ropeFreqs : undefined, Array.from(factors))
    // And export writes them back.
    await exportGguf(path.join(dir, 'pkg'), path.join(dir, 'back.gguf'), { type: 'f32' })
    const g = await GgufReader.open(path.join(dir, 'back.gguf'))
    t.deepEqual(await g.readF32(g.tensor('rope_freqs.weight')!), factors)
    await g.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('bad GGUFs are refused with clear errors', async (t) => {
  const dir = await tmp()
  try {
    const fm = synthFloatModel({ dims: DIMS, seed: 14 })
    const good = path.join(dir, 'good.gguf')
    await writeFloatModelGguf(good, fm, { tokenizer: llamaVocab(), typeOf: () => 'F16' })
    const out = (name: string): string => path.join(dir, name)
    const refuse = async (file: string, message: RegExp, code = 'MODEL_INVALID'): Promise<void> => {
      const err = await t.throwsAsync(importGguf(file, out(`${path.basename(file)}.pkg`)), { message })
      t.true(isVerimeshError(err, code as 'MODEL_INVALID'), err?.message)
    }

    const bytes = await readFile(good)
    await writeFile(out('magic.gguf'), Buffer.concat([Buffer.from('GGML'), bytes.subarray(4)]))
    await refuse(out('magic.gguf'), /not a GGUF file: magic is "GGML"/)
    const v1 = Buffer.from(bytes)
    v1.writeUInt32LE(1, 4)
    await writeFile(out('v1.gguf'), v1)
    await refuse(out('v1.gguf'), /version 1 is not supported/)
    await writeFile(out('empty.gguf'), Buffer.alloc(0))
    await refuse(out('empty.gguf'), /truncated/, 'MODEL_CORRUPT')

    // Truncated inside the tensor data: the first tensor cut off is named.
    const g = await GgufReader.open(good)
    const last = g.tensors[g.tensors.length - 1]!
    const cutAt = g.dataOffset + last.offset + 10
    const header = g.dataOffset
    await g.close()
    await writeFile(out('cut.gguf'), bytes.subarray(0, cutAt))
    await refuse(out('cut.gguf'), new RegExp(`truncated: tensor ${last.name.replaceAll('.', '\\.')}`), 'MODEL_CORRUPT')
    await writeFile(out('cut-header.gguf'), bytes.subarray(0, Math.floor(header / 2)))
    await refuse(out('cut-header.gguf'), /is truncated: reading/, 'MODEL_CORRUPT')

    // A Q4_K tensor (its 256-wide rows do not fit this model, but the type is what is wrong first).
    await rewriteGguf(good, out('q4k.gguf'), {
      tensors: (ts) => ts.map((x) => x.name === 'blk.1.attn_q.weight' ? { name: x.name, dims: [256, 16], ggmlType: 12, raw: () => new Uint8Array(16 * 144) } : x)
    })
    await refuse(out('q4k.gguf'), /tensor blk\.1\.attn_q\.weight has type Q4_K, which cannot be imported/)

    await rewriteGguf(good, out('arch.gguf'), { metadata: (md) => md.map(([k, v]) => k === 'general.architecture' ? [k, { type: 'string', value: 'phi3' }] : [k, v]) })
    await refuse(out('arch.gguf'), /architecture "phi3" is not supported/)
    await rewriteGguf(good, out('missing.gguf'), { tensors: (ts) => ts.filter((x) => x.name !== 'blk.2.ffn_up.weight') })
    await refuse(out('missing.gguf'), /tensor blk\.2\.ffn_up\.weight is missing/)
    await rewriteGguf(good, out('extra.gguf'), { tensors: (ts) => [...ts, { name: 'blk.0.attn_q_norm.weight', dims: [16], type: 'F32', data: () => new Float32Array(16) }] })
    await refuse(out('extra.gguf'), /unexpected tensors for llama: blk\.0\.attn_q_norm\.weight/)
    await rewriteGguf(good, out('shape.gguf'), { tensors: (ts) => ts.map((x) => x.name === 'blk.0.ffn_norm.weight' ? { name: x.name, dims: [32], type: 'F32', data: () => new Float32Array(32) } : x) })
    await refuse(out('shape.gguf'), /blk\.0\.ffn_norm\.weight has dims \[32\], expected \[64\]/)
    await rewriteGguf(good, out('notok.gguf'), { metadata: (md) => md.filter(([k]) => k !== 'tokenizer.ggml.model') })
    await refuse(out('notok.gguf'), /tokenizer\.ggml\.model is missing/)
    await rewriteGguf(good, out('noeps.gguf'), { metadata: (md) => md.filter(([k]) => !k.endsWith('layer_norm_rms_epsilon')) })
    await refuse(out('noeps.gguf'), /llama\.attention\.layer_norm_rms_epsilon is missing/)
    await refuse(good.replace('good', 'absent'), /cannot open/)
    await t.throwsAsync(importGguf(good, out('ctx.pkg'), { context: 65 }), { message: /longer than the 64 positions/ })
    // Nothing is left behind by a refused import.
    await t.throwsAsync(readManifest(out('q4k.gguf.pkg')))
    // A failure half way (a NaN in the last layer) names the tensor and removes what was written.
    await rewriteGguf(good, out('nan.gguf'), {
      tensors: (ts) => ts.map((x) => x.name === 'blk.2.ffn_down.weight' ? { name: x.name, dims: x.dims, type: 'F32', data: () => { const v = new Float32Array(64 * 128); v[77] = NaN; return v } } : x)
    })
    await t.throwsAsync(importGguf(out('nan.gguf'), out('nan.pkg'), { parts: 3 }), { message: /tensor blk\.2\.ffn_down\.weight holds a non-finite value \(NaN\) at element 77/ })
    t.deepEqual(await readdir(out('nan.pkg')), [])
    // An out-of-range gain is reported with the tensor's name, not just quantize.ts's index.
    await rewriteGguf(good, out('gain.gguf'), {
      tensors: (ts) => ts.map((x) => x.name === 'blk.1.ffn_norm.weight' ? { name: x.name, dims: x.dims, type: 'F32', data: () => new Float32Array(64).fill(1000) } : x)
    })
    await t.throwsAsync(importGguf(out('gain.gguf'), out('gain.pkg')), { message: /gain\.gguf: tensor blk\.1\.ffn_norm\.weight: norm gain/ })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('export-gguf → import: f32 gives the same integer weights; q8_0 stays within a quantization step', async (t) => {
  const dir = await tmp()
  try {
    const src = path.join(dir, 'src')
    const m = await synthPackage(src, { dims: { ...DIMS, context: 32 }, seed: 21, parts: 2 })
    const original = await loadAll(src)
    for (const type of ['f32', 'q8_0', 'f16'] as const) {
      const file = path.join(dir, `${type}.gguf`)
      const r = await exportGguf(src, file, { type })
      t.is(r.tensors, 3 + DIMS.layers * 9)
      const g = await GgufReader.open(file)
      t.is(g.string('general.architecture'), 'llama')
      t.is(g.string('tokenizer.ggml.model'), 'gpt2')
      t.is(g.strings('tokenizer.ggml.tokens')!.length, DIMS.vocab)
      t.is(g.number('tokenizer.ggml.bos_token_id'), 1)
      t.is(g.string('verimesh.root'), m.root)
      t.is(g.tensor('blk.0.ffn_down.weight')!.type, type === 'f32' ? 0 : type === 'f16' ? 1 : 8)
      t.is(g.tensor('blk.0.ffn_norm.weight')!.type, 0)
      await g.close()

      const back = await importGguf(file, path.join(dir, type), { parts: 2 })
      t.deepEqual(back.config, m.config)
      t.is(back.tokenizer.hash, m.tokenizer.hash)
      const imported = await loadAll(path.join(dir, type))
      if (type === 'f32') {
        t.deepEqual(imported, original)
        t.is(back.weightsRoot, m.weightsRoot)
        continue
      }
      t.not(back.weightsRoot, m.weightsRoot)
      let worst = 0
      for (const [i, s] of imported.entries()) {
        const o = original[i]!
        t.deepEqual(s.range, o.range)
        for (const [l, layer] of s.layers.entries()) {
          for (const [key] of LINEARS) {
            const a = dequantizeLinear(o.layers[l]![key])
            const b = dequantizeLinear(layer[key])
            const cols = layer[key].cols
            for (let r = 0; r < layer[key].rows; r++) {
              let amax = 0
              for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(a[r * cols + c]!))
              // Q8_0 rounds to half its block step (≤ amax/254, plus fp16 rounding of the step),
              // requantizing to int8 to half a row step (≈ amax/254).
              for (let c = 0; c < cols; c++) {
                worst = Math.max(worst, Math.abs(a[r * cols + c]! - b[r * cols + c]!) / (amax / 127))
              }
            }
          }
        }
      }
      t.log(`${type}: worst weight error ${worst.toFixed(3)} of a row's int8 step`)
      t.true(worst > 0 && worst <= 1.1, `${worst}`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a NEOX (halves) model exports as llama.cpp NORM rope with permuted Q/K and computes the same logits', async (t) => {
  const dir = await tmp()
  try {
    const dims = { ...DIMS, context: 16 }
    const src = path.join(dir, 'src')
    await synthPackage(src, { dims, seed: 22, ropeStyle: 'halves', bias: true })
    await exportGguf(src, path.join(dir, 'x.gguf'), { type: 'f32' })
    const m = await importGguf(path.join(dir, 'x.gguf'), path.join(dir, 'back'))
    t.is(m.config.ropeStyle, 'adjacent')
    const [a] = await loadAll(src)
    const [b] = await loadAll(path.join(dir, 'back'))
    // Q rows are the NEOX rows reordered; V is untouched.
    const qa = dequantizeLinear(a!.layers[0]!.wq)
    t.deepEqual(dequantizeLinear(b!.layers[0]!.wq), halvesToAdjacentRows(qa, dims.dim, dims.heads, dims.headDim))
    t.deepEqual(b!.layers[0]!.wv, a!.layers[0]!.wv)
    // The integer engine gives bit-identical logits for both.
    const tokens = Int32Array.from([1, 72, 101, 108, 108, 111, 33])
    const run = (w: ShardWeights): Int32Array[] => {
      const kv = allocKv(w.layers.length, dims)
      return Array.from(tokens, (tok, pos) => runShard(w, kv, pos, { kind: 'tokens', tokens: Int32Array.of(tok) }).logits!)
    }
    const la = run(a!)
    const lb = run(b!)
    t.deepEqual(lb, la)
    t.true(la.some((l) => l.some((v) => v !== 0)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
