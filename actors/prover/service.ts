// The prover's work outside its actor: a bounded job queue, the witness step and the
// chosen backend. It lives in the role instance, not in the actor, so a supervisor
// restart of the actor (which rebuilds the actor from its factory) loses no accepted
// job: queued and running jobs go on and answer their askers. Only closing the role
// ends them, and then each gets an ACTOR_STOPPED error instead of silence.

import { VerimeshError } from '../../runtime/errors.js'
import type { Logger } from '../../runtime/node/logger.js'
import type { Receipt } from '../../runtime/protocol/messages.js'
import { RECEIPT_CIRCUIT, locateCircuit, type CircuitArtifacts } from './circuits.js'
import type { ProverBackend } from './backends/backend.js'
import { ProverPool } from './backends/pool.js'
import { selectBackend, type BackendChoice, type BackendPreference } from './backends/select.js'
import type { ProverMetrics } from './metrics.js'
import type { CircuitInput, ProofBundle, ProofTimings, ProverJob } from './types.js'

/** How a receipt becomes the receipt circuit's input and public signals (circuits/). */
export interface ReceiptEncoding {
  receiptInput: (receipt: Receipt) => CircuitInput
  /** The public signals a proof of `receipt` must carry, as decimal strings. */
  receiptPublicSignals: (receipt: Receipt) => string[]
}

export interface ProverServiceOptions {
  circuitsDir: string
  backend: BackendPreference
  /** Jobs allowed to wait behind the running ones; one more is refused with PROVER_BUSY. */
  maxQueued: number
  /** Jobs proved at the same time. */
  concurrency: number
  receipt: ReceiptEncoding
  /** The witness/snarkjs worker pool; made here when absent. */
  pool?: ProverPool
  /** Candidate backends; default: CUDA slot, native CPU, snarkjs. */
  backends?: (pool: ProverPool) => ProverBackend[]
  logger?: Logger
  metrics?: ProverMetrics
}

interface Job {
  readonly job: ProverJob
  readonly circuit: CircuitArtifacts
  readonly requestId: string | undefined
  readonly arrived: number
  readonly resolve: (b: ProofBundle) => void
  readonly reject: (e: VerimeshError) => void
  settled: boolean
}

export class ProverService {
  readonly choice: BackendChoice
  readonly #opts: ProverServiceOptions
  readonly #pool: ProverPool
  readonly #ownsPool: boolean
  readonly #backends: ProverBackend[]
  readonly #queue: Job[] = []
  readonly #running = new Set<Job>()
  #closed = false

