// The tile step circuit against the engine's integer spec (§2.1): random tiles and edge
// cases (saturation both ways, negative round-half-up, zero vector, the shift range's
// ends) give a witness only when the circuit computes exactly the TypeScript reference's
// output (its commitment is inside the public statement; the weights commitment is the
// second public signal). tileReference itself is checked against the engine's own `linear`.

import test from 'ava'
import { linear } from '../actors/engine/int/forward.js'
import { qvec } from '../actors/engine/int/fixed.js'
import { buildCircuits } from '../circuits/build.js'
import { loadCircuit, loadCompiledCircuit, type CompiledCircuit } from '../circuits/circuits.js'
import { dec } from '../circuits/field.js'
import { randomTile, seededRandom } from '../circuits/samples.js'
import { loadSnarkjs, releaseSnarkjsCurve, warmSnarkjsCurve } from '../circuits/snarkjs.js'
import { packInt8, tileInput, tileReference, tileStatement, type TileActivation, type TileWeights } from '../circuits/tile-encoding.js'
import { computeWitness, readWitness } from '../circuits/witness.js'
import { isVerimeshError } from '../runtime/errors.js'

let small: CompiledCircuit
let big: CompiledCircuit

test.before(async (t) => {
  t.timeout(20 * 60_000)
  await buildCircuits({ only: ['tile_4x16'], log: (l) => t.log(l) })
  await buildCircuits({ only: ['tile_16x64'], compileOnly: true, log: (l) => t.log(l) })
  small = await loadCompiledCircuit('tile_4x16')
  big = await loadCompiledCircuit('tile_16x64')
  await warmSnarkjsCurve()
})

test.after.always(async () => { await releaseSnarkjsCurve() })

async function agrees (c: CompiledCircuit, step: number, w: TileWeights, x: TileActivation): Promise<Uint8Array> {
  const p = tileInput(step, w, x)
  const wtns = await computeWitness(c, p.input)
  const signals = readWitness(wtns)
  if (signals[1] !== p.statement) throw new Error('public signal 0 is not the statement')
  if (signals[2] !== p.commitments.weights) throw new Error('public signal 1 is not the weights commitment')
  return wtns
}

test('tileReference is the engine linear() when there is no carried accumulator', (t) => {
  const rand = seededRandom(1)
  for (let i = 0; i < 50; i++) {
    const { w, x } = randomTile(rand, 16, 64, { bias: i % 2 === 0 })
    const out = new Int32Array(16)
    linear({ rows: w.rows, cols: w.cols, q: w.w, scales: w.scales, ...(w.bias === undefined ? {} : { bias: w.bias }) }, { q: x.a, m: x.ma, x: x.xa }, out)
    t.deepEqual(tileReference(w, x).y, out)
  }
})

test('packInt8: two\'s-complement bytes, 31 per element, little-endian', (t) => {
  t.deepEqual(packInt8([1, -1]), [0xff01n])
  t.deepEqual(packInt8([-128, 127, 0]), [0x7f80n])
  const p = packInt8(new Array(64).fill(-1))
  t.is(p.length, 3)
  t.is(p[0], (1n << 248n) - 1n)
  t.is(p[2], 0xffffn)
})

test('16×64 tile: random tiles agree with the reference (bias, carried accumulators)', async (t) => {
  t.timeout(5 * 60_000)
  const rand = seededRandom(2)
  for (let i = 0; i < 4; i++) {
    const { w, x } = randomTile(rand, 16, 64, { bias: i % 2 === 1, accIn: i >= 2 })
    await agrees(big, i, w, x)
    t.pass()
  }
  t.true(big.r1csInfo.nConstraints > 10_000 && big.r1csInfo.nConstraints < 60_000)
  t.log(`tile_16x64: ${big.r1csInfo.nConstraints} constraints`)
})

