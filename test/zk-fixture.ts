// Real Groth16 fixtures for the native prover's tests and benchmark: a circom
// circuit compiled with circom2, a small powers-of-tau and a zkey made by snarkjs
// itself, a witness computed by snarkjs. Everything is cached under
// .verimesh/tmp-zk-test/<name>/ (gitignored), keyed by a hash of the circuit
// source and the tau power, so reruns only read files.

import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { loadSnarkjs as loadShared } from '../circuits/snarkjs.js'

const execFileP = promisify(execFile)

/** The snarkjs API surface the tests use (snarkjs ships no type declarations). */
export interface Snarkjs {
  groth16: {
    prove: (zkey: string, wtns: string) => Promise<{ proof: unknown, publicSignals: string[] }>
    verify: (vk: unknown, publicSignals: string[], proof: unknown) => Promise<boolean>
  }
  powersOfTau: {
    newAccumulator: (curve: unknown, power: number, file: string) => Promise<unknown>
    contribute: (oldFile: string, newFile: string, name: string, entropy: string) => Promise<unknown>
    preparePhase2: (oldFile: string, newFile: string) => Promise<unknown>
  }
  zKey: {
    newZKey: (r1cs: string, ptau: string, zkey: string) => Promise<unknown>
    contribute: (oldFile: string, newFile: string, name: string, entropy: string) => Promise<unknown>
    exportVerificationKey: (zkey: string) => Promise<unknown>
  }
  wtns: { calculate: (input: unknown, wasm: string, wtns: string) => Promise<void> }
  curves: { getCurveFromName: (name: string) => Promise<{ terminate: () => Promise<void> }> }
}

/** snarkjs through the one loader (circuits/snarkjs.ts), seen through the tests' typed slice. */
export async function loadSnarkjs (): Promise<Snarkjs> {
  return await loadShared() as unknown as Snarkjs
}

/** The repository root (circom2 can only read files below its working directory). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CACHE = path.join(ROOT, '.verimesh', 'tmp-zk-test')

export interface ZkFixture {
  name: string
  dir: string
  zkey: string
  wtnsPath: string
  wtns: Uint8Array
  vkey: unknown
}

/** Groth16 test circuit: `hashes` chained Poseidon(2) hashes and `mults` multiplications; 2 public inputs, 2 outputs. */
export function poseidonCircuit (hashes: number, mults: number): { source: string, input: Record<string, string | string[]> } {
  const source = `pragma circom 2.0.0;
include "circomlib/circuits/poseidon.circom";

template Chain(H, M) {
    signal input a;
    signal input b;
    signal input x[M];
    signal output h;
    signal output prod;
    component p[H];
    for (var i = 0; i < H; i++) {
        p[i] = Poseidon(2);
        p[i].inputs[0] <== i == 0 ? a : p[i - 1].out;
        p[i].inputs[1] <== b + i;
    }
    h <== p[H - 1].out;
    signal m[M];
    m[0] <== x[0] * a;
    for (var i = 1; i < M; i++) {
        m[i] <== m[i - 1] * x[i];
    }
    prod <== m[M - 1] * b;
}

component main {public [a, b]} = Chain(${hashes}, ${mults});
`
  const input = { a: '12345', b: '678', x: Array.from({ length: mults }, (_, i) => String(i * 31 + 7)) }
  return { source, input }
}

async function ensurePtau (snarkjs: Snarkjs, power: number): Promise<string> {
  const file = path.join(CACHE, `pot${power}.ptau`)
  if (existsSync(file)) return file
  await mkdir(CACHE, { recursive: true })
  const tmp0 = `${file}.${process.pid}.0`
  const tmp1 = `${file}.${process.pid}.1`
  const tmp2 = `${file}.${process.pid}.2`
  const curve = await snarkjs.curves.getCurveFromName('bn128')
  await snarkjs.powersOfTau.newAccumulator(curve, power, tmp0)
  await snarkjs.powersOfTau.contribute(tmp0, tmp1, 'verimesh test', 'verimesh test entropy ' + String(power))
  await snarkjs.powersOfTau.preparePhase2(tmp1, tmp2)
  await rename(tmp2, file)
  await rm(tmp0, { force: true })
  await rm(tmp1, { force: true })
  return file
}

/** Compiles the circuit, makes its zkey and a witness, or reuses the cached ones. */
/**
 * 'snarkjs': powers of tau 2^power plus snarkjs's newZKey and one contribution (slow above 2^12).
 * 'native-dev': the addon's known-tau development setup (zkSetupDev), for benchmarks at larger sizes.
 */
export type ZkSetup = 'snarkjs' | 'native-dev'

export async function buildFixture (name: string, source: string, input: unknown, power: number, setup: ZkSetup = 'snarkjs'): Promise<ZkFixture> {
  const snarkjs = await loadSnarkjs()
  const dir = path.join(CACHE, name)
  const stamp = createHash('sha256').update(source).update(JSON.stringify(input)).update(String(power)).update(setup).digest('hex')
  const zkey = path.join(dir, `${name}.zkey`)
  const wtnsPath = path.join(dir, `${name}.wtns`)
  const vkeyPath = path.join(dir, 'vkey.json')
  const stampPath = path.join(dir, 'stamp')
  const fresh = existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === stamp
  if (!fresh) {
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    const circom = path.join(dir, `${name}.circom`)
    await writeFile(circom, source)
    const rel = path.relative(ROOT, dir)
    await execFileP(process.execPath, [path.join(ROOT, 'node_modules', 'circom2', 'cli.js'), path.join(rel, `${name}.circom`),
      '--r1cs', '--wasm', '--O2', '-o', rel, '-l', 'node_modules'], { cwd: ROOT, maxBuffer: 1 << 24 })
    if (setup === 'native-dev') {
      const { loadAddon } = await import('../runtime/addon.js')
      const addon = loadAddon()
      if (addon.zkSetupDev === undefined) throw new Error(`the addon at ${addon.path} has no zkSetupDev`)
      await addon.zkSetupDev(path.join(dir, `${name}.r1cs`), zkey, { seed: `verimesh bench ${name}` })
    } else {
      const ptau = await ensurePtau(snarkjs, power)
      const zkey0 = path.join(dir, `${name}_0.zkey`)
      await snarkjs.zKey.newZKey(path.join(dir, `${name}.r1cs`), ptau, zkey0)
      await snarkjs.zKey.contribute(zkey0, zkey, 'verimesh test', 'phase2 entropy ' + name)
      await rm(zkey0, { force: true })
    }
    await snarkjs.wtns.calculate(input, path.join(dir, `${name}_js`, `${name}.wasm`), wtnsPath)
    await writeFile(vkeyPath, JSON.stringify(await snarkjs.zKey.exportVerificationKey(zkey)))
    await writeFile(stampPath, stamp)
  }
  return {
    name,
    dir,
    zkey,
    wtnsPath,
    wtns: new Uint8Array(await readFile(wtnsPath)),
    vkey: JSON.parse(await readFile(vkeyPath, 'utf8')) as unknown
  }
}

/** Stops ffjavascript's worker threads so the process can exit. */
export async function terminateCurves (): Promise<void> {
  const snarkjs = await loadSnarkjs()
  const curve = await snarkjs.curves.getCurveFromName('bn128')
  await curve.terminate()
}
