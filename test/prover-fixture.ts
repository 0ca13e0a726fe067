// A tiny Groth16 circuit for the prover's tests, compiled with circom2 and set up with a
// 2^8 powers-of-tau made on the spot (development only: its toxic waste is not
// discarded). Built once per source under .verimesh/test-circuits and reused.

import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CIRCOM = path.join(ROOT, 'node_modules', 'circom2', 'cli.js')

/** c = 1 + b·Π a[i] with b ≠ 0: one public output, a few constraints, and an input the witness calculator rejects (b = 0). */
export const MUL_SOURCE = `pragma circom 2.1.0;
template Mul(n) {
  signal input a[n];
  signal input b;
  signal output c;
  signal acc[n + 1];
  acc[0] <== b;
  for (var i = 0; i < n; i++) { acc[i + 1] <== acc[i] * a[i]; }
  // b must not be zero: an input that breaks this is rejected by the witness calculator.
  signal binv;
  binv <-- b != 0 ? 1 / b : 0;
  binv * b === 1;
  c <== acc[n] + 1;
}
component main = Mul(4);
`

/** Expected public output of MUL_SOURCE for input (a, b). */
export function mulOutput (a: readonly bigint[], b: bigint): string {
  const p = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
  return ((a.reduce((x, y) => x * y % p, b) + 1n) % p).toString()
}

/** Build `source` as circuit `name` into `<dir>/<name>/` (wasm, zkey, vkey.json); returns dir. */
export async function buildTestCircuit (name: string, source: string): Promise<string> {
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
  const dir = path.join(ROOT, '.verimesh', 'test-circuits', `${name}-${hash}`)
  const out = path.join(dir, name)
  if (existsSync(path.join(out, 'vkey.json'))) return dir
  const work = `${out}.tmp-${process.pid}`
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })
  await writeFile(path.join(work, `${name}.circom`), source)
  // circom2 is WASI and sees only its working directory.
  await promisify(execFile)(process.execPath, [CIRCOM, `${name}.circom`, '--r1cs', '--wasm', '-o', '.'], { cwd: work })
  const snarkjs = await import('snarkjs' as string) as any // eslint-disable-line @typescript-eslint/no-explicit-any
  const curve = await snarkjs.curves.getCurveFromName('bn128')
  try {
    const ptau0 = { type: 'mem' }
    const ptau1 = { type: 'mem' }
    const ptau2 = { type: 'mem' }
    const zkey = { type: 'mem' } as { type: 'mem', data?: Uint8Array }
    await snarkjs.powersOfTau.newAccumulator(curve, 8, ptau0)
    await snarkjs.powersOfTau.contribute(ptau0, ptau1, 'test', 'test entropy')
    await snarkjs.powersOfTau.preparePhase2(ptau1, ptau2)
    await snarkjs.zKey.newZKey(path.join(work, `${name}.r1cs`), ptau2, zkey)
    await writeFile(path.join(work, `${name}.zkey`), zkey.data!)
    await writeFile(path.join(work, 'vkey.json'), JSON.stringify(await snarkjs.zKey.exportVerificationKey(zkey.data)))
  } finally {
    await curve.terminate()
  }
  await rm(out, { recursive: true, force: true })
  await rename(work, out)
  return dir
}
