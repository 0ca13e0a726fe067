import test from 'ava'
import { BYTE_TO_UNICODE, bytesTokenizerSpec, createTokenizer, preTokenize, preTokenizer, TokenType, type Gpt2TokenizerSpec, type LlamaTokenizerSpec } from '../actors/engine/model/tokenizer.js'
import { bytesVocabulary } from '../actors/engine/model/tokenizer-gguf.js'

const TEXTS = ['hello world', 'Hello, World!  two  spaces', ' leading and trailing ', 'naïve café — 東京 🙂\n\ttabs', '', 'a']

// ---------------------------------------------------------------------------------------
// bytes

test('bytes: specials then bytes, BOS per spec, exact round trip', (t) => {
  const tok = createTokenizer(bytesTokenizerSpec(300))
  t.deepEqual(tok.encode('Hi é'), [1, 3 + 72, 3 + 105, 3 + 32, 3 + 0xc3, 3 + 0xa9])
  t.deepEqual(tok.encode('Hi', { addSpecial: false }), [3 + 72, 3 + 105])
  t.deepEqual(createTokenizer(bytesTokenizerSpec(259, false)).encode('A'), [3 + 65])
  for (const s of TEXTS) t.is(tok.decode(tok.encode(s)), s)
  // Specials and the unused ids above 258 decode to nothing.
  t.is(tok.decode([1, 3 + 72, 2, 299, 0, 3 + 105]), 'Hi')
  t.is(tok.decode([1, 3 + 72], { renderSpecial: true }), '<s>H')
  t.throws(() => tok.decode([300]), { message: /outside the vocabulary of 300/ })
  t.throws(() => bytesTokenizerSpec(200), { message: /at least 259/ })
})

test('bytes: the exported GGUF vocabulary (byte-level BPE, no merges) gives the same ids', (t) => {
  const { tokens, types } = bytesVocabulary(270)
  t.is(tokens.length, 270)
  t.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', BYTE_TO_UNICODE[0]])
  t.is(tokens[3 + 0x20], 'Ġ')
  t.is(types[269], TokenType.UNUSED)
  const asGpt2 = createTokenizer({ type: 'gpt2', pre: 'default', tokens, types, merges: [], bos: 1, eos: 2, unk: 0, addBos: true, addEos: false })
  const bytes = createTokenizer(bytesTokenizerSpec(270))
  for (const s of TEXTS) {
    t.deepEqual(asGpt2.encode(s), bytes.encode(s), JSON.stringify(s))
    t.is(asGpt2.decode(bytes.encode(s)), s)
  }
})

// ---------------------------------------------------------------------------------------
// SentencePiece (llama)

function spm (extra: Array<[string, number, number?]>, opts: Partial<LlamaTokenizerSpec> = {}): LlamaTokenizerSpec {
  const tokens: string[] = ['<unk>', '<s>', '</s>']
  const scores: number[] = [0, 0, 0]
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); scores.push(0); types.push(TokenType.BYTE) }
  for (const [text, score, type] of extra) { tokens.push(text); scores.push(score); types.push(type ?? TokenType.NORMAL) }
  return { type: 'llama', tokens, scores, types, bos: 1, eos: 2, unk: 0, addBos: true, addEos: false, addSpacePrefix: true, ...opts }
}

const SPM_PIECES: Array<[string, number, number?]> = [
  ['▁', -1], // 259
  ['h', -2], // 260
  ['e', -3], // 261
  ['l', -4], // 262
  ['o', -5], // 263
  ['ll', 5], // 264
  ['he', 4], // 265
  ['hell', 3], // 266
  ['hello', 2], // 267
  ['▁hello', 1], // 268
  ['a', -6], // 269
  ['aa', 0.5], // 270
  ['w', -7], // 271
  ['r', -8], // 272
  ['d', -9], // 273
  ['<tool>', 0, TokenType.USER_DEFINED] // 274
]

test('llama SPM: merges by score, leftmost first on ties, byte fallback, the ▁ space marker', (t) => {
  const tok = createTokenizer(spm(SPM_PIECES))
  // ▁ h e l l o → ll(5) → he(4) → hell(3) → hello(2) → ▁hello(1)
  t.deepEqual(tok.encode('hello'), [1, 268])
  t.deepEqual(tok.encode('hello', { addSpecial: false }), [268])
  // Ties go to the leftmost pair: ▁ [aa] a.
  t.deepEqual(tok.encode('aaa', { addSpecial: false }), [259, 270, 269])
  t.deepEqual(tok.encode('hello world', { addSpecial: false }), [268, 259, 271, 263, 272, 262, 273])
  // '€' is not a piece: its three UTF-8 bytes, as <0xE2> <0x82> <0xAC>.
  t.deepEqual(tok.encode('h€', { addSpecial: false }), [259, 260, 3 + 0xe2, 3 + 0x82, 3 + 0xac])
  // Without the space prefix, no leading ▁.
  t.deepEqual(createTokenizer(spm(SPM_PIECES, { addSpacePrefix: false })).encode('hello', { addSpecial: false }), [267])
  // User-defined tokens are cut out of the text first.
  t.deepEqual(tok.encode('hello<tool>aa', { addSpecial: false }), [268, 274, 259, 270])
  // Control tokens are literal text unless asked for.
  t.deepEqual(tok.encode('<s>', { addSpecial: false, parseSpecial: true }), [1])
  t.not(tok.encode('<s>', { addSpecial: false })[0], 1)
  t.deepEqual(createTokenizer(spm(SPM_PIECES, { addEos: true })).encode('aa'), [1, 259, 270, 2])
  // Empty text is just the specials, as in llama.cpp.
  t.deepEqual(tok.encode(''), [1])
  t.deepEqual(tok.encode('', { addSpecial: false }), [])
})

