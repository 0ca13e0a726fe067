// The prover's typed shapes. The wire schemas live in runtime/protocol/messages.ts (every
// message is defined once there); these interfaces state the same shapes for code, and
// the assignability checks at the bottom fail the build if the two ever drift apart.

import type { Static } from '@sinclair/typebox'
import type {
  Groth16ProofSchema, ProofBundleSchema, ProverJobSchema, Receipt, VerificationReportSchema
} from '../../runtime/protocol/messages.js'

/** A decimal string: BN254 field elements do not fit a JS number. */
export type FieldString = string

/** snarkjs's Groth16 proof JSON over BN254 (projective coordinates with z = 1). */
export interface Groth16Proof {
  pi_a: [FieldString, FieldString, FieldString]
  pi_b: [[FieldString, FieldString], [FieldString, FieldString], [FieldString, FieldString]]
  pi_c: [FieldString, FieldString, FieldString]
  protocol: 'groth16'
  curve: 'bn128'
}

export type ProverBackendName = 'cuda' | 'native-cpu' | 'snarkjs'
export type VerifierBackendName = 'native' | 'snarkjs'

/** Milliseconds per phase. The three named ones are always there; backends add their own. */
export interface ProofTimings {
  /** Input → witness (circom's WebAssembly calculator, in a worker). */
  witnessMs: number
  /** Witness → proof on the backend. */
  proveMs: number
  /** From the job's arrival (queue wait included) to its bundle. */
  totalMs: number
  [phase: string]: number
}

/** A proof with everything needed to check it and to tell how it was made. */
export interface ProofBundle {
  circuit: string
  proof: Groth16Proof
  publicSignals: FieldString[]
  backend: ProverBackendName
  timings: ProofTimings
  threads?: number
  kernel?: string
}

export interface VerificationReport {
  valid: boolean
  backend: VerifierBackendName
  circuit: string
  ms: number
  /** Why the proof is not valid, or why it could not be checked. */
  error?: string
}

/** Circuit input: signal name → value, vector or matrix. */
export type CircuitInput = Record<string, string | string[] | string[][]>

export type ProverJob =
  | { kind: 'receipt', receipt: Receipt }
  | { kind: 'tile', circuit: string, input: CircuitInput }

// ---- the interfaces and the wire schemas describe the same JSON ----------------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const proofMatches: Same<Groth16Proof, Static<typeof Groth16ProofSchema>> = true
const reportMatches: Same<VerificationReport, Static<typeof VerificationReportSchema>> = true
const bundleFits: ProofBundle extends Static<typeof ProofBundleSchema> ? true : false = true
const jobMatches: Same<ProverJob, Static<typeof ProverJobSchema>> = true
void proofMatches; void reportMatches; void bundleFits; void jobMatches
