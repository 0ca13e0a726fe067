// The slice of snarkjs the prover uses, typed here: snarkjs ships no declarations, and an
// ambient `declare module` could collide with another part of the tree declaring its own.
// Loaded through a specifier variable so TypeScript does not look for its types.

import type { Groth16Proof } from './types.js'

/** fastfile's in-memory file: what snarkjs reads and writes instead of a path. */
export interface MemFile { type: 'mem', data?: Uint8Array }

export interface SnarkjsApi {
  groth16: {
    prove: (zkey: string | MemFile, wtns: string | MemFile, logger?: unknown, options?: { singleThread?: boolean }) => Promise<{ proof: Groth16Proof, publicSignals: string[] }>
    verify: (vkey: unknown, publicSignals: readonly string[], proof: Groth16Proof, logger?: unknown) => Promise<boolean>
  }
  wtns: {
    calculate: (input: unknown, wasm: string | MemFile, wtns: MemFile) => Promise<void>
  }
}

const SPECIFIER = 'snarkjs'
let cached: Promise<SnarkjsApi> | undefined

/**
 * Import a module that pulls in ffjavascript (snarkjs, circom_runtime) from any thread.
 * ffjavascript loads the `web-worker` package, which decides at load time which side of
 * a worker it is on from `isMainThread`: inside a Piscina worker it would take itself
 * for one of its own workers, rewrite the global scope and crash on the missing
 * workerData. So in a worker thread the flag reads true while the import runs;
 * ffjavascript's own threads then start as nested workers and see the truth.
 */
export async function importWithFfjavascript (specifier: string): Promise<unknown> {
  const wt = (await import('node:worker_threads')).default
  if (wt.isMainThread) return await import(specifier)
  Object.defineProperty(wt, 'isMainThread', { value: true, configurable: true, writable: true, enumerable: true })
  try {
    return await import(specifier)
  } finally {
    Object.defineProperty(wt, 'isMainThread', { value: false, configurable: true, writable: true, enumerable: true })
  }
}

/** snarkjs, loaded once per thread. */
export async function loadSnarkjs (): Promise<SnarkjsApi> {
  cached ??= importWithFfjavascript(SPECIFIER) as Promise<SnarkjsApi>
  return await cached
}