test('4×16 tile edge cases: saturation, negative rounding, zero vector, both ends of the shift range', async (t) => {
  t.timeout(5 * 60_000)
  const rows = 4
  const cols = 16
  const full = (v: number): Int8Array => new Int8Array(cols).fill(v)
  const cases: Array<{ name: string, w: TileWeights, x: TileActivation, check?: (y: Int32Array, acc: Int32Array) => boolean }> = []
  // saturation: big products with the smallest shift (s = −31 ⇒ t = 0) saturate both ways
  const sat = new Int8Array(rows * cols)
  sat.fill(127, 0, cols); sat.fill(-128, cols, 2 * cols); sat.fill(1, 2 * cols, 3 * cols); sat.fill(-1, 3 * cols)
  const xa = -22
  const xwMin = -(xa + 47 - 31) // s = −(xa + xw + 47) = −31
  cases.push({
    name: 'saturation at s = −31',
    w: { rows, cols, w: sat, scales: new Int32Array([2 ** 31 - 1, xwMin, 2 ** 31 - 1, xwMin, 2 ** 30, xwMin, 2 ** 30, xwMin]) },
    x: { a: full(127), ma: 2 ** 31 - 1, xa },
    check: (y) => y[0] === 2147483647 && y[1] === -2147483647 && y[2] === 2147483647 && y[3] === -2147483647
  })
  // u saturates from the fixed 31-bit shift: acc = −2^31 with mw = 2^31 − 1
  cases.push({
    name: 'u and bias saturation',
    w: { rows, cols, w: new Int8Array(rows * cols), scales: new Int32Array([2 ** 31 - 1, -40, 2 ** 31 - 1, -40, 5, -40, 5, -40]), bias: new Int32Array([-(2 ** 31), 2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 1]) },
    x: { a: new Int8Array(cols), ma: 2 ** 30, xa: -40, accIn: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 1, -1]) }
  })
  // round half up on negatives: acc = w[j][0]; u = rshr(acc·2^30, 31) = round-half-up(acc/2)
  // (−1.5 → −1, −0.5 → 0, −2.5 → −2, 1.5 → 2); with s = 31, y = round-half-up(u/2)
  // (−1 → −0.5 → 0, 0, −2 → −1, 2 → 1)
  const neg = new Int8Array(rows * cols)
  neg[0] = -3; neg[cols] = -1; neg[2 * cols] = -5; neg[3 * cols] = 3
  const one = new Int8Array(cols); one[0] = 1
  const xwHalf = -(-40 + 47 + 31) // s = 31
  cases.push({
    name: 'negative round half up',
    w: { rows, cols, w: neg, scales: new Int32Array([2 ** 30, xwHalf, 2 ** 30, xwHalf, 2 ** 30, xwHalf, 2 ** 30, xwHalf]) },
    x: { a: one, ma: 2 ** 30, xa: -40 },
    check: (y) => y[0] === 0 && y[1] === 0 && y[2] === -1 && y[3] === 1
  })
  // the zero vector's scale (2^30, −53)
  const zq = new Int8Array(cols)
  const [zm, zx] = qvec(new Int32Array(cols), 0, cols, zq, 0)
  const rand = seededRandom(3)
  const rw = randomTile(rand, rows, cols, { bias: true }).w
  cases.push({ name: 'zero vector', w: rw, x: { a: zq, ma: zm, xa: zx }, check: (y) => y.every((v, j) => v === rw.bias![j]) })
  // the largest shift accepted: s = 64 (t = 95)
  const xwMax = -(-22 + 47 + 64)
  cases.push({ name: 'max shift s = 64', w: { rows, cols, w: Int8Array.from({ length: rows * cols }, (_, i) => (i % 2 === 0 ? 127 : -127)), scales: new Int32Array([2 ** 31 - 1, xwMax, 2 ** 31 - 1, xwMax, 2 ** 31 - 1, xwMax, 2 ** 31 - 1, xwMax]) }, x: { a: full(127), ma: 2 ** 31 - 1, xa: -22 } })
  for (const c of cases) {
    const out = tileReference(c.w, c.x)
    if (c.check !== undefined) t.true(c.check(out.y, out.acc), `${c.name}: reference gives ${Array.from(out.y).join(', ')}`)
    await t.notThrowsAsync(agrees(small, 7, c.w, c.x), c.name)
  }
})

