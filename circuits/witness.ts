// Witness generation through circom's generated WebAssembly calculator, in
// this thread or in a Piscina worker pool. A witness that violates a constraint (a wrong
// claimed statement, an out-of-range value) fails here with PROOF_INPUT_INVALID.

import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Piscina } from 'piscina'
import { VerimeshError, type WireError } from '../runtime/errors.js'
import type { CircuitInput } from './input.js'

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

interface Calculator { calculateWTNSBin: (input: unknown, sanityCheck: number) => Promise<Uint8Array> }
type Builder = (code: Uint8Array, options?: unknown) => Promise<Calculator>

const builders = new Map<string, Promise<{ build: Builder, wasm: Uint8Array }>>()

/**
 * circom's generated witness_calculator.js next to the .wasm, evaluated as the CommonJS
 * module it is (it requires nothing; the repository's "type": "module" would make Node
 * read it as ESM), plus the wasm bytes: read once per circuit. snarkjs's copy of the same
 * calculator is not used because snarkjs cannot be imported inside a worker thread.
 */
async function builderFor (wasmPath: string): Promise<{ build: Builder, wasm: Uint8Array }> {
  let p = builders.get(wasmPath)
  if (p === undefined) {
    p = (async () => {
      const source = await readFile(path.join(path.dirname(wasmPath), 'witness_calculator.js'), 'utf8')
      const mod: { exports: unknown } = { exports: {} }
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      new Function('module', 'exports', source)(mod, mod.exports)
      if (typeof mod.exports !== 'function') throw new VerimeshError('PROVER_UNAVAILABLE', `${wasmPath}: witness_calculator.js exports no builder`)
      return { build: mod.exports as Builder, wasm: new Uint8Array(await readFile(wasmPath)) }
    })()
    builders.set(wasmPath, p)
    p.catch(() => builders.delete(wasmPath))
  }
  return await p
}

export async function calculate (task: WitnessTask): Promise<Uint8Array> {
  let b: { build: Builder, wasm: Uint8Array }
  try {
    b = await builderFor(task.wasmPath)
  } catch (err) {
    throw VerimeshError.from(err, 'PROVER_UNAVAILABLE', { circuit: task.circuit, wasm: task.wasmPath })
  }
  try {
    // A fresh instance per witness: the calculator accumulates error text across calls.
    const calc = await b.build(b.wasm)
    return await calc.calculateWTNSBin(task.input, 0)
  } catch (err) {
    const msg = (err as Error).message ?? String(err)
    // circom's calculator reports a failed `===` as "Assert Failed" (with the template and
    // line), unknown or missing signals by name: the input does not satisfy the circuit.
    throw new VerimeshError('PROOF_INPUT_INVALID', `witness calculation for ${task.circuit ?? task.wasmPath} failed: ${msg.trim().split('\n').join('; ')}`, { circuit: task.circuit, wasm: task.wasmPath }, { cause: err })
  }
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
