// The INSECURE known-tau development setup (native/src/zk/setup_dev.cc, zkSetupDev):
// a circom circuit compiled with circom2 into .verimesh/tmp-zk-setup/ (gitignored),
// then
//  - byte-identical to snarkjs's prepare phase2 + zkey new for a powers of tau
//    written here from the same known tau, alpha, beta;
//  - every point of the zkey recomputed independently in JavaScript (BigInt +
//    @noble/curves) from the documented seed derivation and the r1cs: sections
//    2, 3, 5, 6, 7, 8, 9 and the coefficients of section 4;
//  - snarkjs proves with the key and verifies with the key it exports (and
//    rejects a wrong public input); the native verifier agrees; the native prover
//    reads the key;
//  - the output is deterministic in the seed;
//  - missing, truncated, corrupted and non-BN254 .r1cs files are refused with codes.

import test from 'ava'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { bn254 } from '@noble/curves/bn254.js'
import { loadAddon, type Groth16ProofJson, type Groth16VerificationKeyJson, type VerimeshAddon } from '../runtime/addon.js'
import { inv, mod, pow } from './zk-bigint.js'

const execFileP = promisify(execFile)

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const DIR = path.join(ROOT, '.verimesh', 'tmp-zk-setup')
const P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
const DEFAULT_SEED = 'verimesh-devnet'

interface Snarkjs {
  groth16: {
    fullProve: (input: unknown, wasm: string, zkey: string) => Promise<{ proof: Groth16ProofJson, publicSignals: string[] }>
    verify: (vk: unknown, publicSignals: string[], proof: unknown) => Promise<boolean>
  }
  zKey: {
    exportVerificationKey: (zkey: string) => Promise<Groth16VerificationKeyJson>
    newZKey: (r1cs: string, ptau: string, zkey: string) => Promise<unknown>
  }
  powersOfTau: { preparePhase2: (oldFile: string, newFile: string) => Promise<unknown> }
  wtns: { calculate: (input: unknown, wasm: string, wtns: string) => Promise<void> }
  curves: { getCurveFromName: (name: string) => Promise<{ terminate: () => Promise<void> }> }
}
async function snarkjs (): Promise<Snarkjs> {
  const name = 'snarkjs'   // no type declarations: import through a variable
  return await import(name) as Snarkjs
}

function addon (): Required<Pick<VerimeshAddon, 'zkSetupDev' | 'zkVerify'>> & VerimeshAddon {
  const a = loadAddon()
  if (a.zkSetupDev === undefined || a.zkVerify === undefined) throw new Error(`the addon at ${a.path} has no zkSetupDev: rebuild it (npx node-gyp rebuild)`)
  return a as Required<Pick<VerimeshAddon, 'zkSetupDev' | 'zkVerify'>> & VerimeshAddon
}

// ---------------------------------------------------------------------------
// Circuits

const chainSource = (n: number): string => `pragma circom 2.0.0;
template Chain(N) {
  signal input x;
  signal input y;
  signal output out;
  signal t[N + 1];
  t[0] <== x;
  for (var i = 0; i < N; i++) { t[i + 1] <== t[i] * t[i] + y * i; }
  out <== t[N] + 2 * y;
}
component main { public [y] } = Chain(${n});
`

/** Compiles `source` with circom2 (cached by content) and returns the .r1cs and .wasm paths. */
async function compile (name: string, source: string, prime = 'bn128'): Promise<{ r1cs: string, wasm: string }> {
  const dir = path.join(DIR, name)
  const r1cs = path.join(dir, `${name}.r1cs`)
  const wasm = path.join(dir, `${name}_js`, `${name}.wasm`)
  const stamp = createHash('sha256').update(source).update(prime).digest('hex')
  const stampPath = path.join(dir, 'stamp')
  if (existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === stamp && existsSync(r1cs)) return { r1cs, wasm }
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, `${name}.circom`), source)
  const rel = path.relative(ROOT, dir)   // circom2 reads only below its working directory
  await execFileP(process.execPath, [path.join(ROOT, 'node_modules', 'circom2', 'cli.js'), path.join(rel, `${name}.circom`),
    '--r1cs', '--wasm', '--O2', '--prime', prime, '-o', rel, '-l', 'node_modules'], { cwd: ROOT, maxBuffer: 1 << 24 })
  await writeFile(stampPath, stamp)
  return { r1cs, wasm }
}

// ---------------------------------------------------------------------------
// Independent model of the setup in BigInt

