// Piscina worker of the prover: circom witness calculation, snarkjs Groth16 proving and
// verification, off the node's event loop. Files are read once per worker and kept; a
// task carries paths, not key material. Errors cross back as plain Errors, so the
// caller classifies them by the operation that failed (see pool.ts).

import { readFile } from 'node:fs/promises'
import { calculate } from '../../../circuits/witness.js'
import { loadSnarkjs } from '../snarkjs-api.js'
import type { CircuitInput, Groth16Proof } from '../types.js'

export type ProverTask =
  | { op: 'witness', circuit: string, wasm: string, input: CircuitInput }
  | { op: 'prove', circuit: string, zkey: string, wtns: Uint8Array, singleThread: boolean }
  | { op: 'verify', circuit: string, vkey: unknown, proof: Groth16Proof, publicSignals: string[] }

export interface WitnessResult { wtns: Uint8Array, ms: number }
export interface ProveResult { proof: Groth16Proof, publicSignals: string[], ms: number }
export interface VerifyResult { valid: boolean, ms: number }

const files = new Map<string, Promise<Uint8Array>>()

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
  // A witness needs circom's generated calculator only (circuits/witness.ts), so a worker
  // that serves the native prover never loads snarkjs. A calculator's first build falls
  // in that witness's phase.
  if (task.op === 'witness') {
    const started = performance.now()
    const wtns = await calculate({ wasmPath: task.wasm, input: task.input, circuit: task.circuit })
    return { wtns, ms: performance.now() - started }
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
