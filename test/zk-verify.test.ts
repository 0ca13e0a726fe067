// Native pairing and Groth16 verification (native/src/zk/pairing.cc,
// groth16_verify.cc; zkPairing / zkVerify):
//  - the pairing equals @noble/curves' for random points, and is bilinear;
//  - proofs made by snarkjs (with a snarkjs ceremony key and with a development
//    key) and by the native prover verify; tampered proofs and wrong public
//    inputs give false, as snarkjs says;
//  - malformed keys, proofs and signals throw precise codes.

import test from 'ava'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { bn254 } from '@noble/curves/bn254.js'
import { loadAddon, type Groth16ProofJson, type Groth16VerificationKeyJson, type VerimeshAddon, type ZkG1Point, type ZkG2Point } from '../runtime/addon.js'
import { loadSnarkjs as loadShared } from '../circuits/snarkjs.js'

const execFileP = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const DIR = path.join(ROOT, '.verimesh', 'tmp-zk-verify')
const P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

interface Snarkjs {
  groth16: {
    fullProve: (input: unknown, wasm: string, zkey: string) => Promise<{ proof: Groth16ProofJson, publicSignals: string[] }>
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
    exportVerificationKey: (zkey: string) => Promise<Groth16VerificationKeyJson>
  }
  wtns: { calculate: (input: unknown, wasm: string, wtns: string) => Promise<void> }
  curves: { getCurveFromName: (name: string) => Promise<{ terminate: () => Promise<void> }> }
}
async function snarkjs (): Promise<Snarkjs> {
  return await loadShared() as unknown as Snarkjs
}

type Z = Required<Pick<VerimeshAddon, 'zkSetupDev' | 'zkVerify' | 'zkPairing'>> & VerimeshAddon
function addon (): Z {
  const a = loadAddon()
  if (a.zkVerify === undefined || a.zkPairing === undefined || a.zkSetupDev === undefined) {
    throw new Error(`the addon at ${a.path} has no zkVerify: rebuild it (npx node-gyp rebuild)`)
  }
  return a as Z
}

type G1P = InstanceType<typeof bn254.G1.Point>
type G2P = InstanceType<typeof bn254.G2.Point>
interface Fp2 { c0: bigint, c1: bigint }
const g1 = (p: G1P): ZkG1Point => { const a = p.toAffine(); return [a.x.toString(), a.y.toString()] }
const f2 = (x: Fp2): [string, string] => [x.c0.toString(), x.c1.toString()]
const g2 = (p: G2P): ZkG2Point => { const a = p.toAffine(); return [f2(a.x), f2(a.y)] }
const rand = (): bigint => BigInt('0x' + randomBytes(40).toString('hex')) % (R - 1n) + 1n

interface Fp6 { c0: Fp2, c1: Fp2, c2: Fp2 }
interface Fp12 { c0: Fp6, c1: Fp6 }
const fp12List = (e: Fp12): string[] =>
  [e.c0.c0, e.c0.c1, e.c0.c2, e.c1.c0, e.c1.c1, e.c1.c2].flatMap(x => [x.c0.toString(), x.c1.toString()])

test('pairing: equals @noble/curves for random points, and e(aP, bQ) = e(P, Q)^(ab)', t => {
  const z = addon()
  for (let i = 0; i < 3; i++) {
    const p = bn254.G1.Point.BASE.multiply(rand())
    const q = bn254.G2.Point.BASE.multiply(rand())
    t.deepEqual(z.zkPairing(g1(p), g2(q)), fp12List(bn254.pairing(p, q) as Fp12))
  }
  const a = rand(); const b = rand()
  const p = bn254.G1.Point.BASE; const q = bn254.G2.Point.BASE
  const eab = z.zkPairing(g1(p.multiply(a)), g2(q.multiply(b)))
  const Fp12 = bn254.fields.Fp12
  t.deepEqual(eab, fp12List(Fp12.pow(bn254.pairing(p, q), a * b % R) as Fp12))
  t.deepEqual(eab, z.zkPairing(g1(p.multiply(a * b % R)), g2(q)))
  t.deepEqual(eab, z.zkPairing(g1(p), g2(q.multiply(a * b % R))))
  t.notDeepEqual(eab, z.zkPairing(g1(p.multiply(a)), g2(q.multiply(b + 1n))))
  // e(O, Q) = 1
  const one = ['1', ...new Array<string>(11).fill('0')]
  t.deepEqual(z.zkPairing(['0', '0', '0'] as unknown as ZkG1Point, g2(q)), one)
})