test('llama SPM: decode(encode(s)) == s for ASCII and UTF-8 text', (t) => {
  const tok = createTokenizer(spm(SPM_PIECES))
  for (const s of TEXTS) t.is(tok.decode(tok.encode(s)), s, JSON.stringify(s))
  t.is(tok.decode([1, 268, 2]), 'hello')
  t.is(tok.decode([1, 268, 2], { renderSpecial: true }), '<s>hello</s>')
  t.is(tok.decode([3 + 0xe2, 3 + 0x82, 3 + 0xac]), '€')
})

// ---------------------------------------------------------------------------------------
// byte-level BPE (gpt2)

function gpt2 (merges: string[], extra: Array<[string, number]> = [], opts: Partial<Gpt2TokenizerSpec> = {}): Gpt2TokenizerSpec {
  const tokens = [...BYTE_TO_UNICODE] // id = byte
  const types = tokens.map(() => TokenType.NORMAL as number)
  for (const m of merges) { tokens.push(m.replace(' ', '')); types.push(TokenType.NORMAL) }
  for (const [text, type] of extra) { tokens.push(text); types.push(type) }
  return { type: 'gpt2', pre: 'gpt2', tokens, types, merges, addBos: false, addEos: false, ...opts }
}

const MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'l d', 'Ġwor ld', 'b c', 'a b']
// ids: he 256, ll 257, hell 258, hello 259, Ġw 260, or 261, Ġwor 262, ld 263, Ġworld 264, bc 265, ab 266

test('gpt2 BPE: merges applied by rank, byte-level fallback, specials, BOS per metadata', (t) => {
  const tok = createTokenizer(gpt2(MERGES, [['<|endoftext|>', TokenType.CONTROL], ['<|im_start|>', TokenType.USER_DEFINED], ['xyz', TokenType.NORMAL]]))
  t.deepEqual(tok.encode('hello world'), [259, 264])
  // 'b c' ranks before 'a b': a + bc; with the ranks swapped: ab + c.
  t.deepEqual(tok.encode('abc'), [97, 265])
  t.deepEqual(createTokenizer(gpt2(['a b', 'b c'])).encode('abc'), [256, 99])
  // Unseen characters are their UTF-8 bytes, each a byte-level token.
  t.deepEqual(tok.encode('é'), [0xc3, 0xa9])
  t.deepEqual(tok.encode(' 🙂'), [0x20, 0xf0, 0x9f, 0x99, 0x82])
  // A user-defined token is cut out; a control token only with parseSpecial.
  t.deepEqual(tok.encode('<|im_start|>hello'), [268, 259])
  t.deepEqual(tok.encode('<|endoftext|>', { parseSpecial: true }), [267])
  t.true(tok.encode('<|endoftext|>').length > 1)
  // Whole words in the vocabulary skip merging only for the llama3 pre-tokenizer.
  t.deepEqual(tok.encode('xyz'), [120, 121, 122])
  t.deepEqual(createTokenizer({ ...gpt2(MERGES, [['xyz', TokenType.NORMAL]]), pre: 'llama-bpe' }).encode('xyz'), [267])
  const withBos = createTokenizer(gpt2(MERGES, [['<|begin|>', TokenType.CONTROL]], { bos: 267, addBos: true }))
  t.deepEqual(withBos.encode('hello'), [267, 259])
  t.deepEqual(withBos.encode(''), [267])
  t.is(withBos.decode([267, 259, 264]), 'hello world')
  t.is(withBos.decode([267, 259], { renderSpecial: true }), '<|begin|>hello')
})

test('gpt2 BPE: decode(encode(s)) == s for ASCII and UTF-8 text, every pre-tokenizer', (t) => {
  for (const pre of ['gpt2', 'llama-bpe', 'qwen2', 'smollm', 'default']) {
    const tok = createTokenizer({ ...gpt2(MERGES), pre })
    for (const s of TEXTS) t.is(tok.decode(tok.encode(s)), s, `${pre}: ${JSON.stringify(s)}`)
  }
})

test('pre-tokenizers split like llama.cpp: letters, numbers, contractions', (t) => {
  const llama3 = preTokenizer('llama-bpe')
  t.is(llama3.name, 'llama3')
  t.deepEqual(preTokenize("Hello, world! 12345 don't", llama3.regexes), ['Hello', ',', ' world', '!', ' ', '123', '45', ' don', "'t"])
  t.deepEqual(preTokenize("WE'LL naïve мир", llama3.regexes), ['WE', "'LL", ' naïve', ' мир'])
  t.deepEqual(preTokenize('a12345', preTokenizer('qwen2').regexes), ['a', '1', '2', '3', '4', '5'])
  t.deepEqual(preTokenize("it's  x", preTokenizer('gpt2').regexes), ['it', "'s", ' ', ' x'])
  t.deepEqual(preTokenize('line\n\nnext', llama3.regexes), ['line', '\n\n', 'next'])
  // Nothing is ever dropped.
  for (const s of TEXTS) t.is(preTokenize(s, preTokenizer('default').regexes).join(''), s)
})

test('tokenizer specs are validated', (t) => {
  t.throws(() => createTokenizer({ ...spm([]), scores: [1] }), { message: /scores must be 259/ })
  t.throws(() => createTokenizer({ ...spm([]), bos: 999 }), { message: /bos id 999/ })
  t.throws(() => createTokenizer({ ...gpt2([]), merges: ['nospace'] }), { message: /merges/ })
  t.throws(() => createTokenizer({ type: 'wordpiece' } as never), { message: /unknown type/ })
})
