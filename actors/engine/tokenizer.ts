// The toy model's tokenizer: UTF-8 bytes are tokens. Real tokenizers (from GGUF
// metadata) arrive with the native engine; this keeps the request path honest
// meanwhile: text in, token ids through the mesh, text out.

import { VerimeshError } from '../../runtime/errors.js'

export function encodePrompt (prompt: string, vocab: number): number[] {
  const tokens = [...Buffer.from(prompt, 'utf8')]
  if (tokens.length === 0) throw new VerimeshError('REQUEST_INVALID', 'prompt is empty')
  const bad = tokens.find((t) => t >= vocab)
  if (bad !== undefined) throw new VerimeshError('REQUEST_INVALID', `prompt byte ${bad} is outside the model's vocabulary of ${vocab}`, { vocab })
  return tokens
}

/** Lossy on purpose: a random model emits arbitrary bytes, shown with U+FFFD where invalid. */
export function decodeTokens (tokens: readonly number[]): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(tokens.map((t) => t & 0xff)))
}
