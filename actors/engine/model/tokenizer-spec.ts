// What tokenizer.json holds. The spec is plain data (no derived tables) so its hash
// changes only when the tokenization does.

import { VerimeshError } from '../../../runtime/errors.js'

/** GGUF / llama.cpp token types. */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6
} as const

/**
 * Synthetic models: id 0 `<unk>`, 1 `<s>`, 2 `</s>`, then byte b is id 3 + b. Ids from
 * 259 up to `vocab` exist in the model but are never produced.
 */
export interface BytesTokenizerSpec {
  readonly type: 'bytes'
  readonly vocab: number
  readonly addBos: boolean
}

interface VocabSpec {
  readonly tokens: readonly string[]
  /** GGUF token types, one per token (TokenType). */
  readonly types: readonly number[]
  readonly bos?: number
  readonly eos?: number
  readonly unk?: number
  readonly pad?: number
  readonly addBos: boolean
  readonly addEos: boolean
}

/** SentencePiece BPE as llama.cpp runs it (tokenizer.ggml.model = "llama"). */
export interface LlamaTokenizerSpec extends VocabSpec {
  readonly type: 'llama'
  readonly scores: readonly number[]
  readonly addSpacePrefix: boolean
}

/** Byte-level BPE (tokenizer.ggml.model = "gpt2"): Llama 3, Qwen2, SmolLM. */
export interface Gpt2TokenizerSpec extends VocabSpec {
  readonly type: 'gpt2'
  /** tokenizer.ggml.pre: selects the pre-tokenizer regexes. */
  readonly pre: string
  /** "left right" pairs, by rank. */
  readonly merges: readonly string[]
}

export type TokenizerSpec = BytesTokenizerSpec | LlamaTokenizerSpec | Gpt2TokenizerSpec

export const BYTES_SPECIALS = ['<unk>', '<s>', '</s>'] as const
export const BYTES_FIRST = BYTES_SPECIALS.length
export const BYTES_MIN_VOCAB = BYTES_FIRST + 256

export function bytesTokenizerSpec (vocab: number, addBos = true): BytesTokenizerSpec {
  const spec: BytesTokenizerSpec = { type: 'bytes', vocab, addBos }
  validateTokenizerSpec(spec)
  return spec
}

export function tokenizerVocab (spec: TokenizerSpec): number {
  return spec.type === 'bytes' ? spec.vocab : spec.tokens.length
}

function bad (what: string): VerimeshError {
  return new VerimeshError('MODEL_INVALID', `tokenizer: ${what}`)
}

export function validateTokenizerSpec (spec: TokenizerSpec): void {
  if (typeof spec !== 'object' || spec === null) throw bad('not an object')
  if (spec.type === 'bytes') {
    if (!Number.isInteger(spec.vocab) || spec.vocab < BYTES_MIN_VOCAB) throw bad(`a bytes tokenizer needs a vocabulary of at least ${BYTES_MIN_VOCAB}, got ${String(spec.vocab)}`)
    if (typeof spec.addBos !== 'boolean') throw bad('addBos must be a boolean')
    return
  }
  if (spec.type !== 'llama' && spec.type !== 'gpt2') throw bad(`unknown type ${JSON.stringify((spec as { type: unknown }).type)}`)
  const n = spec.tokens?.length
  if (!Array.isArray(spec.tokens) || n === 0 || !spec.tokens.every((t) => typeof t === 'string')) throw bad('tokens must be a non-empty array of strings')
  if (!Array.isArray(spec.types) || spec.types.length !== n || !spec.types.every((t) => Number.isInteger(t) && t >= 0 && t <= 6)) throw bad(`types must be ${n} token types (0..6)`)
  for (const k of ['bos', 'eos', 'unk', 'pad'] as const) {
    const v = spec[k]
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v >= n)) throw bad(`${k} id ${String(v)} is not a token`)
  }
  if (typeof spec.addBos !== 'boolean' || typeof spec.addEos !== 'boolean') throw bad('addBos and addEos must be booleans')
  if (spec.addBos && spec.bos === undefined) throw bad('addBos is set but there is no bos token')
  if (spec.type === 'llama') {
    if (!Array.isArray(spec.scores) || spec.scores.length !== n || !spec.scores.every((s) => typeof s === 'number' && Number.isFinite(s))) throw bad(`scores must be ${n} finite numbers`)
    if (typeof spec.addSpacePrefix !== 'boolean') throw bad('addSpacePrefix must be a boolean')
  } else {
    if (typeof spec.pre !== 'string') throw bad('pre must be a string')
    if (!Array.isArray(spec.merges) || !spec.merges.every((m) => typeof m === 'string' && m.indexOf(' ', 1) > 0)) throw bad('merges must be "left right" strings')
  }
}
