// Tokenizers to and from GGUF metadata (tokenizer.ggml.*), the keys llama.cpp reads.

import path from 'node:path'
import { VerimeshError } from '../../../runtime/errors.js'
import type { GgufValue } from './gguf.js'
import type { GgufReader } from './gguf-read.js'
import { BYTE_TO_UNICODE } from './tokenizer.js'
import { BYTES_FIRST, BYTES_MIN_VOCAB, BYTES_SPECIALS, TokenType, validateTokenizerSpec, type BytesTokenizerSpec, type Gpt2TokenizerSpec, type LlamaTokenizerSpec, type TokenizerSpec } from './tokenizer-spec.js'

/** Marks an exported synthetic byte vocabulary so import gives back a 'bytes' tokenizer. */
const BYTES_MARK_KEY = 'verimesh.tokenizer'

export function tokenizerFromGguf (g: GgufReader, vocab: number): TokenizerSpec {
  const model = g.string('tokenizer.ggml.model')
  const file = path.basename(g.file)
  if (model === undefined) throw new VerimeshError('MODEL_INVALID', `${file}: tokenizer.ggml.model is missing, so the model has no tokenizer`, { file })
  if (model !== 'llama' && model !== 'gpt2') {
    throw new VerimeshError('MODEL_INVALID', `${file}: tokenizer.ggml.model is ${JSON.stringify(model)}; only "llama" (SentencePiece) and "gpt2" (byte-level BPE) are supported`, { file, model })
  }
  const tokens = g.strings('tokenizer.ggml.tokens')
  if (tokens === undefined || tokens.length === 0) throw new VerimeshError('MODEL_INVALID', `${file}: tokenizer.ggml.tokens is missing`, { file })
  const n = tokens.length
  const types = g.numbers('tokenizer.ggml.token_type') ?? new Array<number>(n).fill(TokenType.NORMAL)
  if (types.length !== n) throw new VerimeshError('MODEL_INVALID', `${file}: tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`, { file })
  const id = (key: string): number | undefined => {
    const v = g.number(key)
    // llama.cpp treats out-of-range ids (e.g. -1 / 0xffffffff) as "no such token".
    return v !== undefined && v >= 0 && v < n ? v : undefined
  }
  const bos = id('tokenizer.ggml.bos_token_id')
  const eos = id('tokenizer.ggml.eos_token_id')
  const unk = id('tokenizer.ggml.unknown_token_id')
  const pad = id('tokenizer.ggml.padding_token_id')
  // Absent ids are left out, not written as undefined, so tokenizer.json stays canonical.
  const common: { tokens: string[], types: number[], bos?: number, eos?: number, unk?: number, pad?: number } = {
    tokens,
    types,
    ...(bos !== undefined ? { bos } : {}),
    ...(eos !== undefined ? { eos } : {}),
    ...(unk !== undefined ? { unk } : {}),
    ...(pad !== undefined ? { pad } : {})
  }
  let spec: TokenizerSpec
  if (model === 'llama') {
    const scores = g.numbers('tokenizer.ggml.scores') ?? new Array<number>(n).fill(0)
    if (scores.length !== n) throw new VerimeshError('MODEL_INVALID', `${file}: tokenizer.ggml.scores has ${scores.length} entries for ${n} tokens`, { file })
    const s: LlamaTokenizerSpec = {
      type: 'llama',
      ...common,
      scores,
      addBos: (g.bool('tokenizer.ggml.add_bos_token') ?? true) && common.bos !== undefined,
      addEos: g.bool('tokenizer.ggml.add_eos_token') ?? false,
      addSpacePrefix: g.bool('tokenizer.ggml.add_space_prefix') ?? true
    }
    spec = s
  } else {
    const merges = g.strings('tokenizer.ggml.merges')
    if (merges === undefined) throw new VerimeshError('MODEL_INVALID', `${file}: a gpt2 tokenizer needs tokenizer.ggml.merges`, { file })
    const s: Gpt2TokenizerSpec = {
      type: 'gpt2',
      pre: g.string('tokenizer.ggml.pre') ?? 'default',
      ...common,
      merges,
      addBos: (g.bool('tokenizer.ggml.add_bos_token') ?? false) && common.bos !== undefined,
      addEos: g.bool('tokenizer.ggml.add_eos_token') ?? false
    }
    spec = s
    if (g.string(BYTES_MARK_KEY) === 'bytes') {
      const bytes = asBytesSpec(s, vocab)
      if (bytes !== undefined) spec = bytes
    }
  }
  if (n > vocab) throw new VerimeshError('MODEL_INVALID', `${file}: the tokenizer has ${n} tokens but token_embd only ${vocab} rows`, { file })
  validateTokenizerSpec(spec)
  return spec
}

