// Where a circuit's build outputs are (circuits/build/<name>/ by default, written by
// `npm run circuits:build`), and the verification keys read from there. A missing build
// is PROVER_UNAVAILABLE naming the files looked for and the command that makes them.

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { VerimeshError } from '../../runtime/errors.js'
import { repoRoot } from '../../circuits/registry.js'

/** The circuit that proves a receipt (its input encoding: circuits/, receiptInput). */
export const RECEIPT_CIRCUIT = 'receipt'
export const BUILD_HINT = 'build the circuits with `npm run circuits:build`'

export interface CircuitArtifacts {
  readonly name: string
  readonly dir: string
  /** circom's WebAssembly witness calculator. */
  readonly wasm: string
  /** Groth16 proving key. */
  readonly zkey: string
  /** Verification key JSON (snarkjs format). */
  readonly vkey: string
}

export function defaultCircuitsDir (): string {
  return path.join(repoRoot(), 'circuits', 'build')
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/

/** Candidate file names, first found wins: the build script's layout, then circom/snarkjs defaults. */
function candidates (dir: string, name: string): { wasm: string[], zkey: string[], vkey: string[] } {
  const d = path.join(dir, name)
  return {
    wasm: [path.join(d, `${name}_js`, `${name}.wasm`), path.join(d, `${name}.wasm`)],
    zkey: [path.join(d, `${name}.zkey`), path.join(d, `${name}_final.zkey`), path.join(d, 'circuit_final.zkey')],
    vkey: [path.join(d, `${name}.vkey.json`), path.join(d, 'vkey.json'), path.join(d, 'verification_key.json')]
  }
}

/** The artifacts of `name` under `dir`; throws PROVER_UNAVAILABLE (what is missing, how to build it). */
export function locateCircuit (dir: string, name: string): CircuitArtifacts {
  if (!NAME.test(name)) throw new VerimeshError('PROOF_INPUT_INVALID', `'${name}' is not a circuit name`, { circuit: name })
  const c = candidates(dir, name)
  const pick = (list: string[]): string | undefined => list.find((f) => existsSync(f))
  const wasm = pick(c.wasm)
  const zkey = pick(c.zkey)
  const vkey = pick(c.vkey)
  if (wasm === undefined || zkey === undefined || vkey === undefined) {
    const missing = [wasm === undefined ? c.wasm[0] : undefined, zkey === undefined ? c.zkey[0] : undefined, vkey === undefined ? c.vkey[0] : undefined]
      .filter((f): f is string => f !== undefined)
    throw new VerimeshError('PROVER_UNAVAILABLE', `circuit '${name}' is not built in ${dir} (missing ${missing.map((f) => path.relative(dir, f)).join(', ')}): ${BUILD_HINT}`, { circuit: name, dir, missing })
  }
  return { name, dir, wasm, zkey, vkey }
}

/** Only the verification key of `name` (a verifier needs nothing else); PROVER_UNAVAILABLE when absent. */
export function locateVerificationKey (dir: string, name: string): Pick<CircuitArtifacts, 'name' | 'dir' | 'vkey'> {
  if (!NAME.test(name)) throw new VerimeshError('PROOF_INPUT_INVALID', `'${name}' is not a circuit name`, { circuit: name })
  const list = candidates(dir, name).vkey
  const vkey = list.find((f) => existsSync(f))
  if (vkey === undefined) {
    throw new VerimeshError('PROVER_UNAVAILABLE', `no verification key for circuit '${name}' in ${dir} (looked for ${list.map((f) => path.relative(dir, f)).join(', ')}): ${BUILD_HINT}`, { circuit: name, dir })
  }
  return { name, dir, vkey }
}

const vkeys = new Map<string, Promise<unknown>>()

/** The verification key JSON, read once per file. */
export async function loadVerificationKey (artifacts: Pick<CircuitArtifacts, 'name' | 'vkey'>): Promise<Record<string, unknown>> {
  let p = vkeys.get(artifacts.vkey)
  if (p === undefined) {
    p = readFile(artifacts.vkey, 'utf8').then((text) => JSON.parse(text) as unknown)
    vkeys.set(artifacts.vkey, p)
    p.catch(() => vkeys.delete(artifacts.vkey))
  }
  let vk: unknown
  try {
    vk = await p
  } catch (err) {
    throw new VerimeshError('PROVER_UNAVAILABLE', `cannot read the verification key of '${artifacts.name}' (${artifacts.vkey}): ${(err as Error).message}`, { circuit: artifacts.name, file: artifacts.vkey })
  }
  const v = vk as Record<string, unknown>
  if (typeof vk !== 'object' || vk === null || v.protocol !== 'groth16' || v.curve !== 'bn128') {
    throw new VerimeshError('PROVER_UNAVAILABLE', `${artifacts.vkey} is not a Groth16 BN254 verification key`, { circuit: artifacts.name, file: artifacts.vkey })
  }
  return v
}
