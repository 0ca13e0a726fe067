// The native Groth16 prover (native/src/zk) on a real circom circuit whose zkey
// snarkjs made: its proofs must verify with snarkjs.groth16.verify, tampered
// proofs and wrong public signals must not, and malformed or mismatched files
// must be rejected with a precise code while the process stays alive.

import test from 'ava'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { loadAddon, type Groth16ProofJson, type ZkProver, type ZkProverConstructor } from '../runtime/addon.js'
import { buildFixture, CACHE, loadSnarkjs, poseidonCircuit, terminateCurves, type ZkFixture } from './zk-fixture.js'

const BN254_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n

function proverClass (): ZkProverConstructor {
  const addon = loadAddon()
  if (addon.ZkProver === undefined) throw new Error(`the addon at ${addon.path} has no ZkProver: rebuild it (npx node-gyp rebuild)`)
  return addon.ZkProver
}

// Two circuits with different sizes (nVars 500 vs. a smaller one), one tau file.
let small: Promise<ZkFixture> | undefined
let tiny: Promise<ZkFixture> | undefined
async function fixtures (): Promise<{ small: ZkFixture, tiny: ZkFixture }> {
  if (small === undefined) {
    const c = poseidonCircuit(2, 8)
    small = buildFixture('small', c.source, c.input, 9)
  }
  const s = await small
  if (tiny === undefined) {
    const c = poseidonCircuit(1, 3)
    tiny = buildFixture('tiny', c.source, c.input, 9)
  }
  return { small: s, tiny: await tiny }
}

// ffjavascript caches one bn128 curve (with worker threads) per process, but two
// snarkjs calls racing to build it would leave one unterminated: build it once here.
test.before(async t => {
  // First run only: circom2 compiles, a 2^9 powers of tau and two zkeys (about a minute).
  t.timeout(10 * 60_000, 'building the circom fixtures (cached under .verimesh/tmp-zk-test)')
  await fixtures()
  await (await loadSnarkjs()).curves.getCurveFromName('bn128')
})
test.after.always(async () => {
  await Promise.all(created.map(async f => { await rm(f, { force: true }) }))
  await terminateCurves()
})

const TMP = path.join(CACHE, 'bad-files')
const created: string[] = []
async function tmpFile (name: string, bytes: Uint8Array): Promise<string> {
  await mkdir(TMP, { recursive: true })
  const file = path.join(TMP, `${process.pid}-${name}`)
  await writeFile(file, bytes)
  created.push(file)
  return file
}

/** Section table of an iden3 binary file: [id, payload offset, size]. */
function sections (b: Uint8Array): Array<{ id: number, headerAt: number, at: number, size: number }> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const n = dv.getUint32(8, true)
  const out = []
  let pos = 12
  for (let i = 0; i < n; i++) {
    const id = dv.getUint32(pos, true)
    const size = Number(dv.getBigUint64(pos + 4, true))
    out.push({ id, headerAt: pos, at: pos + 12, size })
    pos += 12 + size
  }
  return out
}
function section (b: Uint8Array, id: number): { headerAt: number, at: number, size: number } {
  const s = sections(b).find(x => x.id === id)
  if (s === undefined) throw new Error(`no section ${id}`)
  return s
}

async function rejects (t: import('ava').ExecutionContext, p: Promise<unknown> | (() => unknown), code: string, what: string): Promise<void> {
  try {
    if (typeof p === 'function') p(); else await p
    t.fail(`${what}: expected ${code}, got success`)
  } catch (err) {
    t.is((err as Error & { code?: string }).code, code, `${what}: ${(err as Error).message}`)
  }
}