const le = (b: Uint8Array, off: number, n = 32): bigint => {
  let x = 0n
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i]!)
  return x
}

function secret (name: string, seed: string): bigint {
  const d = createHash('sha256').update(`verimesh-insecure-dev-setup/v1/${name}/${seed}`).digest('hex')
  const v = BigInt('0x' + d) % R
  return v === 0n ? 1n : v
}

/** ffjavascript's ω_{2^k}: 5^((r-1)/2^k). */
const root = (k: number): bigint => pow(5n, (R - 1n) >> BigInt(k), R)

function lagrange (tau: bigint, power: number, odd: boolean): bigint[] {
  // odd: the odd points of the 2n domain, ω_2n^(2i+1); else the n domain.
  const n = 1 << power
  const size = odd ? 2n * BigInt(n) : BigInt(n)
  const z = mod((pow(tau, size, R) - 1n) * inv(size, R), R)
  const w = root(power)
  let x = odd ? root(power + 1) : 1n
  const out: bigint[] = []
  for (let i = 0; i < n; i++) {
    out.push(z * x % R * inv(mod(tau - x, R), R) % R)
    x = x * w % R
  }
  return out
}

interface R1csModel { nVars: number, nPublic: number, constraints: Array<Array<Array<[number, bigint]>>> }
function parseR1cs (b: Uint8Array): R1csModel {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const sections = new Map<number, number>()
  let pos = 12
  for (let i = 0; i < v.getUint32(8, true); i++) {
    sections.set(v.getUint32(pos, true), pos + 12)
    pos += 12 + Number(v.getBigUint64(pos + 4, true))
  }
  const h = sections.get(1)!
  const nVars = v.getUint32(h + 36, true)
  const nPublic = v.getUint32(h + 40, true) + v.getUint32(h + 44, true)
  const m = v.getUint32(h + 60, true)
  let c = sections.get(2)!
  const constraints: R1csModel['constraints'] = []
  for (let i = 0; i < m; i++) {
    const lcs: Array<Array<[number, bigint]>> = []
    for (let k = 0; k < 3; k++) {
      const nt = v.getUint32(c, true); c += 4
      const lc: Array<[number, bigint]> = []
      for (let t = 0; t < nt; t++) { lc.push([v.getUint32(c, true), le(b, c + 4)]); c += 36 }
      lcs.push(lc)
    }
    constraints.push(lcs)
  }
  return { nVars, nPublic, constraints }
}

function zkeySections (b: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out = new Map<number, Uint8Array>()
  let pos = 12
  for (let i = 0; i < v.getUint32(8, true); i++) {
    const size = Number(v.getBigUint64(pos + 4, true))
    out.set(v.getUint32(pos, true), b.subarray(pos + 12, pos + 12 + size))
    pos += 12 + size
  }
  return out
}

// zkey points: affine, Montgomery coordinates (x·2^256 mod p), infinity = zeros.
const RINV_P = inv(mod(1n << 256n, P), P)
const unmont = (x: bigint): bigint => x * RINV_P % P
type Pt = string   // canonical text of a point: 'inf' or coordinates
function g1At (b: Uint8Array, off: number): Pt {
  const x = le(b, off); const y = le(b, off + 32)
  return x === 0n && y === 0n ? 'inf' : `${unmont(x)},${unmont(y)}`
}
function g2At (b: Uint8Array, off: number): Pt {
  const c = [0, 32, 64, 96].map(o => le(b, off + o))
  return c.every(x => x === 0n) ? 'inf' : c.map(unmont).join(',')
}
function g1Of (k: bigint): Pt {
  if (mod(k, R) === 0n) return 'inf'
  const a = bn254.G1.Point.BASE.multiply(mod(k, R)).toAffine()
  return `${a.x},${a.y}`
}
function g2Of (k: bigint): Pt {
  if (mod(k, R) === 0n) return 'inf'
  const a = bn254.G2.Point.BASE.multiply(mod(k, R)).toAffine()
  return `${a.x.c0},${a.x.c1},${a.y.c0},${a.y.c1}`
}

// ---------------------------------------------------------------------------