  constructor (opts: ProverServiceOptions, defaultBackends: (pool: ProverPool) => ProverBackend[]) {
    this.#opts = opts
    this.#pool = opts.pool ?? new ProverPool({ threads: Math.max(1, opts.concurrency) })
    this.#ownsPool = opts.pool === undefined
    this.#backends = (opts.backends ?? defaultBackends)(this.#pool)
    this.choice = selectBackend(opts.backend, this.#backends)
  }

  /**
   * Load a built circuit's proving key now, so its first proof does not wait for it
   * (for the native prover: reading the .zkey and building its MSM tables, seconds).
   * Throws PROVER_UNAVAILABLE when the circuit is not built.
   */
  async warm (name: string): Promise<void> {
    const circuit = locateCircuit(this.#opts.circuitsDir, name)
    await this.choice.backend.warm?.(circuit)
  }

  get queued (): number { return this.#queue.length }
  get running (): number { return this.#running.size }

  /**
   * Accept a job. Rejects at once with PROVER_UNAVAILABLE (circuit not built),
   * PROOF_INPUT_INVALID (bad circuit name) or PROVER_BUSY (queue full); otherwise
   * settles when the proof is made or has failed.
   */
  async submit (job: ProverJob, meta: { requestId?: string } = {}): Promise<ProofBundle> {
    if (this.#closed) throw new VerimeshError('ACTOR_STOPPED', 'the prover is stopping', { requestId: meta.requestId })
    const circuit = locateCircuit(this.#opts.circuitsDir, job.kind === 'receipt' ? RECEIPT_CIRCUIT : job.circuit)
    if (this.#running.size >= this.#opts.concurrency && this.#queue.length >= this.#opts.maxQueued) {
      this.#count(circuit.name, 'PROVER_BUSY')
      throw new VerimeshError('PROVER_BUSY', `prover queue is full (${this.#opts.maxQueued} waiting, ${this.#running.size} running): try again later or another prover`, { queued: this.#queue.length, running: this.#running.size, maxQueued: this.#opts.maxQueued, requestId: meta.requestId })
    }
    return await new Promise<ProofBundle>((resolve, reject) => {
      this.#queue.push({ job, circuit, requestId: meta.requestId, arrived: performance.now(), resolve, reject, settled: false })
      this.#gauge()
      this.#pump()
    })
  }

  #pump (): void {
    while (!this.#closed && this.#running.size < this.#opts.concurrency && this.#queue.length > 0) {
      const j = this.#queue.shift()!
      this.#running.add(j)
      void this.#run(j).finally(() => {
        this.#running.delete(j)
        this.#gauge()
        this.#pump()
      })
    }
    this.#gauge()
  }

  async #run (j: Job): Promise<void> {
    const started = performance.now()
    const backend = this.choice.backend
    try {
      const input = this.#input(j.job)
      const w = await this.#pool.witness(j.circuit, input)
      const p = await backend.prove(j.circuit, w.wtns)
      if (j.job.kind === 'receipt') this.#checkReceiptSignals(j.job.receipt, p.publicSignals)
      const totalMs = performance.now() - j.arrived
      const queueMs = started - j.arrived
      // What the phases do not account for: worker start-up, snarkjs loading, transfers.
      const overheadMs = Math.max(0, totalMs - queueMs - w.ms - (p.keyLoadMs ?? 0) - p.proveMs)
      const timings: ProofTimings = { ...p.phases, queueMs, overheadMs, witnessMs: w.ms, proveMs: p.proveMs, totalMs }
      if (p.keyLoadMs !== undefined) timings.keyLoadMs = p.keyLoadMs
      const bundle: ProofBundle = {
        circuit: j.circuit.name,
        proof: p.proof,
        publicSignals: p.publicSignals,
        backend: backend.name,
        timings,
        ...(p.threads === undefined ? {} : { threads: p.threads }),
        ...(p.kernel === undefined ? {} : { kernel: p.kernel })
      }
      this.#count(j.circuit.name, 'ok')
      const m = this.#opts.metrics
      if (m !== undefined) {
        for (const phase of ['queue', 'witness', 'prove', 'total'] as const) {
          m.phaseSeconds.observe({ circuit: j.circuit.name, backend: backend.name, phase }, timings[`${phase}Ms`]! / 1000)
        }
      }
      this.#opts.logger?.info({ requestId: j.requestId, circuit: j.circuit.name, backend: backend.name, witnessMs: Math.round(w.ms), proveMs: Math.round(p.proveMs), totalMs: Math.round(totalMs) }, 'proof made')
      this.#settle(j, bundle)
    } catch (err) {
      const e = VerimeshError.from(err, 'PROOF_FAILED', { circuit: j.circuit.name })
      this.#count(j.circuit.name, e.code)
      this.#opts.logger?.warn({ requestId: j.requestId, circuit: j.circuit.name, backend: backend.name, code: e.code, err: e.message }, 'proof failed')
      this.#settle(j, e)
    }
  }

  #input (job: ProverJob): CircuitInput {
    if (job.kind === 'tile') return job.input
    try {
      return this.#opts.receipt.receiptInput(job.receipt)
    } catch (err) {
      throw new VerimeshError('PROOF_INPUT_INVALID', `the receipt cannot be encoded for the receipt circuit: ${(err as Error).message}`, { requestId: job.receipt.requestId }, { cause: err })
    }
  }

  /** The proof must commit to this receipt: a mismatch means the encoding and the circuit disagree. */
  #checkReceiptSignals (receipt: Receipt, signals: readonly string[]): void {
    const expected = this.#opts.receipt.receiptPublicSignals(receipt)
    if (expected.length !== signals.length || expected.some((s, i) => s !== signals[i])) {
      throw new VerimeshError('PROOF_FAILED', 'the proof\'s public signals are not the receipt\'s commitment (circuit and encoding disagree)', { expected, got: signals, requestId: receipt.requestId })
    }
  }

  #settle (j: Job, outcome: ProofBundle | VerimeshError): void {
    if (j.settled) return
    j.settled = true
    if (outcome instanceof VerimeshError) j.reject(outcome)
    else j.resolve(outcome)
  }

  #count (circuit: string, outcome: string): void {
    this.#opts.metrics?.proofs.inc({ circuit, backend: this.choice.backend.name, outcome })
  }

  #gauge (): void {
    this.#opts.metrics?.queueDepth.set({ state: 'queued' }, this.#queue.length)
    this.#opts.metrics?.queueDepth.set({ state: 'running' }, this.#running.size)
  }

  /** Refuse new jobs, fail every accepted one that has not finished, release the workers. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const stopped = (j: Job): VerimeshError => new VerimeshError('ACTOR_STOPPED', 'the prover stopped before this proof was made', { circuit: j.circuit.name, requestId: j.requestId })
    for (const j of this.#queue.splice(0)) this.#settle(j, stopped(j))
    for (const j of this.#running) this.#settle(j, stopped(j))
    this.#gauge()
    for (const b of this.#backends) await b.close()
    if (this.#ownsPool) await this.#pool.close()
  }
}