test('native proofs verify with snarkjs (1 and 2 threads); public signals equal snarkjs\'s', async t => {
  const { small: f } = await fixtures()
  const snarkjs = await loadSnarkjs()
  const prover = await proverClass().load(f.zkey)
  const plain = await proverClass().load(f.zkey, { tables: false })
  const info = prover.info()
  t.like(info, { nVars: 500, nPublic: 4, domainSize: 512 })
  t.true(info.tableBytes > 0, 'fixed-base tables built')
  t.is(plain.info().tableBytes, 0)
  const ref = await snarkjs.groth16.prove(f.zkey, f.wtnsPath)
  t.true(await snarkjs.groth16.verify(f.vkey, ref.publicSignals, ref.proof), 'snarkjs\'s own proof (sanity)')
  for (const [threads, p] of [[1, prover], [2, prover], [1, plain], [2, plain]] as const) {
    const r = await p.prove(f.wtns, { threads })
    t.is(r.threads, threads)
    t.deepEqual(r.publicSignals, ref.publicSignals)
    t.is(r.proof.protocol, 'groth16')
    t.is(r.proof.curve, 'bn128')
    t.is(r.proof.pi_a[2], '1')
    t.deepEqual(r.proof.pi_b[2], ['1', '0'])
    t.true(await snarkjs.groth16.verify(f.vkey, r.publicSignals, r.proof), `native proof, ${threads} thread(s), tables: ${p === prover}`)
    t.true(r.timings.totalMs >= r.timings.msmMs)
  }
  // A 1 MiB cap keeps the G1 tables (500 × 24 windows × 64 bytes) and drops B2's: mixed paths.
  const partial = await proverClass().load(f.zkey, { tableMaxMB: 1 })
  t.true(partial.info().tableBytes > 0 && partial.info().tableBytes < info.tableBytes)
  const pr = await partial.prove(f.wtns, { threads: 2 })
  t.true(await snarkjs.groth16.verify(f.vkey, pr.publicSignals, pr.proof), 'partial tables')
  partial.close()
  // Fresh blinding each time: two proofs of the same witness differ.
  const p1 = await prover.prove(f.wtns)
  const p2 = await prover.prove(f.wtns)
  t.notDeepEqual(p1.proof.pi_a, p2.proof.pi_a)
  prover.close()
  plain.close()
  t.true(prover.closed)
})

test('a tampered native proof or wrong public signals fail snarkjs verification', async t => {
  const { small: f } = await fixtures()
  const snarkjs = await loadSnarkjs()
  const prover = new (proverClass())(f.zkey)
  const { proof, publicSignals } = await prover.prove(f.wtns)
  t.true(await snarkjs.groth16.verify(f.vkey, publicSignals, proof))
  // One coordinate changed (y → q - y keeps the point on the curve).
  const negY = (y: string): string => (BN254_Q - BigInt(y)).toString()
  const tamperedC: Groth16ProofJson = { ...proof, pi_c: [proof.pi_c[0], negY(proof.pi_c[1]), '1'] }
  t.false(await snarkjs.groth16.verify(f.vkey, publicSignals, tamperedC), 'pi_c.y negated')
  const tamperedA: Groth16ProofJson = { ...proof, pi_a: [proof.pi_a[0], negY(proof.pi_a[1]), '1'] }
  t.false(await snarkjs.groth16.verify(f.vkey, publicSignals, tamperedA), 'pi_a.y negated')
  const wrong = [...publicSignals]
  wrong[0] = (BigInt(wrong[0]!) + 1n).toString()
  t.false(await snarkjs.groth16.verify(f.vkey, wrong, proof), 'public signal + 1')
  prover.close()
})

test('malformed zkeys are rejected with precise codes', async t => {
  const { small: f } = await fixtures()
  const ZkProver = proverClass()
  const zkey = new Uint8Array(await readFile(f.zkey))

  await rejects(t, ZkProver.load(await tmpFile('trunc.zkey', zkey.subarray(0, zkey.length >> 1))), 'ZK_TRUNCATED', 'truncated zkey')
  await rejects(t, ZkProver.load(await tmpFile('short.zkey', zkey.subarray(0, 7))), 'ZK_TRUNCATED', '7-byte zkey')
  const magic = zkey.slice(); magic.set([0x78, 0x6b, 0x65, 0x79], 0)
  await rejects(t, ZkProver.load(await tmpFile('magic.zkey', magic)), 'ZK_BAD_MAGIC', 'wrong magic')
  await rejects(t, ZkProver.load(f.wtnsPath), 'ZK_BAD_MAGIC', 'a .wtns given as zkey')
  const version = zkey.slice(); new DataView(version.buffer).setUint32(4, 7, true)
  await rejects(t, ZkProver.load(await tmpFile('version.zkey', version)), 'ZK_BAD_VERSION', 'version 7')
  await rejects(t, ZkProver.load(path.join(TMP, 'does-not-exist.zkey')), 'ZK_IO', 'missing file')

  // Groth16 header (section 2): n8q, q, ...; a 48-byte base field is BLS12-381's.
  const h = section(zkey, 2)
  const n8 = zkey.slice(); new DataView(n8.buffer).setUint32(h.at, 48, true)
  await rejects(t, ZkProver.load(await tmpFile('n8q.zkey', n8)), 'ZK_WRONG_CURVE', 'n8q = 48')
  const prime = zkey.slice(); prime[h.at + 4] = prime[h.at + 4]! ^ 1
  await rejects(t, ZkProver.load(await tmpFile('prime.zkey', prime)), 'ZK_WRONG_CURVE', 'another base prime')
  // Section 9 (H) renamed: missing.
  const noH = zkey.slice(); new DataView(noH.buffer).setUint32(section(zkey, 9).headerAt, 99, true)
  await rejects(t, ZkProver.load(await tmpFile('noh.zkey', noH)), 'ZK_BAD_SECTION', 'section 9 missing')
  // A point of section 5 (A) moved off the curve.
  const off = zkey.slice(); const a = section(zkey, 5); off[a.at + 64 + 3] = off[a.at + 64 + 3]! ^ 0x10
  await rejects(t, ZkProver.load(await tmpFile('off.zkey', off)), 'ZK_BAD_SECTION', 'point off the curve')
  // A coefficient pointing past nVars.
  const coef = zkey.slice(); new DataView(coef.buffer).setUint32(section(zkey, 4).at + 4 + 8, 1 << 30, true)
  await rejects(t, ZkProver.load(await tmpFile('coef.zkey', coef)), 'ZK_BAD_SECTION', 'coefficient signal out of range')
  // Synchronous constructor: same codes, thrown.
  await rejects(t, () => new ZkProver(path.join(TMP, 'does-not-exist.zkey')), 'ZK_IO', 'sync constructor')
})

