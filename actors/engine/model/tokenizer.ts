// Text ↔ token ids. The algorithms follow llama.cpp's (llama-vocab.cpp) so that a model
// run here and the same GGUF run by llama.cpp see the same ids for the same text.

import { VerimeshError } from '../../../runtime/errors.js'
import { BYTES_FIRST, BYTES_SPECIALS, TokenType, validateTokenizerSpec, type BytesTokenizerSpec, type Gpt2TokenizerSpec, type LlamaTokenizerSpec, type TokenizerSpec } from './tokenizer-spec.js'

export * from './tokenizer-spec.js'

export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer's metadata asks (default true). */
  readonly addSpecial?: boolean
  /** Recognise control tokens written literally in the text (default false). */
  readonly parseSpecial?: boolean
}

export interface DecodeOptions {
  /** Render control tokens' text instead of dropping them (default false). */
  readonly renderSpecial?: boolean
}

export interface Tokenizer {
  readonly spec: TokenizerSpec
  readonly vocab: number
  readonly bos?: number
  readonly eos?: number
  encode (text: string, opts?: EncodeOptions): number[]
  decode (ids: readonly number[], opts?: DecodeOptions): string
  /** The bytes token `id` stands for (control tokens: none unless renderSpecial). */
  pieceBytes (id: number, opts?: DecodeOptions): Uint8Array
}

export function createTokenizer (spec: TokenizerSpec): Tokenizer {
  validateTokenizerSpec(spec)
  switch (spec.type) {
    case 'bytes': return new BytesTokenizer(spec)
    case 'llama': return new SpmTokenizer(spec)
    case 'gpt2': return new Gpt2Tokenizer(spec)
  }
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: false })

