// Poseidon over BN254 exactly as circomlib's circuits/poseidon.circom computes it: the
// optimised form (constants C, S, M, P) read from circomlib's own poseidon_constants.circom,
// so the TypeScript and the circuit cannot drift apart. Parsed once per width, on first use.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { VerimeshError } from '../runtime/errors.js'
import { mod, P } from './field.js'

const N_ROUNDS_F = 8
const N_ROUNDS_P = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68] as const
export const POSEIDON_MAX_INPUTS = 16

interface Constants { C: bigint[], S: bigint[], M: bigint[][], P: bigint[][] }

let source: string | undefined
const cache = new Map<number, Constants>()

function constantsSource (): string {
  if (source === undefined) {
    const require = createRequire(import.meta.url)
    const file = require.resolve('circomlib/circuits/poseidon_constants.circom')
    source = readFileSync(file, 'utf8')
  }
  return source
}

/** The hex numbers of `return [...]` in branch `t==width` of circom function `fn`. */
function parseBranch (text: string, fn: string, width: number): bigint[] {
  const start = text.indexOf(`function ${fn}(t)`)
  if (start < 0) throw new VerimeshError('INTERNAL', `circomlib poseidon_constants.circom has no function ${fn}`)
  const re = new RegExp(`t\\s*==\\s*${width}\\s*\\)`, 'g')
  re.lastIndex = start
  const found = re.exec(text)
  // the branch must lie inside this function, i.e. before the next one begins
  const next = text.indexOf('function ', start + 1)
  const branch = found === null || (next >= 0 && found.index > next) ? -1 : found.index
  if (branch < 0) throw new VerimeshError('INTERNAL', `circomlib ${fn} has no branch for t=${width}`)
  const open = text.indexOf('[', branch)
  let depth = 0
  let end = open
  for (; end < text.length; end++) {
    const c = text[end]
    if (c === '[') depth++
    else if (c === ']' && --depth === 0) break
  }
  const body = text.slice(open, end + 1)
  return (body.match(/0x[0-9a-fA-F]+/g) ?? []).map((h) => BigInt(h))
}

function constants (t: number): Constants {
  let c = cache.get(t)
  if (c !== undefined) return c
  const text = constantsSource()
  const nP = N_ROUNDS_P[t - 2]!
  const flatM = parseBranch(text, 'POSEIDON_M', t)
  const flatP = parseBranch(text, 'POSEIDON_P', t)
  const C = parseBranch(text, 'POSEIDON_C', t)
  const S = parseBranch(text, 'POSEIDON_S', t)
  if (C.length !== t * N_ROUNDS_F + nP || S.length !== nP * (2 * t - 1) || flatM.length !== t * t || flatP.length !== t * t) {
    throw new VerimeshError('INTERNAL', `circomlib Poseidon constants for t=${t} have unexpected sizes`, { C: C.length, S: S.length, M: flatM.length, P: flatP.length })
  }
  const rows = (flat: bigint[]): bigint[][] => Array.from({ length: t }, (_, i) => flat.slice(i * t, (i + 1) * t))
  c = { C, S, M: rows(flatM), P: rows(flatP) }
  cache.set(t, c)
  return c
}

function pow5 (x: bigint): bigint {
  const x2 = x * x % P
  return x2 * x2 % P * x % P
}

/** out[i] = Σ_j M[j][i]·in[j] (circomlib's Mix). */
function mix (state: bigint[], M: bigint[][]): bigint[] {
  const t = state.length
  const out = new Array<bigint>(t)
  for (let i = 0; i < t; i++) {
    let acc = 0n
    for (let j = 0; j < t; j++) acc += M[j]![i]! * state[j]!
    out[i] = acc % P
  }
  return out
}

/** circomlib Poseidon(n) for 1 ≤ n ≤ 16 inputs (initial state 0, one output). */
export function poseidon (inputs: ReadonlyArray<bigint | number>): bigint {
  const n = inputs.length
  if (n < 1 || n > POSEIDON_MAX_INPUTS) throw new VerimeshError('PROOF_INPUT_INVALID', `Poseidon takes 1 to ${POSEIDON_MAX_INPUTS} inputs, got ${n}`)
  const t = n + 1
  const { C, S, M, P: Pm } = constants(t)
  const nP = N_ROUNDS_P[t - 2]!
  const half = N_ROUNDS_F / 2
  let s = [0n, ...inputs.map((v) => mod(BigInt(v)))].map((v, i) => (v + C[i]!) % P)
  for (let r = 0; r < half - 1; r++) {
    s = s.map((v, i) => (pow5(v) + C[(r + 1) * t + i]!) % P)
    s = mix(s, M)
  }
  s = s.map((v, i) => (pow5(v) + C[half * t + i]!) % P)
  s = mix(s, Pm)
  for (let r = 0; r < nP; r++) {
    const s0 = (pow5(s[0]!) + C[(half + 1) * t + r]!) % P
    const base = (2 * t - 1) * r
    let acc = S[base]! * s0
    for (let i = 1; i < t; i++) acc += S[base + i]! * s[i]!
    const next = new Array<bigint>(t)
    next[0] = acc % P
    for (let i = 1; i < t; i++) next[i] = (s[i]! + s0 * S[base + t + i - 1]!) % P
    s = next
  }
  for (let r = 0; r < half - 1; r++) {
    s = s.map((v, i) => (pow5(v) + C[(half + 1) * t + nP + r * t + i]!) % P)
    s = mix(s, M)
  }
  s = s.map(pow5)
  let out = 0n
  for (let j = 0; j < t; j++) out += M[j]![0]! * s[j]!
  return out % P
}

/**
 * The commitment every circuit here uses for a list of values (circuits/lib/commit.circom
 * HashChain): h = Poseidon16(tag·2^32 + n, v0..v14), then h = Poseidon16(h, next 15) until
 * the values run out, the last chunk padded with zeros. The tag separates kinds of
 * commitment; the length in the first element makes the zero padding unambiguous.
 */
export function hashChain (tag: number, values: ReadonlyArray<bigint | number>): bigint {
  if (!Number.isInteger(tag) || tag < 0 || tag >= 2 ** 32) throw new VerimeshError('PROOF_INPUT_INVALID', `hash chain tag ${tag} is not a u32`)
  const head = BigInt(tag) * 2n ** 32n + BigInt(values.length)
  const all: Array<bigint | number> = [head, ...values]
  const chunks = Math.max(1, Math.ceil((all.length - 1) / 15))
  let h: bigint | undefined
  for (let c = 0; c < chunks; c++) {
    const part = all.slice(1 + 15 * c, 1 + 15 * (c + 1))
    while (part.length < 15) part.push(0n)
    h = poseidon([c === 0 ? head : h!, ...part])
  }
  return h!
}