test.serial('zkSetupDev: every point and coefficient equals the documented known-tau computation', async t => {
  const { r1cs } = await compile('chain20', chainSource(20))
  const zkeyPath = path.join(DIR, 'chain20', 'dev.zkey')
  const info = await addon().zkSetupDev(r1cs, zkeyPath)
  const model = parseR1cs(new Uint8Array(await readFile(r1cs)))
  const m = model.constraints.length
  t.is(info.nConstraints, m)
  t.is(info.nVars, model.nVars)
  t.is(info.nPublic, 2)
  t.true(info.insecure)
  t.regex(info.notice, /INSECURE/)
  // snarkjs: 2^(floor(log2(m + nPublic)) + 1)
  const power = Math.floor(Math.log2(m + model.nPublic)) + 1
  t.is(info.domainSize, 1 << power)

  const [tau, alpha, beta, gamma, delta] = ['tau', 'alpha', 'beta', 'gamma', 'delta'].map(s => secret(s, DEFAULT_SEED)) as [bigint, bigint, bigint, bigint, bigint]
  const L = lagrange(tau, power, false)
  const a = new Array<bigint>(model.nVars).fill(0n)
  const b = new Array<bigint>(model.nVars).fill(0n)
  const c = new Array<bigint>(model.nVars).fill(0n)
  model.constraints.forEach((lcs, row) => {
    for (const [k, acc] of [a, b, c].entries()) {
      for (const [wire, coef] of lcs[k]!) acc[wire] = (acc[wire]! + coef * L[row]!) % R
    }
  })
  for (let s = 0; s <= model.nPublic; s++) a[s] = (a[s]! + L[m + s]!) % R

  const z = zkeySections(new Uint8Array(await readFile(zkeyPath)))
  t.deepEqual([...z.keys()].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9])
  const h = z.get(2)!
  const hv = new DataView(h.buffer, h.byteOffset)
  t.is(le(h, 4), P)
  t.is(le(h, 40), R)
  t.deepEqual([hv.getUint32(72, true), hv.getUint32(76, true), hv.getUint32(80, true)], [model.nVars, model.nPublic, 1 << power])
  t.is(g1At(h, 84), g1Of(alpha))
  t.is(g1At(h, 148), g1Of(beta))
  t.is(g2At(h, 212), g2Of(beta))
  t.is(g2At(h, 340), g2Of(gamma))
  t.is(g1At(h, 468), g1Of(delta))
  t.is(g2At(h, 532), g2Of(delta))

  const k = (s: number): bigint => (beta * a[s]! + alpha * b[s]! + c[s]!) % R
  for (let s = 0; s <= model.nPublic; s++) t.is(g1At(z.get(3)!, 64 * s), g1Of(k(s) * inv(gamma, R)), `IC[${s}]`)
  for (let s = 0; s < model.nVars; s++) {
    t.is(g1At(z.get(5)!, 64 * s), g1Of(a[s]!), `A[${s}]`)
    t.is(g1At(z.get(6)!, 64 * s), g1Of(b[s]!), `B1[${s}]`)
    t.is(g2At(z.get(7)!, 128 * s), g2Of(b[s]!), `B2[${s}]`)
    if (s > model.nPublic) t.is(g1At(z.get(8)!, 64 * (s - model.nPublic - 1)), g1Of(k(s) * inv(delta, R)), `C[${s}]`)
  }
  const H = lagrange(tau, power, true)
  for (let i = 0; i < 1 << power; i++) t.is(g1At(z.get(9)!, 64 * i), g1Of(H[i]! * inv(delta, R)), `H[${i}]`)

  // Section 4: A and B terms of each constraint in order, then one A row per public input; coef·R² mod r.
  const R2 = mod((1n << 512n), R)
  const expected: string[] = []
  model.constraints.forEach((lcs, row) => {
    for (const mat of [0, 1]) for (const [wire, coef] of lcs[mat]!) expected.push(`${mat},${row},${wire},${coef * R2 % R}`)
  })
  for (let s = 0; s <= model.nPublic; s++) expected.push(`0,${m + s},${s},${R2}`)
  const s4 = z.get(4)!
  const v4 = new DataView(s4.buffer, s4.byteOffset)
  const got: string[] = []
  for (let i = 0; i < v4.getUint32(0, true); i++) {
    const o = 4 + 44 * i
    got.push(`${v4.getUint32(o, true)},${v4.getUint32(o + 4, true)},${v4.getUint32(o + 8, true)},${le(s4, o + 12)}`)
  }
  t.deepEqual(got, expected)
})