function concatBytes (parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

function checkId (id: number, vocab: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new VerimeshError('REQUEST_INVALID', `token id ${id} is outside the vocabulary of ${vocab}`, { id, vocab })
}

// ---------------------------------------------------------------------------------------

class BytesTokenizer implements Tokenizer {
  readonly vocab: number
  readonly bos = 1
  readonly eos = 2

  constructor (readonly spec: BytesTokenizerSpec) {
    this.vocab = spec.vocab
  }

  encode (text: string, opts: EncodeOptions = {}): number[] {
    const ids = (opts.addSpecial ?? true) && this.spec.addBos ? [this.bos] : []
    for (const b of utf8.encode(text)) ids.push(BYTES_FIRST + b)
    return ids
  }

  pieceBytes (id: number, opts: DecodeOptions = {}): Uint8Array {
    checkId(id, this.vocab)
    if (id >= BYTES_FIRST && id < BYTES_FIRST + 256) return Uint8Array.of(id - BYTES_FIRST)
    if (opts.renderSpecial === true && id < BYTES_FIRST) return utf8.encode(BYTES_SPECIALS[id]!)
    return new Uint8Array(0)
  }

  decode (ids: readonly number[], opts: DecodeOptions = {}): string {
    return utf8Decoder.decode(concatBytes(ids.map((id) => this.pieceBytes(id, opts))))
  }
}

// ---------------------------------------------------------------------------------------
// Shared: a vocabulary, special-token partitioning and a symbol-merging engine.

type Fragment = { readonly text: string } | { readonly id: number }

abstract class VocabTokenizer implements Tokenizer {
  readonly vocab: number
  readonly bos?: number
  readonly eos?: number
  protected readonly ids = new Map<string, number>()
  private readonly userDefined: Array<[string, number]>
  private readonly controls: Array<[string, number]>

  constructor (readonly spec: LlamaTokenizerSpec | Gpt2TokenizerSpec) {
    this.vocab = spec.tokens.length
    if (spec.bos !== undefined) this.bos = spec.bos
    if (spec.eos !== undefined) this.eos = spec.eos
    // Later duplicates win, as in llama.cpp's token_to_id.
    spec.tokens.forEach((t, i) => this.ids.set(t, i))
    const byLength = (a: [string, number], b: [string, number]): number => b[0].length - a[0].length || a[1] - b[1]
    this.userDefined = spec.tokens.flatMap((t, i): Array<[string, number]> => spec.types[i] === TokenType.USER_DEFINED && t.length > 0 ? [[t, i]] : []).sort(byLength)
    this.controls = spec.tokens.flatMap((t, i): Array<[string, number]> => (spec.types[i] === TokenType.CONTROL || spec.types[i] === TokenType.UNKNOWN) && t.length > 0 ? [[t, i]] : []).sort(byLength)
  }

  /** Splits text around special tokens written in it, longest first (llama.cpp's tokenizer_st_partition). */
  protected partition (text: string, parseSpecial: boolean): Fragment[] {
    // llama.cpp makes no fragment of empty text, so '' gets no space prefix either.
    let frags: Fragment[] = text.length > 0 ? [{ text }] : []
    const specials = parseSpecial ? [...this.userDefined, ...this.controls].sort((a, b) => b[0].length - a[0].length || a[1] - b[1]) : this.userDefined
    for (const [tok, id] of specials) {
      const next: Fragment[] = []
      for (const f of frags) {
        if (!('text' in f)) { next.push(f); continue }
        let from = 0
        for (let at = f.text.indexOf(tok); at >= 0; at = f.text.indexOf(tok, from)) {
          if (at > from) next.push({ text: f.text.slice(from, at) })
          next.push({ id })
          from = at + tok.length
        }
        if (from < f.text.length) next.push({ text: f.text.slice(from) })
      }
      frags = next
    }
    return frags
  }

  protected withSpecials (ids: number[], opts: EncodeOptions): number[] {
    if (!(opts.addSpecial ?? true)) return ids
    const out = this.spec.addBos && this.bos !== undefined ? [this.bos, ...ids] : ids
    if (this.spec.addEos && this.eos !== undefined) out.push(this.eos)
    return out
  }

  abstract encode (text: string, opts?: EncodeOptions): number[]
  abstract pieceBytes (id: number, opts?: DecodeOptions): Uint8Array

  decode (ids: readonly number[], opts: DecodeOptions = {}): string {
    return utf8Decoder.decode(concatBytes(ids.map((id) => this.pieceBytes(id, opts))))
  }
}

interface Sym { text: string, prev: number, next: number }
interface Pair { left: number, right: number, priority: number, size: number }

/** Max-heap on (priority, then leftmost), llama.cpp's llm_bigram_{spm,bpe} order. */
class PairHeap {
  private readonly a: Pair[] = []
  get size (): number { return this.a.length }
  private before (x: Pair, y: Pair): boolean {
    return x.priority > y.priority || (x.priority === y.priority && x.left < y.left)
  }

  push (p: Pair): void {
    const a = this.a
    a.push(p)
    let i = a.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (!this.before(a[i]!, a[up]!)) break
      ;[a[i], a[up]] = [a[up]!, a[i]!]
      i = up
    }
  }

  pop (): Pair {
    const a = this.a
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
}

/**
 * Merges adjacent symbols, best pair first, while `priority(left, right)` finds one;
 * returns the final symbols' texts in order.
 */
function mergeSymbols (chars: readonly string[], priority: (left: string, right: string) => number | undefined): string[] {
  const syms: Sym[] = chars.map((text, i) => ({ text, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 }))
  const heap = new PairHeap()
  const consider = (left: number, right: number): void => {
    if (left < 0 || right < 0) return
    const p = priority(syms[left]!.text, syms[right]!.text)
    if (p !== undefined) heap.push({ left, right, priority: p, size: syms[left]!.text.length + syms[right]!.text.length })
  }
  for (let i = 1; i < syms.length; i++) consider(i - 1, i)
  while (heap.size > 0) {
    const p = heap.pop()
    const l = syms[p.left]!
    const r = syms[p.right]!
    // Stale: one side has merged with something else since this pair was queued.
    if (l.text.length === 0 || r.text.length === 0 || l.text.length + r.text.length !== p.size) continue
    l.text += r.text
    r.text = ''
    l.next = r.next
    if (r.next >= 0) syms[r.next]!.prev = p.left
    consider(l.prev, p.left)
    consider(p.left, l.next)
  }
  const out: string[] = []
  for (let i = syms.length > 0 ? 0 : -1; i >= 0; i = syms[i]!.next) out.push(syms[i]!.text)
  return out
}

// ---------------------------------------------------------------------------------------
// SentencePiece BPE (llama.cpp LLAMA_VOCAB_TYPE_SPM)

const SPACE_MARK = '\u2581'

class SpmTokenizer extends VocabTokenizer {
  private readonly byteIds: Array<number | undefined>
  private readonly scores: readonly number[]

  constructor (override readonly spec: LlamaTokenizerSpec) {
    super(spec)
    this.scores = spec.scores
    this.byteIds = Array.from({ length: 256 }, (_, b) => this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? this.ids.get(String.fromCharCode(b)))
  }

  encode (text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = []
    let prevSpecial = true
    for (const f of this.partition(text, opts.parseSpecial ?? false)) {
      if ('id' in f) { out.push(f.id); prevSpecial = true; continue }
      const raw = (this.spec.addSpacePrefix && prevSpecial ? ' ' : '') + f.text
      prevSpecial = false
      const escaped = raw.replaceAll(' ', SPACE_MARK)
      const pieces = mergeSymbols([...escaped], (a, b) => {
        const id = this.ids.get(a + b)
        return id === undefined ? undefined : this.scores[id]
      })
      for (const piece of pieces) {
        const id = this.ids.get(piece)
        if (id !== undefined) { out.push(id); continue }
        // Byte fallback: each UTF-8 byte of a piece the vocabulary lacks.
        for (const b of utf8.encode(piece)) {
          const bid = this.byteIds[b] ?? this.spec.unk
          if (bid === undefined) throw new VerimeshError('REQUEST_INVALID', `the tokenizer has neither a byte token for 0x${b.toString(16)} nor an unknown token`)
          out.push(bid)
        }
      }
    }
    return this.withSpecials(out, opts)
  }

  pieceBytes (id: number, opts: DecodeOptions = {}): Uint8Array {
    checkId(id, this.vocab)
    const text = this.spec.tokens[id]!
    switch (this.spec.types[id]) {
      case TokenType.BYTE: {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text)
        return m !== null ? Uint8Array.of(parseInt(m[1]!, 16)) : utf8.encode(text)
      }
      case TokenType.CONTROL:
        return opts.renderSpecial === true ? utf8.encode(text) : new Uint8Array(0)
      case TokenType.UNKNOWN:
        return utf8.encode('\u2585')
      case TokenType.UNUSED:
        return new Uint8Array(0)
      case TokenType.USER_DEFINED:
        return utf8.encode(text)
      default:
        return utf8.encode(text.replaceAll(SPACE_MARK, ' '))
    }
  }

  override decode (ids: readonly number[], opts: DecodeOptions = {}): string {
    // The space the encoder put in front of the text is not part of it: drop it from the
    // first piece of text (SentencePiece's rule; control tokens do not count).
    let strip = this.spec.addSpacePrefix
    const parts = ids.map((id) => {
      const bytes = this.pieceBytes(id, opts)
      const t = this.spec.types[id]
      if (!strip || t === TokenType.CONTROL || t === TokenType.UNUSED || bytes.length === 0) return bytes
      strip = false
      return bytes[0] === 0x20 ? bytes.subarray(1) : bytes
    })
    return utf8Decoder.decode(concatBytes(parts))
  }
}

