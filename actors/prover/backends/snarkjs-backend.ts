// snarkjs's Groth16 prover in the Piscina pool. Always available: it is plain JavaScript
// and WebAssembly. By default snarkjs proves on ffjavascript's curve, shared by every
// proof in the worker, with one ffjavascript thread per core. threads = 1 asks snarkjs
// for a single-threaded curve instead, which it builds anew for every proof (slower on
// small circuits, but it never uses more than the worker's own thread).

import os from 'node:os'
import type { CircuitArtifacts } from '../circuits.js'
import type { Availability, BackendProof, ProverBackend } from './backend.js'
import type { ProverPool } from './pool.js'

export class SnarkjsPiscinaBackend implements ProverBackend {
  readonly name = 'snarkjs' as const
  readonly #pool: ProverPool
  readonly #singleThread: boolean

  constructor (pool: ProverPool, opts: { threads?: number } = {}) {
    this.#pool = pool
    this.#singleThread = opts.threads === 1
  }

  available (): Availability {
    return { available: true, detail: `snarkjs in a worker thread, ${this.#singleThread ? 'single-threaded' : 'ffjavascript threads (one per core)'}` }
  }

  async prove (circuit: CircuitArtifacts, wtns: Uint8Array): Promise<BackendProof> {
    const r = await this.#pool.prove(circuit, wtns, this.#singleThread)
    // ffjavascript starts min(cores, 64) threads; it has no other setting.
    return { proof: r.proof, publicSignals: r.publicSignals, proveMs: r.ms, phases: {}, threads: this.#singleThread ? 1 : Math.max(1, Math.min(64, os.cpus().length)) }
  }

  // The pool belongs to the prover service, which closes it.
  async close (): Promise<void> {}
}
