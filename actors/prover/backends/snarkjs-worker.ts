// Piscina worker of the prover: circom witness calculation, snarkjs Groth16 proving and
// verification, off the node's event loop. Files are read once per worker and kept; a
// task carries paths, not key material. Errors cross back as plain Errors, so the
// caller classifies them by the operation that failed (see pool.ts).

import { readFile } from 'node:fs/promises'
import { importWithFfjavascript, loadSnarkjs } from '../snarkjs-api.js'
import type { CircuitInput, Groth16Proof } from '../types.js'

export type ProverTask =
  | { op: 'witness', circuit: string, wasm: string, input: CircuitInput }
  | { op: 'prove', circuit: string, zkey: string, wtns: Uint8Array, singleThread: boolean }
  | { op: 'verify', circuit: string, vkey: unknown, proof: Groth16Proof, publicSignals: string[] }

export interface WitnessResult { wtns: Uint8Array, ms: number }
export interface ProveResult { proof: Groth16Proof, publicSignals: string[], ms: number }
export interface VerifyResult { valid: boolean, ms: number }

const files = new Map<string, Promise<Uint8Array>>()

/** circom_runtime's calculator (snarkjs's own dependency), as used here. */
interface WitnessCalculator { calculateWTNSBin: (input: unknown, sanityCheck: boolean) => Promise<Uint8Array> }
type CalculatorBuilder = (code: Uint8Array) => Promise<WitnessCalculator>
const RUNTIME = 'circom_runtime'
/**
 * One calculator per circuit, kept: building one compiles the WebAssembly and reserves
 * its memory (2 GiB by default), which cost ~300 ms per witness when snarkjs's
 * wtns.calculate did it every time; a kept one computes the receipt witness in ~10 ms.
 */
const calculators = new Map<string, Promise<WitnessCalculator>>()

async function calculator (wasm: string): Promise<WitnessCalculator> {
  let c = calculators.get(wasm)
  if (c === undefined) {
    c = (async () => {
      const { WitnessCalculatorBuilder } = await importWithFfjavascript(RUNTIME) as { WitnessCalculatorBuilder: CalculatorBuilder }
      return await WitnessCalculatorBuilder(await fileBytes(wasm))
    })()
    calculators.set(wasm, c)
    c.catch(() => calculators.delete(wasm))
  }
  return await c
}

async function fileBytes (file: string): Promise<Uint8Array> {
  let p = files.get(file)
  if (p === undefined) {
    p = readFile(file).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    files.set(file, p)
    p.catch(() => files.delete(file))
  }
  return await p
}

export default async function runProverTask (task: ProverTask): Promise<WitnessResult | ProveResult | VerifyResult> {
  // Modules load before the clock starts: a worker's first task pays for them in the
  // bundle's overheadMs, not in its phase. A witness needs circom_runtime only, so a
  // worker that serves the native prover never loads snarkjs.
  if (task.op === 'witness') {
    await importWithFfjavascript(RUNTIME)
    const started = performance.now()
    const wc = await calculator(task.wasm)
    try {
      return { wtns: await wc.calculateWTNSBin(task.input, true), ms: performance.now() - started }
    } catch (err) {
      // The calculator keeps its last error text: start the next witness on a fresh one.
      calculators.delete(task.wasm)
      throw err
    }
  }
  const snarkjs = await loadSnarkjs()
  const started = performance.now()
  switch (task.op) {
    case 'prove': {
      const { proof, publicSignals } = await snarkjs.groth16.prove({ type: 'mem', data: await fileBytes(task.zkey) }, { type: 'mem', data: task.wtns }, undefined, { singleThread: task.singleThread })
      return { proof, publicSignals, ms: performance.now() - started }
    }
    case 'verify': {
      const valid = await snarkjs.groth16.verify(task.vkey, task.publicSignals, task.proof)
      return { valid, ms: performance.now() - started }
    }
  }
}