// ---------------------------------------------------------------------------------------
// Byte-level BPE (llama.cpp LLAMA_VOCAB_TYPE_BPE)

/** GPT-2's reversible map from bytes to printable code points. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const keep: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b)
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b)
  for (let b = 0xae; b <= 0xff; b++) keep.push(b)
  const map = new Array<string>(256)
  let extra = 0
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++)
  return map
})()

const UNICODE_TO_BYTE = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]))

// Pre-tokenizers by tokenizer.ggml.pre, as llama.cpp's llama_vocab::impl::load picks them.
// JavaScript has no (?i:...), so the contractions spell out both cases.
const CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
const GPT2_RE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
const PRE_TOKENIZERS: Readonly<Record<string, readonly string[]>> = {
  gpt2: [GPT2_RE],
  llama3: [`${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`],
  qwen2: [`${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`],
  smollm: ['\\p{N}', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"],
  default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", '\\p{N}+', '[0-9][0-9][0-9]']
}
const PRE_ALIASES: Readonly<Record<string, string>> = {
  'gpt-2': 'gpt2',
  'llama-bpe': 'llama3',
  'llama-v3': 'llama3',
  'llama3': 'llama3',
  'falcon3': 'llama3',
  'smaug-bpe': 'llama3',
  'qwen2': 'qwen2',
  'deepseek-r1-qwen': 'qwen2',
  'smollm': 'smollm',
  'starcoder': 'smollm',
  'refact': 'smollm',
  'default': 'default'
}

/** The regexes for a tokenizer.ggml.pre value and whether whole words in the vocabulary skip merging. */
export function preTokenizer (pre: string): { name: string, regexes: RegExp[], ignoreMerges: boolean } {
  const name = PRE_ALIASES[pre] ?? (pre === '' ? 'default' : 'gpt2')
  return { name, regexes: PRE_TOKENIZERS[name]!.map((r) => new RegExp(r, 'gu')), ignoreMerges: name === 'llama3' }
}