/** A powers-of-tau file (snarkjs's .ptau, phase 1 only) for known τ, α, β. */
function knownTauPtau (power: number, tau: bigint, alpha: bigint, beta: bigint): Uint8Array {
  const RM = mod(1n << 256n, P)
  const fq = (x: bigint): Buffer => { const b = Buffer.alloc(32); let v = x * RM % P; for (let i = 0; i < 32; i++) { b[i] = Number(v & 0xffn); v >>= 8n } return b }
  const g1 = (k: bigint): Buffer => { const a = bn254.G1.Point.BASE.multiply(k).toAffine(); return Buffer.concat([fq(a.x), fq(a.y)]) }
  const g2 = (k: bigint): Buffer => { const a = bn254.G2.Point.BASE.multiply(k).toAffine(); return Buffer.concat([fq(a.x.c0), fq(a.x.c1), fq(a.y.c0), fq(a.y.c1)]) }
  const powers = (count: number, scale: bigint): bigint[] => { const out: bigint[] = []; let x = scale; for (let i = 0; i < count; i++) { out.push(x); x = x * tau % R } return out }
  const n = 1 << power
  const section = (id: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(12); h.writeUInt32LE(id, 0); h.writeBigUInt64LE(BigInt(body.length), 4)
    return Buffer.concat([h, body])
  }
  const header = Buffer.alloc(4 + 32 + 8)
  header.writeUInt32LE(32, 0)
  let q = P
  for (let i = 0; i < 32; i++) { header[4 + i] = Number(q & 0xffn); q >>= 8n }
  header.writeUInt32LE(power, 36)
  header.writeUInt32LE(power, 40)
  const head = Buffer.alloc(12); head.write('ptau', 0, 'latin1'); head.writeUInt32LE(1, 4); head.writeUInt32LE(7, 8)
  return Buffer.concat([head, section(1, header),
    section(2, Buffer.concat(powers(2 * n - 1, 1n).map(g1))),
    section(3, Buffer.concat(powers(n, 1n).map(g2))),
    section(4, Buffer.concat(powers(n, alpha).map(g1))),
    section(5, Buffer.concat(powers(n, beta).map(g1))),
    section(6, g2(beta)),
    section(7, Buffer.alloc(4))])   // no contributions
}

test.serial('zkSetupDev: byte-identical to snarkjs prepare phase2 + zkey new for the same tau, alpha, beta (gamma = delta = 1)', async t => {
  const { r1cs } = await compile('chain20', chainSource(20))
  const d = path.join(DIR, 'chain20')
  const model = parseR1cs(new Uint8Array(await readFile(r1cs)))
  // One power above the circuit's domain: at exactly the domain's power snarkjs
  // zeroes the last tau power of the 2n-domain H points (a different key).
  const power = Math.floor(Math.log2(model.constraints.length + model.nPublic)) + 2
  const tau = secret('tau', 'byte-compare'); const alpha = secret('alpha', 'byte-compare'); const beta = secret('beta', 'byte-compare')
  await writeFile(path.join(d, 'known.ptau'), knownTauPtau(power, tau, alpha, beta))
  const s = await snarkjs()
  await s.powersOfTau.preparePhase2(path.join(d, 'known.ptau'), path.join(d, 'known-final.ptau'))
  await s.zKey.newZKey(r1cs, path.join(d, 'known-final.ptau'), path.join(d, 'snarkjs.zkey'))
  await addon().zkSetupDev(r1cs, path.join(d, 'native.zkey'), {
    secrets: { tau: tau.toString(), alpha: alpha.toString(), beta: beta.toString(), gamma: '1', delta: '1' }
  })
  const ours = zkeySections(new Uint8Array(await readFile(path.join(d, 'native.zkey'))))
  const theirs = zkeySections(new Uint8Array(await readFile(path.join(d, 'snarkjs.zkey'))))
  t.true(theirs.has(10))   // their contribution log; we write none
  for (let id = 1; id <= 9; id++) t.true(Buffer.from(ours.get(id)!).equals(Buffer.from(theirs.get(id)!)), `section ${id}`)
})

