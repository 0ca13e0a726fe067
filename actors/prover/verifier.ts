// Groth16 verification with a report in one shape whichever verifier ran: the addon's
// zkVerify when it has one (about a millisecond), else snarkjs in a worker thread
// (20–30 ms, kept off the event loop). A proof that does not verify is a report with
// valid: false and the reason, never an exception.

import { loadAddon, type Groth16VerificationKeyJson } from '../../runtime/addon.js'
import { VerimeshError } from '../../runtime/errors.js'
import { loadVerificationKey, type CircuitArtifacts } from './circuits.js'
import { ProverPool } from './backends/pool.js'
import type { Groth16Proof, VerificationReport, VerifierBackendName } from './types.js'

export type NativeZkVerify = (vk: unknown, proof: Groth16Proof, publicSignals: readonly string[]) => { valid: boolean, ms: number }
export type VerifierPreference = 'auto' | 'native' | 'snarkjs'

/** The addon's zkVerify, or why there is none. */
export function nativeZkVerify (): NativeZkVerify | string {
  let addon: ReturnType<typeof loadAddon>
  try {
    addon = loadAddon()
  } catch (err) {
    return (err as Error).message
  }
  const fn = addon.zkVerify
  if (fn === undefined) return 'the native addon has no zkVerify (an older build: rebuild it with `npx node-gyp rebuild`)'
  return (vk, proof, publicSignals) => fn(vk as Groth16VerificationKeyJson, proof, [...publicSignals])
}

export class ProofVerifier {
  readonly backend: VerifierBackendName
  /** Why this verifier was chosen, for the node's log. */
  readonly reason: string
  readonly #native: NativeZkVerify | undefined
  readonly #ownsPool: boolean
  #pool: ProverPool | undefined

  constructor (opts: { preference?: VerifierPreference, pool?: ProverPool, native?: NativeZkVerify } = {}) {
    const preference = opts.preference ?? 'auto'
    const native = preference === 'snarkjs' ? 'not wanted: snarkjs configured' : opts.native ?? nativeZkVerify()
    if (preference === 'native' && typeof native === 'string') {
      throw new VerimeshError('PROVER_UNAVAILABLE', `native proof verification was configured but is not available: ${native}`, { preference })
    }
    this.#native = typeof native === 'string' ? undefined : native
    this.backend = this.#native === undefined ? 'snarkjs' : 'native'
    this.reason = this.#native === undefined ? `snarkjs in a worker thread (native: ${native as string})` : 'native zkVerify'
    this.#pool = opts.pool
    this.#ownsPool = opts.pool === undefined
  }

  /** Check `proof` against `publicSignals` (the verifier's own expectation, not the prover's claim). */
  async verify (circuit: Pick<CircuitArtifacts, 'name' | 'vkey'>, proof: Groth16Proof, publicSignals: readonly string[]): Promise<VerificationReport> {
    const started = performance.now()
    const report = (valid: boolean, ms: number, error?: string): VerificationReport =>
      ({ valid, backend: this.backend, circuit: circuit.name, ms, ...(error === undefined ? {} : { error }) })
    let vk: Record<string, unknown>
    try {
      vk = await loadVerificationKey(circuit)
    } catch (err) {
      return report(false, performance.now() - started, (err as Error).message)
    }
    const nPublic = vk.nPublic
    if (typeof nPublic === 'number' && nPublic !== publicSignals.length) {
      return report(false, performance.now() - started, `circuit '${circuit.name}' has ${nPublic} public signal(s), got ${publicSignals.length}`)
    }
    try {
      if (this.#native !== undefined) {
        const r = this.#native(vk, proof, publicSignals)
        return report(r.valid, r.ms, r.valid ? undefined : 'the pairing check failed')
      }
      this.#pool ??= new ProverPool({ threads: 1 })
      const r = await this.#pool.verify(circuit.name, vk, proof, [...publicSignals])
      return report(r.valid, r.ms, r.valid ? undefined : 'the pairing check failed')
    } catch (err) {
      return report(false, performance.now() - started, `could not check the proof: ${(err as Error).message}`)
    }
  }

  async close (): Promise<void> {
    if (this.#ownsPool) await this.#pool?.close()
    this.#pool = undefined
  }
}
