// Fixtures of the prover suite: synthetic chain circuits at 2^k constraints and the
// product's real circuits, with their keys and witnesses.
//
// The chain: private x, public y, t[0] = x, t[i+1] = t[i]·t[i] + y for i < m, no
// output; m = 15/16 of 2^k, so the Groth16 domain is 2^k; one public signal (y), like
// the product's circuits. Up to CIRCOM_MAX_LOG it is compiled by circom2 and its
// witness computed by circom's wasm calculator; above, circom2 (WASI) takes too long
// to compile it, so the .r1cs is written here and the witness computed here (same
// constraints, same wire order as circom's output for this circuit) and written as an
// iden3 .wtns. Keys: the addon's INSECURE development setup (zkSetupDev).
//
// Everything is cached under .verimesh/bench-prover/chain-<k>/, keyed by a hash of
// what makes it; meta.json records how long compiling and the setup took when built.

import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { VerimeshAddon } from '../../runtime/addon.js'
import { loadSnarkjs } from '../../circuits/snarkjs.js'
import { computeWitness } from '../../circuits/witness.js'

const execFileP = promisify(execFile)

/** The repository root (circom2 reads only files below its working directory). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const CACHE = path.join(ROOT, '.verimesh', 'bench-prover')
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

/**
 * Largest log2 size compiled with circom2 (2.6–3.7 min at 2^18 on the 2-core dev machine;
 * see README.md). VERIMESH_BENCH_PROVER_CIRCOM_MAX overrides it (to exercise the TS path).
 */
export const CIRCOM_MAX_LOG = Number(process.env.VERIMESH_BENCH_PROVER_CIRCOM_MAX ?? '') || 18
const SEED = 'verimesh bench prover'
const X = 3n
const Y = 5n

export interface ChainMeta {
  k: number
  constraints: number
  domainSize: number
  /** 'circom' (circom2 + its wasm witness calculator) or 'ts' (r1cs and witness written here) */
  source: 'circom' | 'ts'
  compileMs: number
  setupMs: number
  setupThreads: number
  builtAt: string
  builtLoadavg: number[]
}

export interface ChainFixture {
  name: string
  dir: string
  zkeyPath: string
  wasmPath?: string
  /** circom's wasm (source 'circom') or the TS chain (source 'ts'): the .wtns bytes */
  witness: () => Promise<Uint8Array>
  vkey: Record<string, unknown>
  meta: ChainMeta
  /** true when this run built it (so meta's times were measured now) */
  built: boolean
}

export function chainLength (k: number): number { return (1 << k) - (1 << (k - 4)) }

function chainSource (m: number): string {
  return `pragma circom 2.0.0;
// Bench chain: t[i+1] = t[i]^2 + y; one public input, no output.
template Chain(N) {
    signal input x;
    signal input y;
    signal t[N + 1];
    t[0] <== x;
    for (var i = 0; i < N; i++) { t[i + 1] <== t[i] * t[i] + y; }
}
component main { public [y] } = Chain(${m});
`
}

const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v, 0); return b }
function fr (v: bigint): Buffer {
  const b = Buffer.alloc(32)
  let x = ((v % R) + R) % R
  for (let i = 0; i < 32; i++) { b[i] = Number(x & 0xffn); x >>= 8n }
  return b
}
/** r, little-endian (fr() would reduce it to 0) */
function prime (): Buffer {
  const b = Buffer.alloc(32)
  let x = R
  for (let i = 0; i < 32; i++) { b[i] = Number(x & 0xffn); x >>= 8n }
  return b
}
function section (id: number, body: Buffer): Buffer {
  const h = Buffer.alloc(12); h.writeUInt32LE(id, 0); h.writeBigUInt64LE(BigInt(body.length), 4)
  return Buffer.concat([h, body])
}

/**
 * iden3 .r1cs of the chain, wires as circom --O2 numbers them for this circuit:
 * 0 = 1, 1 = y (public input), 2 = x = t[0] (private input), 3.. = t[1..m].
 */
function chainR1cs (m: number): Buffer {
  const nVars = 3 + m
  const one = fr(1n); const minusOne = fr(-1n)
  const t = (i: number): number => 2 + i
  const parts: Buffer[] = []
  const term = (wire: number, c: Buffer): void => { parts.push(u32(wire), c) }
  for (let i = 0; i < m; i++) {   // t[i]·t[i] = t[i+1] - y
    parts.push(u32(1)); term(t(i), one)
    parts.push(u32(1)); term(t(i), one)
    parts.push(u32(2)); term(t(i + 1), one); term(1, minusOne)
  }
  const header = Buffer.alloc(64)
  header.writeUInt32LE(32, 0)
  prime().copy(header, 4)
  header.writeUInt32LE(nVars, 36)
  header.writeUInt32LE(0, 40)        // outputs
  header.writeUInt32LE(1, 44)        // public inputs
  header.writeUInt32LE(1, 48)        // private inputs
  header.writeBigUInt64LE(BigInt(nVars), 52)
  header.writeUInt32LE(m, 60)
  const map = Buffer.alloc(8 * nVars)
  for (let i = 0; i < nVars; i++) map.writeBigUInt64LE(BigInt(i), 8 * i)
  const head = Buffer.alloc(12); head.write('r1cs', 0, 'latin1'); head.writeUInt32LE(1, 4); head.writeUInt32LE(3, 8)
  return Buffer.concat([head, section(1, header), section(2, Buffer.concat(parts)), section(3, map)])
}

