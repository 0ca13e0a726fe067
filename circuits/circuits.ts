// A built circuit's files and facts, for the prover and the tests. Built by
// `npm run circuits:build` (circuits/build.ts) into circuits/build/<name>/.

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { VerimeshError } from '../runtime/errors.js'
import type { Manifest } from './build.js'
import type { R1csInfo } from './r1cs-info.js'
import { circuitPaths, circuitSpec, repoRoot } from './registry.js'

export const BUILD_HINT = 'build the circuits with `npm run circuits:build`'

export interface CompiledCircuit {
  readonly name: string
  readonly dir: string
  readonly r1csPath: string
  /** circom's WebAssembly witness calculator. */
  readonly wasmPath: string
  readonly symPath: string
  readonly r1csInfo: R1csInfo
}

export interface LoadedCircuit extends CompiledCircuit {
  readonly zkeyPath: string
  readonly vkeyPath: string
  readonly verifierPath: string
  /** snarkjs verification key JSON (with a `verimeshSetup` note: the keys are INSECURE dev keys). */
  readonly vkey: Record<string, unknown>
  readonly setup: NonNullable<Manifest['setup']>
}

async function manifestOf (name: string, root: string): Promise<Manifest> {
  if (circuitSpec(name) === undefined) throw new VerimeshError('PROOF_INPUT_INVALID', `no circuit named '${name}'`, { circuit: name })
  const p = circuitPaths(name, root)
  let m: Manifest
  try {
    m = JSON.parse(await readFile(p.manifest, 'utf8')) as Manifest
  } catch {
    throw new VerimeshError('PROVER_UNAVAILABLE', `circuit '${name}' is not built (no ${p.manifest}): ${BUILD_HINT}`, { circuit: name, dir: p.dir })
  }
  return m
}

/** The compiled circuit (enough for witnesses); PROVER_UNAVAILABLE when not built. */
export async function loadCompiledCircuit (name: string, opts: { root?: string } = {}): Promise<CompiledCircuit> {
  const root = opts.root ?? repoRoot()
  const m = await manifestOf(name, root)
  const p = circuitPaths(name, root)
  for (const f of [p.r1cs, p.wasm]) {
    if (!existsSync(f)) throw new VerimeshError('PROVER_UNAVAILABLE', `circuit '${name}' lacks ${path.relative(root, f)}: ${BUILD_HINT}`, { circuit: name, file: f })
  }
  return { name, dir: p.dir, r1csPath: p.r1cs, wasmPath: p.wasm, symPath: p.sym, r1csInfo: m.info }
}

/** The compiled circuit with its (INSECURE development) proving and verification keys. */
export async function loadCircuit (name: string, opts: { root?: string } = {}): Promise<LoadedCircuit> {
  const root = opts.root ?? repoRoot()
  const compiled = await loadCompiledCircuit(name, opts)
  const m = await manifestOf(name, root)
  const p = circuitPaths(name, root)
  if (m.setup === undefined || !existsSync(p.zkey) || !existsSync(p.vkey)) {
    throw new VerimeshError('PROVER_UNAVAILABLE', `circuit '${name}' has no keys in ${p.dir}: ${BUILD_HINT}`, { circuit: name, dir: p.dir })
  }
  const vkey = JSON.parse(await readFile(p.vkey, 'utf8')) as Record<string, unknown>
  return { ...compiled, zkeyPath: p.zkey, vkeyPath: p.vkey, verifierPath: p.verifier, vkey, setup: m.setup }
}
