// The slice of snarkjs (and ffjavascript) the circuits build and tests use, typed here:
// neither ships declarations. Loaded through specifier variables so TypeScript does not
// look for their types.

export interface MemFile { type: 'mem', data?: Uint8Array }
type FileArg = string | MemFile

export interface Groth16ProofJson {
  pi_a: string[]
  pi_b: string[][]
  pi_c: string[]
  protocol: string
  curve: string
}

export interface SnarkjsApi {
  powersOfTau: {
    newAccumulator: (curve: unknown, power: number, file: string, logger?: unknown) => Promise<unknown>
    beacon: (oldFile: string, newFile: string, name: string, beaconHashHex: string, iterationsExp: number, logger?: unknown) => Promise<unknown>
    preparePhase2: (oldFile: string, newFile: string, logger?: unknown) => Promise<unknown>
  }
  zKey: {
    newZKey: (r1cs: string, ptau: string, zkey: string, logger?: unknown) => Promise<unknown>
    exportVerificationKey: (zkey: FileArg, logger?: unknown) => Promise<Record<string, unknown>>
    exportSolidityVerifier: (zkey: FileArg, templates: Record<string, string>, logger?: unknown) => Promise<string>
  }
  groth16: {
    prove: (zkey: FileArg, wtns: FileArg, logger?: unknown, options?: { singleThread?: boolean }) => Promise<{ proof: Groth16ProofJson, publicSignals: string[] }>
    verify: (vkey: unknown, publicSignals: readonly string[], proof: Groth16ProofJson, logger?: unknown) => Promise<boolean>
  }
  wtns: {
    calculate: (input: unknown, wasm: FileArg, wtns: MemFile) => Promise<void>
    check: (r1cs: FileArg, wtns: FileArg, logger?: unknown) => Promise<boolean>
  }
  curves: {
    getCurveFromName: (name: string) => Promise<Curve>
  }
  r1cs: {
    info: (r1cs: string, logger?: unknown) => Promise<{ nConstraints: number, nVars: number, nOutputs: number, nPubInputs: number, nPrvInputs: number }>
  }
}

export interface Curve { terminate: () => Promise<void> }

const SNARKJS = 'snarkjs'
const FFJAVASCRIPT = 'ffjavascript'
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

/** snarkjs, loaded once per thread (main thread or worker). */
export async function loadSnarkjs (): Promise<SnarkjsApi> {
  cached ??= importWithFfjavascript(SNARKJS) as Promise<SnarkjsApi>
  return await cached
}

export async function buildBn128 (): Promise<Curve> {
  const ff = await import(FFJAVASCRIPT) as { buildBn128: (singleThread?: boolean) => Promise<Curve> }
  return await ff.buildBn128()
}

/**
 * Builds snarkjs's cached BN254 curve now: concurrent snarkjs calls racing to build it
 * leave all but one unterminated (their worker threads then keep the process alive).
 */
export async function warmSnarkjsCurve (): Promise<void> {
  await (await loadSnarkjs()).curves.getCurveFromName('bn128')
}

/** Ends the worker threads of the BN254 curve snarkjs caches globally (they keep a process alive). */
export async function releaseSnarkjsCurve (): Promise<void> {
  const g = globalThis as { curve_bn128?: Curve | null }
  const c = g.curve_bn128
  if (c !== undefined && c !== null) await c.terminate()
}
