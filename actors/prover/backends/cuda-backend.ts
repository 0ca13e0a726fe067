// The CUDA slot. No CUDA MSM exists in the addon yet, so this backend says so instead of
// pretending: 'auto' skips it and forcing it fails with the reason.

import { VerimeshError } from '../../../runtime/errors.js'
import type { CircuitArtifacts } from '../circuits.js'
import type { Availability, BackendProof, ProverBackend } from './backend.js'

export class CudaBackend implements ProverBackend {
  readonly name = 'cuda' as const

  available (): Availability {
    return { available: false, reason: 'not available: no CUDA MSM in this build' }
  }

  async prove (circuit: CircuitArtifacts, _wtns: Uint8Array): Promise<BackendProof> {
    throw new VerimeshError('PROVER_UNAVAILABLE', 'the CUDA prover is not available: no CUDA MSM in this build', { circuit: circuit.name, backend: this.name })
  }

  async close (): Promise<void> {}
}