/** The byte vocabulary we export, recognised exactly; anything else stays a gpt2 tokenizer. */
function asBytesSpec (s: Gpt2TokenizerSpec, vocab: number): BytesTokenizerSpec | undefined {
  if (s.tokens.length !== vocab || vocab < BYTES_MIN_VOCAB || s.merges.length !== 0 || s.bos !== 1 || s.eos !== 2) return undefined
  const expected = bytesVocabulary(vocab)
  for (let i = 0; i < vocab; i++) if (s.tokens[i] !== expected.tokens[i] || s.types[i] !== expected.types[i]) return undefined
  return { type: 'bytes', vocab, addBos: s.addBos }
}

/**
 * The byte tokenizer as a GGUF vocabulary. A "llama" (SentencePiece) vocabulary of byte
 * tokens would not agree with our ids: llama.cpp's SPM path rewrites ' ' to U+2581
 * before looking tokens up, turning every space into three byte tokens. A byte-level
 * BPE vocabulary with no merges maps each byte to exactly one id, 3 + b, in llama.cpp
 * as here, for every text.
 */
export function bytesVocabulary (vocab: number): { tokens: string[], types: number[] } {
  const tokens: string[] = [...BYTES_SPECIALS]
  const types: number[] = BYTES_SPECIALS.map((_, i) => i === 0 ? TokenType.UNKNOWN : TokenType.CONTROL)
  for (let b = 0; b < 256; b++) { tokens.push(BYTE_TO_UNICODE[b]!); types.push(TokenType.NORMAL) }
  for (let i = BYTES_FIRST + 256; i < vocab; i++) { tokens.push(`[PAD${i}]`); types.push(TokenType.UNUSED) }
  return { tokens, types }
}

/** tokenizer.ggml.* entries for a package's tokenizer, padded to the model's vocabulary. */
export function tokenizerToGguf (spec: TokenizerSpec, vocab: number): Array<[string, GgufValue]> {
  const u32 = (v: number): GgufValue => ({ type: 'u32', value: v })
  const bool = (v: boolean): GgufValue => ({ type: 'bool', value: v })
  const strs = (v: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value: v })
  const i32s = (v: readonly number[]): GgufValue => ({ type: 'array', itemType: 'i32', value: v })
  if (spec.type === 'bytes') {
    const { tokens, types } = bytesVocabulary(vocab)
    return [
      ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
      ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
      ['tokenizer.ggml.tokens', strs(tokens)],
      ['tokenizer.ggml.token_type', i32s(types)],
      ['tokenizer.ggml.merges', strs([])],
      ['tokenizer.ggml.bos_token_id', u32(1)],
      ['tokenizer.ggml.eos_token_id', u32(2)],
      ['tokenizer.ggml.unknown_token_id', u32(0)],
      ['tokenizer.ggml.add_bos_token', bool(spec.addBos)],
      ['tokenizer.ggml.add_eos_token', bool(false)],
      [BYTES_MARK_KEY, { type: 'string', value: 'bytes' }]
    ]
  }
  const tokens = [...spec.tokens]
  const types = [...spec.types]
  // llama.cpp sizes the vocabulary from the token list; it must match token_embd.
  for (let i = tokens.length; i < vocab; i++) { tokens.push(`[PAD${i}]`); types.push(TokenType.UNUSED) }
  const out: Array<[string, GgufValue]> = [['tokenizer.ggml.model', { type: 'string', value: spec.type }]]
  if (spec.type === 'gpt2') out.push(['tokenizer.ggml.pre', { type: 'string', value: spec.pre }])
  out.push(['tokenizer.ggml.tokens', strs(tokens)])
  if (spec.type === 'llama') {
    const scores = [...spec.scores]
    while (scores.length < vocab) scores.push(0)
    out.push(['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scores }])
  }
  out.push(['tokenizer.ggml.token_type', i32s(types)])
  if (spec.type === 'gpt2') out.push(['tokenizer.ggml.merges', strs(spec.merges)])
  if (spec.bos !== undefined) out.push(['tokenizer.ggml.bos_token_id', u32(spec.bos)])
  if (spec.eos !== undefined) out.push(['tokenizer.ggml.eos_token_id', u32(spec.eos)])
  if (spec.unk !== undefined) out.push(['tokenizer.ggml.unknown_token_id', u32(spec.unk)])
  if (spec.pad !== undefined) out.push(['tokenizer.ggml.padding_token_id', u32(spec.pad)])
  out.push(['tokenizer.ggml.add_bos_token', bool(spec.addBos)], ['tokenizer.ggml.add_eos_token', bool(spec.addEos)])
  if (spec.type === 'llama') out.push(['tokenizer.ggml.add_space_prefix', bool(spec.addSpacePrefix)])
  return out
}