test('bad witnesses are rejected with precise codes and the prover keeps working', async t => {
  const { small: f, tiny } = await fixtures()
  const snarkjs = await loadSnarkjs()
  const prover: ZkProver = await proverClass().load(f.zkey)
  const w = f.wtns

  await rejects(t, prover.prove(tiny.wtns), 'ZK_MISMATCH', 'witness of another circuit')
  await rejects(t, prover.prove(w.subarray(0, w.length - 32)), 'ZK_TRUNCATED', 'witness cut by one value')
  const s2 = section(w, 2)
  // Section 2 one value short but consistent as a file: the count in section 1 disagrees.
  const short = new Uint8Array(w.length - 32)
  short.set(w.subarray(0, s2.headerAt))
  const dv = new DataView(short.buffer)
  short.set(w.subarray(s2.headerAt, s2.headerAt + 12 + s2.size - 32), s2.headerAt)
  dv.setBigUint64(s2.headerAt + 4, BigInt(s2.size - 32), true)
  short.set(w.subarray(s2.at + s2.size), s2.headerAt + 12 + s2.size - 32)
  await rejects(t, prover.prove(short), 'ZK_BAD_SECTION', 'section 2 shorter than nWitness')
  const big = w.slice(); big.fill(0xff, s2.at + 32 * 3, s2.at + 32 * 4)
  await rejects(t, prover.prove(big), 'ZK_BAD_SECTION', 'witness value >= r')
  const magic = w.slice(); magic[0] = 0x57
  await rejects(t, prover.prove(magic), 'ZK_BAD_MAGIC', 'witness magic')
  const q = w.slice(); q[section(w, 1).at + 4] = q[section(w, 1).at + 4]! ^ 1
  await rejects(t, prover.prove(q), 'ZK_WRONG_CURVE', 'witness prime')
  await rejects(t, prover.prove(new Uint8Array(await readFile(f.zkey))), 'ZK_BAD_MAGIC', 'a zkey given as witness')
  await rejects(t, prover.prove('not bytes' as unknown as Uint8Array), 'ZK_BAD_INPUT', 'a string as witness')
  await rejects(t, prover.prove(w, { threads: -1 }), 'ZK_BAD_INPUT', 'threads -1')
  await rejects(t, proverClass().load(f.zkey, { tables: 'yes' as unknown as boolean }), 'ZK_BAD_INPUT', 'tables option not a boolean')
  await rejects(t, proverClass().load(f.zkey, { tableMaxMB: 0 }), 'ZK_BAD_INPUT', 'tableMaxMB 0')

  // Still alive and correct.
  const ok = await prover.prove(w, { threads: 2 })
  t.true(await snarkjs.groth16.verify(f.vkey, ok.publicSignals, ok.proof))
  prover.close()
  await rejects(t, prover.prove(w), 'ZK_CLOSED', 'prove after close')
  t.throws(() => prover.info())
})