/** A point of the twist y² = x³ + 3/(9+u) outside the order-r subgroup. */
function twistPointOutsideG2 (): ZkG2Point {
  const F = bn254.fields.Fp2
  const b = F.mul(F.create({ c0: 3n, c1: 0n }), F.inv(F.create({ c0: 9n, c1: 1n })))
  for (let x0 = 1n; ; x0++) {
    const x = F.create({ c0: x0, c1: 1n })
    const rhs = F.add(F.mul(F.sqr(x), x), b)
    let y: Fp2
    try { y = F.sqrt(rhs) } catch { continue }
    if (!F.eql(F.sqr(y), rhs)) continue
    const pt = bn254.G2.Point.fromAffine({ x, y })
    if (!pt.isTorsionFree()) return [f2(x), f2(y)]
  }
}

// ---------------------------------------------------------------------------
// Groth16 fixtures: one circuit, a snarkjs ceremony key (tiny powers of tau) and
// a development key; cached under .verimesh/tmp-zk-verify/ by content.

const SOURCE = `pragma circom 2.0.0;
template Chain(N) {
  signal input x;
  signal input y;
  signal output out;
  signal t[N + 1];
  t[0] <== x;
  for (var i = 0; i < N; i++) { t[i + 1] <== t[i] * t[i] + y; }
  out <== t[N];
}
component main { public [y] } = Chain(12);
`

interface Fixture { wasm: string, r1cs: string, ceremonyZkey: string, devZkey: string }
let fixture: Promise<Fixture> | undefined
async function build (): Promise<Fixture> {
  const s = await snarkjs()
  const r1cs = path.join(DIR, 'chain.r1cs')
  const wasm = path.join(DIR, 'chain_js', 'chain.wasm')
  const ceremonyZkey = path.join(DIR, 'ceremony.zkey')
  const devZkey = path.join(DIR, 'dev.zkey')
  const stamp = createHash('sha256').update(SOURCE).update('v1').digest('hex')
  const stampPath = path.join(DIR, 'stamp')
  if (!(existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === stamp)) {
    await rm(DIR, { recursive: true, force: true })
    await mkdir(DIR, { recursive: true })
    await writeFile(path.join(DIR, 'chain.circom'), SOURCE)
    const rel = path.relative(ROOT, DIR)
    await execFileP(process.execPath, [path.join(ROOT, 'node_modules', 'circom2', 'cli.js'), path.join(rel, 'chain.circom'),
      '--r1cs', '--wasm', '--O2', '-o', rel, '-l', 'node_modules'], { cwd: ROOT, maxBuffer: 1 << 24 })
    // A real (if single-party) snarkjs ceremony at 2^5: random tau, prepare phase 2, one zkey contribution.
    const curve = await s.curves.getCurveFromName('bn128')
    const f = (n: string): string => path.join(DIR, n)
    await s.powersOfTau.newAccumulator(curve, 5, f('pot0.ptau'))
    await s.powersOfTau.contribute(f('pot0.ptau'), f('pot1.ptau'), 'test', 'entropy ' + randomBytes(8).toString('hex'))
    await s.powersOfTau.preparePhase2(f('pot1.ptau'), f('pot.ptau'))
    await s.zKey.newZKey(r1cs, f('pot.ptau'), f('z0.zkey'))
    await s.zKey.contribute(f('z0.zkey'), f('ceremony.tmp'), 'test', 'entropy2 ' + randomBytes(8).toString('hex'))
    await rename(f('ceremony.tmp'), ceremonyZkey)
    await addon().zkSetupDev(r1cs, devZkey)
    await writeFile(stampPath, stamp)
  }
  return { wasm, r1cs, ceremonyZkey, devZkey }
}
const getFixture = async (): Promise<Fixture> => await (fixture ??= build())

