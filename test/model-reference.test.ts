// Checks against reference implementations, through fixtures they produced
// (test/fixtures/model/make-reference.py): llama.cpp's gguf-py wrote and dequantized the
// GGUF files, sentencepiece and Hugging Face tokenizers gave the token ids.

import test from 'ava'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { quantizeLinear } from '../actors/engine/int/quantize.js'
import { GgufReader } from '../actors/engine/model/gguf-read.js'
import { importGguf } from '../actors/engine/model/gguf-import.js'
import { loadShard, readTokenizerFile } from '../actors/engine/model/package.js'
import { createTokenizer, type TokenizerSpec } from '../actors/engine/model/tokenizer.js'

// Compiled to dist/test/; the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/model/', import.meta.url))

interface Case { text: string, ids: number[] }
interface Reference {
  llama: { tensors: Record<string, string>, tokenization: Case[] }
  qwen2: { tensors: Record<string, string>, tokenization: Record<string, Case[]> }
}

async function reference (): Promise<Reference> {
  return JSON.parse(await readFile(path.join(FIXTURES, 'reference.json'), 'utf8')) as Reference
}

for (const arch of ['llama', 'qwen2'] as const) {
  test(`${arch}: every tensor dequantizes exactly as gguf-py does (F32, F16, BF16, Q8_0)`, async (t) => {
    const ref = (await reference())[arch].tensors
    const g = await GgufReader.open(path.join(FIXTURES, `ref-${arch}.gguf`))
    try {
      t.is(g.tensors.length, Object.keys(ref).length)
      const types = new Set<number>()
      for (const info of g.tensors) {
        const x = await g.readF32(info)
        types.add(info.type)
        t.is(createHash('sha256').update(Buffer.from(x.buffer, x.byteOffset, x.byteLength)).digest('hex'), ref[info.name], info.name)
      }
      t.deepEqual([...types].sort((a, b) => a - b), [0, 1, 8, 30])
    } finally {
      await g.close()
    }
  })
}

test('the reference GGUFs import: llama (NORM rope) and qwen2 (NEOX, biases, tied output)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-ref-'))
  try {
    const llama = await importGguf(path.join(FIXTURES, 'ref-llama.gguf'), path.join(dir, 'llama'), { parts: 2 })
    t.is(llama.name, 'reference-llama')
    t.deepEqual(llama.config.dims, { vocab: 320, dim: 32, layers: 2, heads: 2, kvHeads: 1, headDim: 16, ffn: 64, context: 64 })
    t.is(llama.config.ropeStyle, 'adjacent')
    t.is(llama.config.epsQ32, Math.round(Math.fround(1e-5) * 2 ** 32))
    t.is(llama.tokenizer.type, 'llama')
    const qwen = await importGguf(path.join(FIXTURES, 'ref-qwen2.gguf'), path.join(dir, 'qwen2'))
    t.is(qwen.config.ropeStyle, 'halves')
    t.is(qwen.config.ropeTheta, 1e6)
    t.is(qwen.tokenizer.type, 'gpt2')

    // The imported weights are quantize.ts applied to the (reference-checked) floats.
    const g = await GgufReader.open(path.join(FIXTURES, 'ref-qwen2.gguf'))
    const w = await loadShard(path.join(dir, 'qwen2'), 0)
    const f = async (name: string): Promise<Float32Array> => await g.readF32(g.tensor(name)!)
    t.deepEqual(w.layers[1]!.wq, quantizeLinear({ rows: 32, cols: 32, w: await f('blk.1.attn_q.weight'), bias: await f('blk.1.attn_q.bias') }))
    t.deepEqual(w.output, quantizeLinear({ rows: qwen.config.dims.vocab, cols: 32, w: await f('token_embd.weight') }))
    await g.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('SentencePiece: our ids equal sentencepiece\'s for the same model (BOS, ▁, byte fallback)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-ref-'))
  try {
    const m = await importGguf(path.join(FIXTURES, 'ref-llama.gguf'), path.join(dir, 'p'))
    const tok = createTokenizer(await readTokenizerFile(path.join(dir, 'p'), m))
    for (const c of (await reference()).llama.tokenization) {
      t.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text))
      t.is(tok.decode(c.ids), c.text)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('byte-level BPE: our ids equal Hugging Face tokenizers\' under the Qwen2, Llama-3 and GPT-2 pre-tokenizers', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-ref-'))
  try {
    const m = await importGguf(path.join(FIXTURES, 'ref-qwen2.gguf'), path.join(dir, 'p'))
    const spec = await readTokenizerFile(path.join(dir, 'p'), m)
    t.is(spec.type === 'gpt2' ? spec.pre : '', 'qwen2')
    const cases = (await reference()).qwen2.tokenization
    t.deepEqual(Object.keys(cases), ['qwen2', 'llama-bpe', 'gpt-2'])
    for (const [pre, list] of Object.entries(cases)) {
      const tok = createTokenizer({ ...spec, pre } as TokenizerSpec)
      for (const c of list) {
        t.deepEqual(tok.encode(c.text), c.ids, `${pre}: ${JSON.stringify(c.text)}`)
        t.is(tok.decode(c.ids), c.text)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
