// The slice of snarkjs the prover uses, typed here: snarkjs ships no declarations, and an
// ambient `declare module` could collide with another part of the tree declaring its own.
// circuits/snarkjs.ts loads it (from any thread).

import { loadSnarkjs as loadShared, type MemFile } from '../../circuits/snarkjs.js'
import type { Groth16Proof } from './types.js'

export type { MemFile }

export interface SnarkjsApi {
  groth16: {
    prove: (zkey: string | MemFile, wtns: string | MemFile, logger?: unknown, options?: { singleThread?: boolean }) => Promise<{ proof: Groth16Proof, publicSignals: string[] }>
    verify: (vkey: unknown, publicSignals: readonly string[], proof: Groth16Proof, logger?: unknown) => Promise<boolean>
  }
}

/** snarkjs, loaded once per thread by circuits/snarkjs.ts, seen through the prover's typed slice. */
export async function loadSnarkjs (): Promise<SnarkjsApi> {
  return await loadShared() as unknown as SnarkjsApi
}