for (const key of ['ceremonyZkey', 'devZkey'] as const) {
  test.serial(`groth16 (${key === 'devZkey' ? 'development' : 'snarkjs ceremony'} key): snarkjs proofs verify; tampered proofs and wrong inputs give false like snarkjs`, async t => {
    const fx = await getFixture()
    const s = await snarkjs()
    const z = addon()
    const vk = await s.zKey.exportVerificationKey(fx[key])
    const { proof, publicSignals } = await s.groth16.fullProve({ x: '2', y: '9' }, fx.wasm, fx[key])
    const res = z.zkVerify(vk, proof, publicSignals)
    t.true(res.valid)
    t.true(res.ms >= 0)
    t.true(await s.groth16.verify(vk, publicSignals, proof))

    const dbl1 = (p: [string, string, string]): [string, string, string] => {
      const q = bn254.G1.Point.fromAffine({ x: BigInt(p[0]), y: BigInt(p[1]) }).double().toAffine()
      return [q.x.toString(), q.y.toString(), '1']
    }
    const b = proof.pi_b
    const bDbl = bn254.G2.Point.fromAffine({ x: { c0: BigInt(b[0][0]), c1: BigInt(b[0][1]) }, y: { c0: BigInt(b[1][0]), c1: BigInt(b[1][1]) } }).double().toAffine()
    const cases: Array<[string, Groth16ProofJson, string[]]> = [
      ['2·A', { ...proof, pi_a: dbl1(proof.pi_a) }, publicSignals],
      ['2·C', { ...proof, pi_c: dbl1(proof.pi_c) }, publicSignals],
      ['A and C swapped', { ...proof, pi_a: proof.pi_c, pi_c: proof.pi_a }, publicSignals],
      ['2·B', { ...proof, pi_b: [f2(bDbl.x), f2(bDbl.y), ['1', '0']] }, publicSignals],
      ['A = O', { ...proof, pi_a: ['0', '1', '0'] }, publicSignals],
      ['output + 1', proof, [(BigInt(publicSignals[0]!) + 1n).toString(), publicSignals[1]!]],
      ['other input', proof, [publicSignals[0]!, '10']]
    ]
    for (const [name, pr, pub] of cases) {
      t.false(z.zkVerify(vk, pr, pub).valid, name)
      if (name !== 'A = O') t.false(await s.groth16.verify(vk, pub, pr), `snarkjs: ${name}`)
    }
  })
}

test.serial('groth16: a proof from the native prover verifies natively', async t => {
  const fx = await getFixture()
  const z = addon()
  if (z.ZkProver === undefined) { t.pass('native prover not in this addon build'); return }
  const s = await snarkjs()
  const wtns = path.join(DIR, 'w.wtns')
  await s.wtns.calculate({ x: '4', y: '1' }, fx.wasm, wtns)
  for (const key of [fx.ceremonyZkey, fx.devZkey]) {
    const prover = await z.ZkProver.load(key)
    const res = await prover.prove(new Uint8Array(await readFile(wtns)))
    prover.close()
    const vk = await s.zKey.exportVerificationKey(key)
    t.true(z.zkVerify(vk, res.proof, res.publicSignals).valid)
    t.false(z.zkVerify(vk, res.proof, [res.publicSignals[0]!, '2']).valid)
  }
})

