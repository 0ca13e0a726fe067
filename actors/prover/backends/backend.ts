// What a proving backend is: a name, whether it can run here (and why not), and
// witness → Groth16 proof for one circuit. Witness calculation is not a backend's job:
// it is the same circom WebAssembly for all of them and runs in the prover's pool.

import type { CircuitArtifacts } from '../circuits.js'
import type { FieldString, Groth16Proof, ProverBackendName } from '../types.js'

export type Availability =
  | { readonly available: true, readonly detail: string }
  | { readonly available: false, readonly reason: string }

export interface BackendProof {
  proof: Groth16Proof
  publicSignals: FieldString[]
  /** Witness → proof, as the backend measured it. */
  proveMs: number
  /** Loading the circuit's proving key before proving (first proof of a circuit), outside proveMs. */
  keyLoadMs?: number
  /** Finer phases the backend reports inside proveMs (e.g. msmMs, nttMs), in milliseconds. */
  phases: Record<string, number>
  threads?: number
  kernel?: string
}

export interface ProverBackend {
  readonly name: ProverBackendName
  available: () => Availability
  /** `wtns` is a .wtns file's bytes (circom's binary witness format). */
  prove: (circuit: CircuitArtifacts, wtns: Uint8Array) => Promise<BackendProof>
  /** Load what the circuit's first proof would otherwise load (its proving key), ahead of it. */
  warm?: (circuit: CircuitArtifacts) => Promise<void>
  close: () => Promise<void>
}