test.serial('zkSetupDev: snarkjs proves with the key and verifies with its exported key; native verify and prover agree', async t => {
  const { r1cs, wasm } = await compile('chain20', chainSource(20))
  const zkeyPath = path.join(DIR, 'chain20', 'dev-prove.zkey')
  await addon().zkSetupDev(r1cs, zkeyPath, { threads: 2 })
  const s = await snarkjs()
  const vk = await s.zKey.exportVerificationKey(zkeyPath)
  t.is(vk.nPublic, 2)
  const { proof, publicSignals } = await s.groth16.fullProve({ x: '3', y: '5' }, wasm, zkeyPath)
  t.true(await s.groth16.verify(vk, publicSignals, proof))
  t.false(await s.groth16.verify(vk, [publicSignals[0]!, '6'], proof))
  t.true(addon().zkVerify(vk, proof, publicSignals).valid)
  t.false(addon().zkVerify(vk, proof, [publicSignals[0]!, '6']).valid)

  const { ZkProver } = addon()
  if (ZkProver === undefined) { t.log('native prover not in this addon build: skipped'); return }
  const wtnsPath = path.join(DIR, 'chain20', 'w.wtns')
  await s.wtns.calculate({ x: '7', y: '11' }, wasm, wtnsPath)
  const prover = await ZkProver.load(zkeyPath)
  const res = await prover.prove(new Uint8Array(await readFile(wtnsPath)))
  prover.close()
  t.true(await s.groth16.verify(vk, res.publicSignals, res.proof))
  t.true(addon().zkVerify(vk, res.proof, res.publicSignals).valid)
})

test.serial('zkSetupDev: the key is a function of the seed', async t => {
  const { r1cs } = await compile('chain20', chainSource(20))
  const d = path.join(DIR, 'chain20')
  const digest = async (f: string): Promise<string> => createHash('sha256').update(await readFile(f)).digest('hex')
  await addon().zkSetupDev(r1cs, path.join(d, 's1.zkey'), { seed: 'alpha', threads: 1 })
  await addon().zkSetupDev(r1cs, path.join(d, 's2.zkey'), { seed: 'alpha', threads: 2 })
  await addon().zkSetupDev(r1cs, path.join(d, 's3.zkey'), { seed: 'beta' })
  t.is(await digest(path.join(d, 's1.zkey')), await digest(path.join(d, 's2.zkey')))
  t.not(await digest(path.join(d, 's1.zkey')), await digest(path.join(d, 's3.zkey')))
})

test.serial('zkSetupDev: bad .r1cs files and arguments are refused with precise codes', async t => {
  const { r1cs } = await compile('chain20', chainSource(20))
  const d = path.join(DIR, 'chain20')
  const out = path.join(d, 'bad.zkey')
  const bytes = new Uint8Array(await readFile(r1cs))
  const z = addon()
  const code = async (p: Promise<unknown>): Promise<string> => {
    const e = await t.throwsAsync(p)
    t.log(e?.message)
    return (e as Error & { code?: string } | undefined)?.code ?? 'none'
  }
  t.is(await code(z.zkSetupDev(path.join(d, 'missing.r1cs'), out)), 'ZK_IO')

  const truncated = path.join(d, 'truncated.r1cs')
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
  t.is(await code(z.zkSetupDev(truncated, out)), 'ZK_TRUNCATED')

  const magic = path.join(d, 'magic.r1cs')
  const m = bytes.slice(); m[0] = 0x78
  await writeFile(magic, m)
  t.is(await code(z.zkSetupDev(magic, out)), 'ZK_BAD_MAGIC')

  // A wire index past nVars in the first term of constraint 0 (section 2 is
  // found by walking the section table).
  const v = new DataView(bytes.buffer, bytes.byteOffset)
  let pos = 12
  let sec2 = -1
  for (let i = 0; i < v.getUint32(8, true); i++) {
    if (v.getUint32(pos, true) === 2) sec2 = pos + 12
    pos += 12 + Number(v.getBigUint64(pos + 4, true))
  }
  const badWire = bytes.slice()
  new DataView(badWire.buffer).setUint32(sec2 + 4, 1_000_000, true)
  await writeFile(path.join(d, 'wire.r1cs'), badWire)
  t.is(await code(z.zkSetupDev(path.join(d, 'wire.r1cs'), out)), 'ZK_BAD_R1CS')

  const { r1cs: bls } = await compile('chain4bls', chainSource(4), 'bls12381')
  t.is(await code(z.zkSetupDev(bls, out)), 'ZK_WRONG_CURVE')

  t.is(await code(z.zkSetupDev(r1cs, out, { threads: -1 })), 'ZK_BAD_INPUT')
  t.is(await code(z.zkSetupDev(r1cs, path.join(d, 'no-such-dir', 'x.zkey'))), 'ZK_IO')
  t.false(existsSync(out))
})

test.after.always(async () => {
  const s = await snarkjs()
  await (await s.curves.getCurveFromName('bn128')).terminate()
})