/** Applies each regex to every piece in turn; text between matches stays a piece of its own. */
export function preTokenize (text: string, regexes: readonly RegExp[]): string[] {
  let pieces = [text]
  for (const re of regexes) {
    const next: string[] = []
    for (const p of pieces) {
      let from = 0
      for (const m of p.matchAll(re)) {
        if (m[0].length === 0) continue
        if (m.index > from) next.push(p.slice(from, m.index))
        next.push(m[0])
        from = m.index + m[0].length
      }
      if (from < p.length) next.push(p.slice(from))
    }
    pieces = next
  }
  return pieces
}

class Gpt2Tokenizer extends VocabTokenizer {
  private readonly ranks = new Map<string, number>()
  private readonly pre: { regexes: RegExp[], ignoreMerges: boolean }

  constructor (override readonly spec: Gpt2TokenizerSpec) {
    super(spec)
    spec.merges.forEach((m, rank) => {
      const at = m.indexOf(' ', 1)
      const key = `${m.slice(0, at)} ${m.slice(at + 1)}`
      if (!this.ranks.has(key)) this.ranks.set(key, rank)
    })
    this.pre = preTokenizer(spec.pre)
  }

  encode (text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = []
    for (const f of this.partition(text, opts.parseSpecial ?? false)) {
      if ('id' in f) { out.push(f.id); continue }
      for (const word of preTokenize(f.text, this.pre.regexes)) {
        const mapped = Array.from(utf8.encode(word), (b) => BYTE_TO_UNICODE[b]!)
        const whole = this.pre.ignoreMerges ? this.ids.get(mapped.join('')) : undefined
        if (whole !== undefined) { out.push(whole); continue }
        const pieces = mergeSymbols(mapped, (a, b) => {
          const r = this.ranks.get(`${a} ${b}`)
          return r === undefined ? undefined : -r
        })
        for (const piece of pieces) {
          const id = this.ids.get(piece)
          if (id !== undefined) { out.push(id); continue }
          for (const ch of piece) {
            const cid = this.ids.get(ch) ?? this.spec.unk
            if (cid !== undefined) out.push(cid)
          }
        }
      }
    }
    return this.withSpecials(out, opts)
  }

  pieceBytes (id: number, opts: DecodeOptions = {}): Uint8Array {
    checkId(id, this.vocab)
    const text = this.spec.tokens[id]!
    switch (this.spec.types[id]) {
      case TokenType.CONTROL:
      case TokenType.UNKNOWN:
        return opts.renderSpecial === true ? utf8.encode(text) : new Uint8Array(0)
      case TokenType.UNUSED:
        return new Uint8Array(0)
      case TokenType.USER_DEFINED:
        return utf8.encode(text)
      default: {
        const bytes: number[] = []
        for (const ch of text) {
          const b = UNICODE_TO_BYTE.get(ch)
          if (b !== undefined) bytes.push(b)
          else bytes.push(...utf8.encode(ch))
        }
        return Uint8Array.from(bytes)
      }
    }
  }
}
