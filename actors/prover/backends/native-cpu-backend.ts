// The addon's C++ Groth16 prover (native/src/zk). A proving key is parsed once per circuit
// and kept; proofs run on the addon's own threads, off the event loop. Unavailable,
// with the reason, when the addon is missing or was built without the prover.

import { loadAddon, type ZkProver, type ZkProverConstructor } from '../../../runtime/addon.js'
import { VerimeshError } from '../../../runtime/errors.js'
import type { CircuitArtifacts } from '../circuits.js'
import type { Groth16Proof } from '../types.js'
import type { Availability, BackendProof, ProverBackend } from './backend.js'

/** The addon's ZkProver class, or why there is none. */
export function nativeZkProver (): ZkProverConstructor | string {
  let addon: ReturnType<typeof loadAddon>
  try {
    addon = loadAddon()
  } catch (err) {
    return (err as Error).message
  }
  return addon.ZkProver ?? 'the native addon has no ZkProver (an older build: rebuild it with `npx node-gyp rebuild`)'
}

export class NativeCpuBackend implements ProverBackend {
  readonly name = 'native-cpu' as const
  readonly #threads: number
  readonly #ctor: ZkProverConstructor | string
  /** Proving keys load once per circuit, on a worker thread (a big .zkey takes a while). */
  readonly #provers = new Map<string, Promise<ZkProver>>()

  /** `threads`: per proof; 0 or absent = every core. */
  constructor (opts: { threads?: number, ctor?: ZkProverConstructor } = {}) {
    this.#threads = opts.threads ?? 0
    this.#ctor = opts.ctor ?? nativeZkProver()
  }

  available (): Availability {
    return typeof this.#ctor === 'string'
      ? { available: false, reason: this.#ctor }
      : { available: true, detail: `native C++ Groth16 prover, ${this.#threads === 0 ? 'all cores' : `${this.#threads} thread(s)`}` }
  }

  async #prover (circuit: CircuitArtifacts): Promise<ZkProver> {
    const ctor = this.#ctor
    if (typeof ctor === 'string') throw new VerimeshError('PROVER_UNAVAILABLE', `the native prover is not available: ${ctor}`, { backend: this.name })
    let p = this.#provers.get(circuit.zkey)
    if (p === undefined) {
      p = ctor.load(circuit.zkey).catch((err: unknown) => {
        this.#provers.delete(circuit.zkey)
        throw new VerimeshError('PROVER_UNAVAILABLE', `the native prover cannot load ${circuit.zkey}: ${(err as Error).message}`, { circuit: circuit.name, zkey: circuit.zkey, addonCode: (err as { code?: unknown }).code }, { cause: err })
      })
      this.#provers.set(circuit.zkey, p)
    }
    return await p
  }

  async warm (circuit: CircuitArtifacts): Promise<void> {
    await this.#prover(circuit)
  }

  async prove (circuit: CircuitArtifacts, wtns: Uint8Array): Promise<BackendProof> {
    const loadStart = performance.now()
    const prover = await this.#prover(circuit)
    // Non-zero on a circuit's first proof: reading the .zkey and building its MSM tables.
    const keyLoadMs = performance.now() - loadStart
    const started = performance.now()
    let r: Awaited<ReturnType<ZkProver['prove']>>
    try {
      r = await prover.prove(wtns, { threads: this.#threads })
    } catch (err) {
      const addonCode = (err as { code?: unknown }).code
      // ZK_MISMATCH / ZK_BAD_INPUT: the witness is not one of this circuit's.
      const code = addonCode === 'ZK_MISMATCH' || addonCode === 'ZK_BAD_INPUT' ? 'PROOF_INPUT_INVALID' : 'PROOF_FAILED'
      throw new VerimeshError(code, `the native prover failed on '${circuit.name}': ${(err as Error).message}`, { circuit: circuit.name, backend: this.name, addonCode }, { cause: err })
    }
    const proveMs = performance.now() - started
    const phases: Record<string, number> = {}
    for (const [k, v] of Object.entries(r.timings as unknown as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue
      const key = k.endsWith('Ms') ? k : `${k}Ms`
      // The prover's own three names stay ours; the addon's total becomes nativeTotalMs.
      phases[key === 'totalMs' || key === 'proveMs' || key === 'witnessMs' ? `native${key[0]!.toUpperCase()}${key.slice(1)}` : key] = v
    }
    return { proof: r.proof as Groth16Proof, publicSignals: r.publicSignals, proveMs, keyLoadMs, phases, threads: r.threads, kernel: r.kernel }
  }

  async close (): Promise<void> {
    const loaded = await Promise.allSettled(this.#provers.values())
    for (const p of loaded) if (p.status === 'fulfilled') p.value.close()
    this.#provers.clear()
  }
}
