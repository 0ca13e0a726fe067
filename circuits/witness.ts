// Witness generation through circom's generated WebAssembly calculator, in
// this thread or in a Piscina worker pool. A witness that violates a constraint (a wrong
// claimed statement, an out-of-range value) fails here with PROOF_INPUT_INVALID.

import { readFile } from 'node:fs/promises'
import os from 'node:os'
import { Piscina } from 'piscina'
import { VerimeshError, type WireError } from '../runtime/errors.js'
import type { CircuitInput } from './input.js'
import { importWithFfjavascript } from './snarkjs.js'

export interface WitnessTask {
  /** Absolute path of the circuit's .wasm calculator. */
  readonly wasmPath: string
  readonly input: CircuitInput
  /** For error messages. */
  readonly circuit?: string
}

/** The .wtns file bytes for `input`. */
export async function computeWitness (circuit: { name: string, wasmPath: string }, input: CircuitInput): Promise<Uint8Array> {
  return await calculate({ wasmPath: circuit.wasmPath, input, circuit: circuit.name })
}

interface Calculator { calculateWTNSBin: (input: unknown, sanityCheck: boolean) => Promise<Uint8Array> }
type Builder = (code: Uint8Array) => Promise<Calculator>

const CIRCOM_RUNTIME = 'circom_runtime'

/**
 * circom's witness calculator for a .wasm: circom_runtime's builder (the code circom
 * also emits as witness_calculator.js, and what snarkjs uses), so that the .wasm alone
 * is enough. Imported through importWithFfjavascript: it loads ffjavascript, which
 * cannot be imported plainly inside a worker thread.
 */
async function buildCalculator (wasmPath: string): Promise<Calculator> {
  const { WitnessCalculatorBuilder } = await importWithFfjavascript(CIRCOM_RUNTIME) as { WitnessCalculatorBuilder: Builder }
  return await WitnessCalculatorBuilder(new Uint8Array(await readFile(wasmPath)))
}

/**
 * One calculator per circuit, kept: building one compiles the WebAssembly and reserves its
 * memory, which cost ~300 ms per witness when done every time; a kept one computes the
 * receipt witness in ~10 ms. After a failure it is dropped, because circom's calculator
 * keeps the error text of earlier calls.
 */
const calculators = new Map<string, Promise<Calculator>>()

async function calculatorFor (wasmPath: string): Promise<Calculator> {
  let c = calculators.get(wasmPath)
  if (c === undefined) {
    c = buildCalculator(wasmPath)
    calculators.set(wasmPath, c)
    c.catch(() => calculators.delete(wasmPath))
  }
  return await c
}

/**
 * Runs fn after every earlier call for the same key has finished. A calculator is one
 * WebAssembly instance with one memory: two witnesses interleaved on it (calculateWTNSBin
 * is async) would write into each other's signals.
 */
const turns = new Map<string, Promise<void>>()
async function oneAtATime<T> (key: string, fn: () => Promise<T>): Promise<T> {
  const before = turns.get(key) ?? Promise.resolve()
  let done!: () => void
  const mine = before.then(async () => await new Promise<void>((resolve) => { done = resolve }))
  turns.set(key, mine)
  await before
  try {
    return await fn()
  } finally {
    done()
    if (turns.get(key) === mine) turns.delete(key)
  }
}

export async function calculate (task: WitnessTask): Promise<Uint8Array> {
  return await oneAtATime(task.wasmPath, async () => {
    let calc: Calculator
    try {
      calc = await calculatorFor(task.wasmPath)
    } catch (err) {
      throw VerimeshError.from(err, 'PROVER_UNAVAILABLE', { circuit: task.circuit, wasm: task.wasmPath })
    }
    try {
      return await calc.calculateWTNSBin(task.input, true)
    } catch (err) {
      calculators.delete(task.wasmPath)
      const msg = (err as Error).message ?? String(err)
      // circom's calculator reports a failed `===` as "Assert Failed" (with the template and
      // line), unknown or missing signals by name: the input does not satisfy the circuit.
      throw new VerimeshError('PROOF_INPUT_INVALID', `witness calculation for ${task.circuit ?? task.wasmPath} failed: ${msg.trim().split('\n').join('; ')}`, { circuit: task.circuit, wasm: task.wasmPath }, { cause: err })
    }
  })
}

/** What a worker returns: errors as data, since a thrown error loses its code crossing threads. */
export type WitnessResult = { readonly wtns: Uint8Array } | { readonly error: WireError }

export type WitnessPool = Piscina<WitnessTask, WitnessResult>

/** A pool of witness workers (circuits/witness-worker.ts). */
export function createWitnessPool (threads?: number): WitnessPool {
  return new Piscina<WitnessTask, WitnessResult>({
    filename: new URL('./witness-worker.js', import.meta.url).href,
    minThreads: 0,
    maxThreads: threads ?? Math.max(1, Math.min(4, os.availableParallelism())),
    idleTimeout: 30_000
  })
}

/** computeWitness in a worker of `pool`; errors arrive as VerimeshError like in-thread ones. */
export async function computeWitnessInPool (pool: WitnessPool, circuit: { name: string, wasmPath: string }, input: CircuitInput): Promise<Uint8Array> {
  let result: WitnessResult
  try {
    result = await pool.run({ wasmPath: circuit.wasmPath, input, circuit: circuit.name })
  } catch (err) {
    throw VerimeshError.from(err, 'INTERNAL', { circuit: circuit.name })
  }
  if ('error' in result) throw VerimeshError.fromWire(result.error, { circuit: circuit.name })
  return result.wtns
}

/** The witness values of a .wtns file (section 2), as field elements. */
export function readWitness (wtns: Uint8Array): bigint[] {
  const view = new DataView(wtns.buffer, wtns.byteOffset, wtns.byteLength)
  const magic = String.fromCharCode(...wtns.subarray(0, 4))
  if (magic !== 'wtns') throw new VerimeshError('PROOF_INPUT_INVALID', `not a .wtns file (magic '${magic}')`)
  const nSections = view.getUint32(8, true)
  let off = 12
  let n8 = 0
  let count = 0
  let data = -1
  for (let s = 0; s < nSections; s++) {
    const id = view.getUint32(off, true)
    const size = Number(view.getBigUint64(off + 4, true))
    const body = off + 12
    if (id === 1) { n8 = view.getUint32(body, true); count = view.getUint32(body + 4 + n8, true) }
    if (id === 2) data = body
    off = body + size
  }
  if (n8 === 0 || data < 0) throw new VerimeshError('PROOF_INPUT_INVALID', '.wtns file lacks its header or data section')
  const out = new Array<bigint>(count)
  for (let i = 0; i < count; i++) {
    let v = 0n
    for (let b = n8 - 1; b >= 0; b--) v = (v << 8n) | BigInt(wtns[data + i * n8 + b]!)
    out[i] = v
  }
  return out
}