/** The chain's witness (wires as in chainR1cs) as an iden3 .wtns (version 2). */
export function chainWtns (m: number): Uint8Array {
  const n = 3 + m
  const data = Buffer.alloc(32 * n)
  fr(1n).copy(data, 0)
  fr(Y).copy(data, 32)
  let t = X
  fr(t).copy(data, 64)
  for (let i = 0; i < m; i++) {
    t = (t * t + Y) % R
    fr(t).copy(data, 32 * (3 + i))
  }
  const h = Buffer.concat([u32(32), prime(), u32(n)])
  const head = Buffer.alloc(12); head.write('wtns', 0, 'latin1'); head.writeUInt32LE(2, 4); head.writeUInt32LE(2, 8)
  return new Uint8Array(Buffer.concat([head, section(1, h), section(2, data)]))
}

export async function chainFixture (addon: VerimeshAddon, k: number, log: (m: string) => void): Promise<ChainFixture> {
  if (addon.zkSetupDev === undefined) throw new Error(`the addon at ${addon.path} has no zkSetupDev: rebuild it`)
  const m = chainLength(k)
  const source: ChainMeta['source'] = k <= CIRCOM_MAX_LOG ? 'circom' : 'ts'
  const name = 'chain'
  const dir = path.join(CACHE, `chain-${k}`)
  const stamp = createHash('sha256').update(chainSource(m)).update(source).update(SEED).update('v1').digest('hex')
  const zkeyPath = path.join(dir, `${name}.zkey`)
  const r1csPath = path.join(dir, `${name}.r1cs`)
  const wasmPath = path.join(dir, `${name}_js`, `${name}.wasm`)
  const metaPath = path.join(dir, 'meta.json')
  const vkeyPath = path.join(dir, 'vkey.json')
  const stampPath = path.join(dir, 'stamp')
  const fresh = existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === stamp && existsSync(metaPath)
  let built = false
  if (!fresh) {
    built = true
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    const lav = loadavg().map(x => Math.round(x * 100) / 100)
    let compileMs = 0
    const t0 = performance.now()
    if (source === 'circom') {
      log(`chain 2^${k}: compiling with circom2 (${m} constraints)`)
      await writeFile(path.join(dir, `${name}.circom`), chainSource(m))
      const rel = path.relative(ROOT, dir)
      await execFileP(process.execPath, [path.join(ROOT, 'node_modules', 'circom2', 'cli.js'), path.join(rel, `${name}.circom`),
        '--r1cs', '--wasm', '--O2', '-o', rel, '-l', 'node_modules'], { cwd: ROOT, maxBuffer: 1 << 26 })
    } else {
      log(`chain 2^${k}: writing the r1cs (${m} constraints)`)
      await writeFile(r1csPath, chainR1cs(m))
    }
    compileMs = performance.now() - t0
    log(`chain 2^${k}: zkSetupDev (2 threads)`)
    const setup = await addon.zkSetupDev(r1csPath, zkeyPath, { seed: SEED, threads: 2 })
    if (setup.nConstraints !== m) throw new Error(`chain 2^${k}: ${setup.nConstraints} constraints, expected ${m}`)
    const snarkjs = await loadSnarkjs()
    await writeFile(vkeyPath, JSON.stringify(await snarkjs.zKey.exportVerificationKey(zkeyPath)))
    const meta: ChainMeta = {
      k, constraints: setup.nConstraints, domainSize: setup.domainSize, source, compileMs, setupMs: setup.ms,
      setupThreads: setup.threads, builtAt: new Date().toISOString(), builtLoadavg: lav
    }
    await writeFile(metaPath, JSON.stringify(meta, null, 1))
    await writeFile(stampPath, stamp)
  }
  const meta = JSON.parse(await readFile(metaPath, 'utf8')) as ChainMeta
  const vkey = JSON.parse(await readFile(vkeyPath, 'utf8')) as Record<string, unknown>
  const witness = source === 'circom'
    ? async () => await computeWitness({ name: `chain-${k}`, wasmPath }, { x: String(X), y: String(Y) })
    : async () => chainWtns(m)
  return { name: `chain 2^${k}`, dir, zkeyPath, ...(source === 'circom' ? { wasmPath } : {}), witness, vkey, meta, built }
}

/** snarkjs's Solidity Groth16 verifier for a zkey (the templates as circuits/build.ts finds them), cached. */
export async function solidityVerifier (zkeyPath: string, outPath: string): Promise<string> {
  if (existsSync(outPath)) return outPath
  const snarkjs = await loadSnarkjs()
  let pkgDir = path.dirname(createRequire(import.meta.url).resolve('snarkjs'))
  while (!existsSync(path.join(pkgDir, 'templates')) && path.dirname(pkgDir) !== pkgDir) pkgDir = path.dirname(pkgDir)
  const templates = { groth16: await readFile(path.join(pkgDir, 'templates', 'verifier_groth16.sol.ejs'), 'utf8') }
  await writeFile(outPath, await snarkjs.zKey.exportSolidityVerifier(zkeyPath, templates))
  return outPath
}