test.serial('groth16: malformed keys, proofs and signals throw precise codes', async t => {
  const fx = await getFixture()
  const s = await snarkjs()
  const z = addon()
  const vk = await s.zKey.exportVerificationKey(fx.devZkey)
  const { proof, publicSignals } = await s.groth16.fullProve({ x: '2', y: '9' }, fx.wasm, fx.devZkey)
  const code = (vkx: unknown, pr: unknown, pub: unknown): string => {
    const e = t.throws(() => z.zkVerify(vkx as Groth16VerificationKeyJson, pr as Groth16ProofJson, pub as string[]))
    return (e as Error & { code?: string } | undefined)?.code ?? 'none'
  }
  const outside = twistPointOutsideG2()
  // public signals
  t.is(code(vk, proof, [publicSignals[0]]), 'ZK_PUBLIC_COUNT')
  t.is(code(vk, proof, [...publicSignals, '1']), 'ZK_PUBLIC_COUNT')
  t.is(code(vk, proof, [publicSignals[0], R.toString()]), 'ZK_PUBLIC_OUT_OF_RANGE')
  t.is(code(vk, proof, [publicSignals[0], '-1']), 'ZK_PUBLIC_OUT_OF_RANGE')
  t.is(code(vk, proof, [publicSignals[0], '0x10']), 'ZK_PUBLIC_OUT_OF_RANGE')
  t.is(code(vk, proof, 'x'), 'ZK_BAD_PROOF_SHAPE')
  // proof
  t.is(code(vk, { ...proof, pi_a: [P.toString(), proof.pi_a[1], '1'] }, publicSignals), 'ZK_COORD_OUT_OF_RANGE')
  t.is(code(vk, { ...proof, pi_a: [proof.pi_a[0], (BigInt(proof.pi_a[1]) + 1n).toString(), '1'] }, publicSignals), 'ZK_NOT_ON_CURVE')
  t.is(code(vk, { ...proof, pi_b: [proof.pi_b[0], [proof.pi_b[1][1], proof.pi_b[1][0]], ['1', '0']] }, publicSignals), 'ZK_NOT_ON_CURVE')
  t.is(code(vk, { ...proof, pi_b: [...outside, ['1', '0']] }, publicSignals), 'ZK_NOT_IN_SUBGROUP')
  t.is(code(vk, { ...proof, pi_b: [proof.pi_b[0]] }, publicSignals), 'ZK_BAD_PROOF_SHAPE')
  t.is(code(vk, { ...proof, pi_c: undefined }, publicSignals), 'ZK_BAD_PROOF_SHAPE')
  t.is(code(vk, { ...proof, pi_a: [1, 2, 1] }, publicSignals), 'ZK_BAD_PROOF_SHAPE')
  t.is(code(vk, { ...proof, pi_a: ['12abc', '2', '1'] }, publicSignals), 'ZK_BAD_PROOF_SHAPE')
  t.is(code(vk, null, publicSignals), 'ZK_BAD_PROOF_SHAPE')
  // key
  t.is(code({ ...vk, curve: 'bls12381' }, proof, publicSignals), 'ZK_WRONG_CURVE')
  t.is(code({ ...vk, protocol: 'plonk' }, proof, publicSignals), 'ZK_WRONG_CURVE')
  t.is(code({ ...vk, IC: vk.IC.slice(0, -1) }, proof, publicSignals), 'ZK_PUBLIC_COUNT')
  t.is(code({ ...vk, IC: undefined }, proof, publicSignals), 'ZK_BAD_VK_SHAPE')
  t.is(code({ ...vk, vk_delta_2: undefined }, proof, publicSignals), 'ZK_BAD_VK_SHAPE')
  t.is(code({ ...vk, nPublic: '2' }, proof, publicSignals), 'ZK_BAD_VK_SHAPE')
  t.is(code({ ...vk, vk_gamma_2: [...outside, ['1', '0']] }, proof, publicSignals), 'ZK_NOT_IN_SUBGROUP')
  t.is(code({ ...vk, vk_alpha_1: ['1', '3', '1'] }, proof, publicSignals), 'ZK_NOT_ON_CURVE')
  t.is(code({ ...vk, IC: [vk.IC[0], vk.IC[1], [vk.IC[2]![0], P.toString(), '1']] }, proof, publicSignals), 'ZK_COORD_OUT_OF_RANGE')
  t.is(code(undefined, proof, publicSignals), 'ZK_BAD_VK_SHAPE')
  // BigInt public signals are read as their decimal text
  t.true(z.zkVerify(vk, proof, publicSignals.map(BigInt) as unknown as string[]).valid)
  t.is(code(vk, proof, [publicSignals[0], -5n]), 'ZK_PUBLIC_OUT_OF_RANGE')
  // the key and proof still verify after all of that (nothing bad was cached)
  t.true(z.zkVerify(vk, proof, publicSignals).valid)
  // the point used above is really on the twist: the check that caught it is the subgroup one
  t.is(t.throws(() => z.zkPairing(['1', '2'], outside))?.message.includes('subgroup'), true)
  // and its multiple by the twist's cofactor is in G2: accepted (a wrong but well-formed proof)
  const F = bn254.fields.Fp2
  const pt = bn254.G2.Point.fromAffine({ x: F.create({ c0: BigInt(outside[0][0]), c1: BigInt(outside[0][1]) }), y: F.create({ c0: BigInt(outside[1][0]), c1: BigInt(outside[1][1]) }) })
  let cleared = bn254.G2.Point.ZERO
  const cofactor = 2n * P - R   // #E'(Fq2) = r·(2p - r)
  for (let i = cofactor.toString(2).length - 1; i >= 0; i--) {
    cleared = cleared.double()
    if (((cofactor >> BigInt(i)) & 1n) === 1n) cleared = cleared.add(pt)
  }
  t.true(cleared.isTorsionFree())
  t.false(z.zkVerify(vk, { ...proof, pi_b: [...g2(cleared), ['1', '0']] }, publicSignals).valid)
})

test.after.always(async () => {
  const s = await snarkjs()
  await (await s.curves.getCurveFromName('bn128')).terminate()
})