test('4×16 tile: random shifts over the whole accepted range s ∈ [−31, 64]', async (t) => {
  t.timeout(5 * 60_000)
  const rand = seededRandom(6)
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))
  const rows = 4
  const cols = 16
  let unsaturated = 0
  for (let i = 0; i < 24; i++) {
    const xa = int(-53, -22)
    const scales = new Int32Array(2 * rows)
    for (let j = 0; j < rows; j++) {
      const tShift = i < 2 ? (i === 0 ? 0 : 95) : int(0, 95)
      scales[2 * j] = int(2 ** 29, 2 ** 31 - 1)
      scales[2 * j + 1] = -xa - 16 - tShift
    }
    // small activations now and then, so left shifts do not always saturate
    const amp = i % 3 === 0 ? 1 : 127
    const x: TileActivation = { a: Int8Array.from({ length: cols }, () => int(-amp, amp)), ma: int(0, 2 ** 31 - 1), xa, accIn: Int32Array.from({ length: rows }, () => int(-1000, 1000)) }
    const w: TileWeights = { rows, cols, w: Int8Array.from({ length: rows * cols }, () => int(-128, 127)), scales, bias: Int32Array.from({ length: rows }, () => int(-(2 ** 20), 2 ** 20)) }
    const out = tileReference(w, x)
    unsaturated += out.y.filter((v) => Math.abs(v) < 2147483647).length
    await t.notThrowsAsync(agrees(small, i, w, x))
  }
  t.true(unsaturated > 24, 'most rows exercise rounding, not only saturation')
})

test('4×16 tile: a wrong output, an out-of-range shift or weight fails the witness', async (t) => {
  const rand = seededRandom(4)
  const { w, x } = randomTile(rand, 4, 16, { bias: true })
  const good = tileInput(1, w, x)
  const out = tileReference(w, x)
  const y = Int32Array.from(out.y); y[2] = y[2]! + 1
  const wrong = tileInput(1, w, x, { acc: out.acc, y })
  const e = await t.throwsAsync(computeWitness(small, wrong.input), { message: /Assert Failed/ })
  t.true(isVerimeshError(e, 'PROOF_INPUT_INVALID'))
  await t.throwsAsync(computeWitness(small, { ...good.input, step: '2' }), { message: /Assert Failed/ })
  // the public weights commitment must be the one the statement was made with
  await t.throwsAsync(computeWitness(small, { ...good.input, weightsCommitment: dec(good.commitments.weights + 1n) }), { message: /Assert Failed/ })
  // the TypeScript side refuses a shift outside [−31, 64] …
  const scales = Int32Array.from(w.scales); scales[1] = -(-22 + 47 + 65)
  t.throws(() => tileInput(1, { ...w, scales }, { ...x, xa: -22 }), { message: /shift .* outside/ })
  // … and so does the circuit, whatever statement comes with it
  const bad = { ...good.input, xa: dec(-22), xw: good.input.xw.slice() as string[] }
  ;(bad.xw as string[])[1] = dec(-(-22 + 47 + 65))
  await t.throwsAsync(computeWitness(small, bad), { message: /Assert Failed/ })
  // a weight of 128 is not int8
  const w128 = (good.input.w as string[][]).map((r) => r.slice())
  w128[0]![0] = '128'
  await t.throwsAsync(computeWitness(small, { ...good.input, w: w128 }), { message: /Assert Failed/ })
  t.not(tileStatement(1, 1n, 2n, 3n), tileStatement(2, 1n, 2n, 3n))
})

test('4×16 tile: r1cs check and a proof with the INSECURE dev keys', async (t) => {
  t.timeout(5 * 60_000)
  const c = await loadCircuit('tile_4x16')
  const { w, x } = randomTile(seededRandom(5), 4, 16, { bias: true, accIn: true })
  const p = tileInput(9, w, x)
  const wtns = await computeWitness(c, p.input)
  const snarkjs = await loadSnarkjs()
  t.true(await snarkjs.wtns.check(c.r1csPath, { type: 'mem', data: wtns }))
  const { proof, publicSignals } = await snarkjs.groth16.prove(c.zkeyPath, { type: 'mem', data: wtns })
  t.deepEqual(publicSignals, [p.statement.toString(), p.commitments.weights.toString()])
  t.deepEqual(publicSignals, p.publicSignals.map(String))
  t.true(await snarkjs.groth16.verify(c.vkey, publicSignals, proof))
  t.false(await snarkjs.groth16.verify(c.vkey, [(p.statement + 1n).toString(), publicSignals[1]!], proof))
  t.false(await snarkjs.groth16.verify(c.vkey, [publicSignals[0]!, (p.commitments.weights + 1n).toString()], proof))
})
