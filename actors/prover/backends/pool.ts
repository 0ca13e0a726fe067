// The prover's Piscina pool: witness calculation, snarkjs proving and verification run
// in worker threads so a proof never blocks the node's event loop. A worker that dies
// mid-task (process.exit, an abort in WebAssembly) fails only that task: Piscina
// replaces the worker and the next task runs on a fresh one.

import { Piscina } from 'piscina'
import { VerimeshError, type ErrorCode } from '../../../runtime/errors.js'
import type { CircuitArtifacts } from '../circuits.js'
import type { CircuitInput, Groth16Proof } from '../types.js'
import type { ProveResult, ProverTask, VerifyResult, WitnessResult } from './snarkjs-worker.js'

export const DEFAULT_WORKER = new URL('./snarkjs-worker.js', import.meta.url)

export interface ProverPoolOptions {
  /** Worker threads (each runs one task at a time). Default 1. */
  threads?: number
  /** The worker module. Tests point this at a worker that misbehaves on purpose. */
  workerFile?: URL
  /** Idle workers exit after this long; the pool starts them again on demand. */
  idleTimeoutMs?: number
}

/** Messages of worker deaths, as Piscina and Node word them. */
const WORKER_DIED = /worker (exited|terminated)|terminated|exit code|Worker stopped/i

export class ProverPool {
  readonly threads: number
  readonly #pool: Piscina
  #closed = false

  constructor (opts: ProverPoolOptions = {}) {
    this.threads = opts.threads ?? 1
    this.#pool = new Piscina({
      filename: (opts.workerFile ?? DEFAULT_WORKER).href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: opts.idleTimeoutMs ?? 60_000
    })
  }

  async witness (circuit: CircuitArtifacts, input: CircuitInput): Promise<WitnessResult> {
    return await this.#run({ op: 'witness', circuit: circuit.name, wasm: circuit.wasm, input }, 'PROOF_INPUT_INVALID', `the input does not satisfy circuit '${circuit.name}'`) as WitnessResult
  }

  async prove (circuit: CircuitArtifacts, wtns: Uint8Array, singleThread: boolean): Promise<ProveResult> {
    return await this.#run({ op: 'prove', circuit: circuit.name, zkey: circuit.zkey, wtns, singleThread }, 'PROOF_FAILED', `snarkjs could not prove '${circuit.name}'`) as ProveResult
  }

  async verify (circuit: string, vkey: unknown, proof: Groth16Proof, publicSignals: string[]): Promise<VerifyResult> {
    return await this.#run({ op: 'verify', circuit, vkey, proof, publicSignals }, 'PROOF_FAILED', `snarkjs could not check a '${circuit}' proof`) as VerifyResult
  }

  async #run (task: ProverTask, code: ErrorCode, what: string): Promise<unknown> {
    if (this.#closed) throw new VerimeshError('ACTOR_STOPPED', 'the prover pool is closed', { op: task.op, circuit: task.circuit })
    try {
      return await this.#pool.run(task)
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).trim()
      // A dead worker says nothing about the input: report it as the prover's failure.
      if (WORKER_DIED.test(message)) {
        throw new VerimeshError('PROOF_FAILED', `prover worker died during ${task.op} of '${task.circuit}': ${message}`, { op: task.op, circuit: task.circuit, workerDied: true }, { cause: err })
      }
      throw new VerimeshError(code, `${what}: ${message}`, { op: task.op, circuit: task.circuit }, { cause: err })
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.destroy()
  }
}
