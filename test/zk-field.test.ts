// The native prover's BN254 arithmetic (native/src/zk/field.h, curve.h, ntt.cc,
// msm.cc) against BigInt and @noble/curves on random inputs, through the addon's
// test-only zkTest hooks. Edge cases: 0, 1, p - 1, infinity, P + P, P + (-P).

import test from 'ava'
import { randomBytes } from 'node:crypto'
import { bn254 } from '@noble/curves/bn254.js'
import { loadAddon, type ZkTestHooks } from '../runtime/addon.js'
import { mod, pow } from './zk-bigint.js'

const P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

function hooks (): ZkTestHooks {
  const addon = loadAddon()
  if (addon.zkTest === undefined) throw new Error(`the addon at ${addon.path} has no zkTest: rebuild it (npx node-gyp rebuild)`)
  return addon.zkTest
}

function rand (m: bigint): bigint {
  return BigInt('0x' + randomBytes(40).toString('hex')) % m
}

type G1P = InstanceType<typeof bn254.G1.Point>
type G2P = InstanceType<typeof bn254.G2.Point>
type Fp2 = { c0: bigint, c1: bigint }

const g1 = (p: G1P): [string, string] => { const a = p.toAffine(); return [a.x.toString(), a.y.toString()] }
const f2 = (x: Fp2): [string, string] => [x.c0.toString(), x.c1.toString()]
const g2 = (p: G2P): [[string, string], [string, string]] => { const a = p.toAffine(); return [f2(a.x), f2(a.y)] }
const G1 = bn254.G1.Point.BASE
const G2 = bn254.G2.Point.BASE

/** Montgomery kernels this CPU runs ('int128' always, 'adx' with BMI2 + ADX); runs fn under each, restoring the default. */
function eachKernel (z: ZkTestHooks, fn: (kernel: string) => void): string[] {
  const dflt = z.mulKernel()
  const ran: string[] = []
  try {
    for (const k of ['int128', 'adx'] as const) {
      if (!z.setMulKernel(k)) continue
      ran.push(k)
      fn(k)
    }
  } finally {
    z.setMulKernel(dflt)
  }
  return ran
}

for (const [name, m] of [['fq', P], ['fr', R]] as const) {
  test(`${name}: add, sub, mul, sqr, neg, inv, pow, bytes, Montgomery form against BigInt (each Montgomery kernel)`, t => {
    const z = hooks()
    const ran = eachKernel(z, () => check(t, z))
    t.log(`kernels: ${ran.join(', ')}`)
  })

  function check (t: import('ava').ExecutionContext, z: ZkTestHooks): void {
    const special = [0n, 1n, 2n, m - 1n, m - 2n, (m - 1n) / 2n]
    const values = [...special, ...Array.from({ length: 60 }, () => rand(m))]
    const RM = mod(1n << 256n, m)
    for (let i = 0; i < values.length; i++) {
      const a = values[i]!
      const b = values[(i * 7 + 3) % values.length]!
      const as = a.toString(); const bs = b.toString()
      t.is(z.field(name, 'add', as, bs), mod(a + b, m).toString())
      t.is(z.field(name, 'sub', as, bs), mod(a - b, m).toString())
      t.is(z.field(name, 'mul', as, bs), mod(a * b, m).toString())
      t.is(z.field(name, 'sqr', as), mod(a * a, m).toString())
      t.is(z.field(name, 'neg', as), mod(-a, m).toString())
      t.is(z.field(name, 'inv', as), a === 0n ? '0' : pow(a, m - 2n, m).toString())
      t.is(z.field(name, 'bytes', as), as)
      t.is(z.field(name, 'mont', as), (a * RM % m).toString())
      t.is(z.field(name, 'eq', as, bs), a === b)
      if (i < 10) t.is(z.field(name, 'pow', as, bs), pow(a, b, m).toString())
    }
    // inverse: a · a^-1 = 1
    const a = rand(m)
    t.is(z.field(name, 'mul', a.toString(), z.field(name, 'inv', a.toString()) as string), '1')
  }

  test(`${name}: rejects a value >= the modulus and non-decimal input with ZK_BAD_INPUT`, t => {
    const z = hooks()
    for (const bad of [m.toString(), (m + 1n).toString(), '0x10', '', '-1', '1e3']) {
      const e = t.throws(() => z.field(name, 'add', bad, '1'))
      t.is((e as Error & { code?: string }).code, 'ZK_BAD_INPUT', bad)
    }
  })
}

test('fq2: add, sub, mul, sqr, inv, neg, conj, mul by ξ = 9 + u against noble', t => {
  const z = hooks()
  const F = bn254.fields.Fp2
  const xi = F.create({ c0: 9n, c1: 1n })
  const vals: Fp2[] = [F.ZERO, F.ONE, { c0: P - 1n, c1: P - 1n }, ...Array.from({ length: 30 }, () => ({ c0: rand(P), c1: rand(P) }))]
  for (let i = 0; i < vals.length; i++) {
    const a = vals[i]!; const b = vals[(i * 5 + 1) % vals.length]!
    t.deepEqual(z.fq2('add', f2(a), f2(b)), f2(F.add(a, b)))
    t.deepEqual(z.fq2('sub', f2(a), f2(b)), f2(F.sub(a, b)))
    t.deepEqual(z.fq2('mul', f2(a), f2(b)), f2(F.mul(a, b)))
    t.deepEqual(z.fq2('sqr', f2(a)), f2(F.sqr(a)))
    t.deepEqual(z.fq2('neg', f2(a)), f2(F.neg(a)))
    t.deepEqual(z.fq2('conj', f2(a)), f2({ c0: a.c0, c1: mod(-a.c1, P) }))
    t.deepEqual(z.fq2('mulByXi', f2(a)), f2(F.mul(a, xi)))
    t.deepEqual(z.fq2('inv', f2(a)), F.is0(a) ? ['0', '0'] : f2(F.inv(a)))
  }
})

test('g1: generator, add, mixed add, double, negate, scalar mul, batch affine against noble', t => {
  const z = hooks()
  t.deepEqual(z.g1('generator'), g1(G1))
  const inf: [string, string] = ['0', '0']
  const pts = Array.from({ length: 12 }, () => G1.multiply(1n + rand(R - 1n)))
  pts.push(G1)
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!; const q = pts[(i + 1) % pts.length]!
    t.true(z.g1('onCurve', g1(p)) as boolean)
    t.deepEqual(z.g1('add', g1(p), g1(q)), g1(p.add(q)))
    t.deepEqual(z.g1('addMixed', g1(p), g1(q)), g1(p.add(q)))
    t.deepEqual(z.g1('add', g1(p), g1(p)), g1(p.double()), 'P + P')
    t.deepEqual(z.g1('addMixed', g1(p), g1(p)), g1(p.double()), 'P + P mixed')
    t.deepEqual(z.g1('add', g1(p), g1(p.negate())), inf, 'P - P')
    t.deepEqual(z.g1('addMixed', g1(p), g1(p.negate())), inf, 'P - P mixed')
    t.deepEqual(z.g1('add', g1(p), inf), g1(p))
    t.deepEqual(z.g1('addMixed', inf, g1(p)), g1(p))
    t.deepEqual(z.g1('dbl', g1(p)), g1(p.double()))
    t.deepEqual(z.g1('neg', g1(p)), g1(p.negate()))
    t.true(z.g1('eq', g1(p), g1(p)) as boolean)
    t.false(z.g1('eq', g1(p), g1(q)) as boolean)
    const k = rand(R)
    t.deepEqual(z.g1('mul', g1(p), k.toString()), g1(p.multiply(k)))
  }
  t.deepEqual(z.g1('mul', g1(G1), '0'), inf)
  t.deepEqual(z.g1('mul', g1(G1), R.toString()), inf, 'r·G = O')
  t.deepEqual(z.g1('dbl', inf), inf)
  const batch = [pts[0]!, null, pts[1]!, pts[2]!]
  t.deepEqual(z.g1('batchAffine', batch.map(p => p === null ? inf : g1(p))), batch.map(p => p === null ? inf : g1(p)))
})

test('g1: a point off the curve is rejected with ZK_BAD_INPUT', t => {
  const z = hooks()
  const e = t.throws(() => z.g1('neg', ['1', '3']))
  t.is((e as Error & { code?: string }).code, 'ZK_BAD_INPUT')
})

test('g2: generator, add, mixed add, double, negate, scalar mul, batch affine against noble', t => {
  const z = hooks()
  t.deepEqual(z.g2('generator'), g2(G2))
  const inf = [['0', '0'], ['0', '0']]
  const pts = Array.from({ length: 6 }, () => G2.multiply(1n + rand(R - 1n)))
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!; const q = pts[(i + 1) % pts.length]!
    t.true(z.g2('onCurve', g2(p)) as boolean)
    t.deepEqual(z.g2('add', g2(p), g2(q)), g2(p.add(q)))
    t.deepEqual(z.g2('addMixed', g2(p), g2(q)), g2(p.add(q)))
    t.deepEqual(z.g2('add', g2(p), g2(p)), g2(p.double()))
    t.deepEqual(z.g2('addMixed', g2(p), g2(p.negate())), inf)
    t.deepEqual(z.g2('dbl', g2(p)), g2(p.double()))
    t.deepEqual(z.g2('neg', g2(p)), g2(p.negate()))
    const k = rand(R)
    t.deepEqual(z.g2('mul', g2(p), k.toString()), g2(p.multiply(k)))
  }
  t.deepEqual(z.g2('mul', g2(G2), R.toString()), inf, 'r·G2 = O')
  const batch = [pts[0]!, null, pts[1]!]
  t.deepEqual(z.g2('batchAffine', batch.map(p => p === null ? inf : g2(p))), batch.map(p => p === null ? inf : g2(p)))
})

test('msm: Pippenger equals the naive sum on G1 and G2 (zero scalars, infinity bases, repeated points, 1 and 2 threads)', t => {
  const z = hooks()
  for (const n of [1, 3, 17, 200]) {
    const pts = Array.from({ length: n }, (_, i) => i % 11 === 5 ? G1.multiply(0n + 1n).subtract(G1) : G1.multiply(1n + rand(R - 1n)))
    if (n > 2) pts[2] = pts[1]!
    const ks = Array.from({ length: n }, (_, i) => i % 7 === 3 ? 0n : i % 13 === 4 ? R - 1n : rand(R))
    let sum = bn254.G1.Point.ZERO
    for (let i = 0; i < n; i++) if (ks[i] !== 0n) sum = sum.add(pts[i]!.multiply(ks[i]!))
    for (const threads of [1, 2]) {
      t.deepEqual(z.g1('msm', pts.map(g1), ks.map(String), { threads }), g1(sum), `g1 n=${n} threads=${threads}`)
    }
  }
  for (const n of [1, 9, 40]) {
    const pts = Array.from({ length: n }, () => G2.multiply(1n + rand(R - 1n)))
    const ks = Array.from({ length: n }, (_, i) => i % 5 === 2 ? 0n : rand(R))
    let sum = bn254.G2.Point.ZERO
    for (let i = 0; i < n; i++) if (ks[i] !== 0n) sum = sum.add(pts[i]!.multiply(ks[i]!))
    t.deepEqual(z.g2('msm', pts.map(g2), ks.map(String), { threads: 2 }), g2(sum), `g2 n=${n}`)
  }
})

test('msm: the affine-batch bucket path (windows >= 11) equals the naive sum: collisions, P + P, P + (-P), each kernel', t => {
  const z = hooks()
  const n = 300
  const base = Array.from({ length: 40 }, () => G1.multiply(1n + rand(R - 1n)))
  const pts: G1P[] = []
  const ks: bigint[] = []
  for (let i = 0; i < n; i++) {
    const p = base[i % base.length]!
    // Runs of equal (point, scalar) pairs give tangent additions; (-P, k) after (P, k) cancels.
    const k = i % 3 === 0 ? 1234567n + BigInt(i % 5) : rand(R)
    // Infinity bases too: zkeys store them for signals a matrix does not use.
    pts.push(i % 17 === 9 ? bn254.G1.Point.ZERO : i % 10 === 7 ? p.negate() : p)
    ks.push(k)
  }
  let sum = bn254.G1.Point.ZERO
  for (let i = 0; i < n; i++) if (!pts[i]!.equals(bn254.G1.Point.ZERO)) sum = sum.add(pts[i]!.multiply(ks[i]!))
  const ran = eachKernel(z, () => {
    for (const window of [11, 12]) {
      for (const threads of [1, 2]) {
        t.deepEqual(z.g1('msm', pts.map(g1), ks.map(String), { threads, window }), g1(sum), `g1 window=${window} threads=${threads}`)
      }
    }
  })
  t.true(ran.includes('int128'))
  // Exactly P + (-P) and Q + Q inside one bucket: the chord formula's special cases.
  const P1 = G1.multiply(5n); const Q1 = G1.multiply(11n)
  const k1 = 0x123456789abcdefn; const k2 = 0xfedcba987654321n
  t.deepEqual(z.g1('msm', [P1, P1.negate(), Q1, Q1].map(g1), [k1, k1, k2, k2].map(String), { threads: 1, window: 12 }), g1(Q1.multiply(2n * k2)))
  t.deepEqual(z.g1('msm', [P1, P1.negate()].map(g1), [k1, k1].map(String), { threads: 1, window: 12 }), ['0', '0'])
  const g2pts = Array.from({ length: 60 }, (_, i) => i % 4 === 3 ? G2.multiply(77n).negate() : G2.multiply(77n + BigInt(i % 3)))
  const g2ks = Array.from({ length: 60 }, (_, i) => i % 2 === 0 ? 99n : rand(R))
  let s2 = bn254.G2.Point.ZERO
  for (let i = 0; i < g2pts.length; i++) s2 = s2.add(g2pts[i]!.multiply(g2ks[i]!))
  t.deepEqual(z.g2('msm', g2pts.map(g2), g2ks.map(String), { threads: 2, window: 11 }), g2(s2))
})

test('glv: k = k1 + λ·k2 (mod r) with |k1|, |k2| < 2^128 for 0, 1, r - 1, λ, λ ± 1, r - λ, 2^253 and random k', t => {
  const z = hooks()
  const [, , lamS] = z.glvDecompose('1')
  const lam = BigInt(lamS)
  t.is(mod(lam * lam + lam + 1n, R), 0n, 'λ² + λ + 1 = 0 (mod r)')
  const phi = G1.multiply(lam).toAffine()   // φ(x, y) = (β·x, y) with β³ = 1 (mod p), β ≠ 1
  t.true(phi.y === 2n && phi.x !== 1n && pow(phi.x, 3n, P) === 1n, 'λ·G1 = φ(G1)')
  const ks = [0n, 1n, 2n, R - 1n, R - 2n, lam, lam + 1n, lam - 1n, R - lam, 1n << 253n, (1n << 128n) - 1n, 1n << 128n]
  for (let i = 0; i < 200; i++) ks.push(rand(R))
  for (const k of ks) {
    const [a, b] = z.glvDecompose(k.toString()).map(BigInt) as [bigint, bigint]
    t.is(mod(a + lam * b, R), k, `k = ${k}`)
    t.true((a < 0n ? -a : a) < 1n << 128n && (b < 0n ? -b : b) < 1n << 128n, `short halves for k = ${k}`)
  }
  t.deepEqual(z.glvDecompose('0'), ['0', '0', lamS])
})

test('msm: the GLV path (G1) equals the plain path and the naive sum (k = 0, 1, r - 1, λ, random; infinity bases; P and -P; both bucket kinds)', t => {
  const z = hooks()
  const lam = BigInt(z.glvDecompose('1')[2])
  const special = [0n, 1n, R - 1n, lam, R - lam, lam + 1n, 2n, (1n << 127n) + 3n]
  for (const n of [1, 8, 70, 300]) {
    const base = Array.from({ length: Math.min(n, 23) }, () => G1.multiply(1n + rand(R - 1n)))
    const pts: G1P[] = []
    const ks: bigint[] = []
    for (let i = 0; i < n; i++) {
      const p = base[i % base.length]!
      pts.push(i % 19 === 11 ? bn254.G1.Point.ZERO : i % 10 === 7 ? p.negate() : p)
      ks.push(i % 3 === 0 ? special[i % special.length]! : rand(R))
    }
    let sum = bn254.G1.Point.ZERO
    for (let i = 0; i < n; i++) if (ks[i] !== 0n && !pts[i]!.equals(bn254.G1.Point.ZERO)) sum = sum.add(pts[i]!.multiply(ks[i]!))
    const want = g1(sum)
    for (const threads of [1, 2]) {
      for (const window of [undefined, 4, 11, 13]) {
        const opts = window === undefined ? { threads } : { threads, window }
        t.deepEqual(z.g1('msm', pts.map(g1), ks.map(String), { ...opts, glv: true }), want, `glv n=${n} threads=${threads} window=${window}`)
        t.deepEqual(z.g1('msm', pts.map(g1), ks.map(String), { ...opts, glv: false }), want, `plain n=${n} threads=${threads} window=${window}`)
      }
    }
  }
  // Single terms: k·G for the edge scalars, and sums that cancel exactly.
  for (const k of special) {
    t.deepEqual(z.g1('msm', [g1(G1)], [k.toString()], { threads: 1, glv: true }), k === 0n ? ['0', '0'] : g1(G1.multiply(k)), `k = ${k}`)
  }
  const Q = G1.multiply(12345n)
  t.deepEqual(z.g1('msm', [Q, Q].map(g1), [lam.toString(), (R - lam).toString()], { threads: 1, glv: true }), ['0', '0'])
  t.deepEqual(z.g1('msm', [Q, Q.negate()].map(g1), [lam.toString(), lam.toString()], { threads: 2, glv: true, window: 12 }), ['0', '0'])
})

test('msm: the GLV path (G2, φ(x, y) = (β²·x, y)) equals the plain path and the naive sum', t => {
  const z = hooks()
  const lam = BigInt(z.glvDecompose('1')[2])
  const special = [0n, 1n, R - 1n, lam, R - lam, 2n]
  for (const n of [1, 5, 70]) {
    const base = Array.from({ length: Math.min(n, 9) }, () => G2.multiply(1n + rand(R - 1n)))
    const pts: G2P[] = []
    const ks: bigint[] = []
    for (let i = 0; i < n; i++) {
      const p = base[i % base.length]!
      pts.push(i % 13 === 6 ? bn254.G2.Point.ZERO : i % 10 === 7 ? p.negate() : p)
      ks.push(i % 3 === 0 ? special[i % special.length]! : rand(R))
    }
    let sum = bn254.G2.Point.ZERO
    for (let i = 0; i < n; i++) if (ks[i] !== 0n && !pts[i]!.equals(bn254.G2.Point.ZERO)) sum = sum.add(pts[i]!.multiply(ks[i]!))
    const want = g2(sum)
    for (const threads of [1, 2]) {
      for (const window of [undefined, 5, 11]) {
        const opts = window === undefined ? { threads } : { threads, window }
        t.deepEqual(z.g2('msm', pts.map(g2), ks.map(String), { ...opts, glv: true }), want, `glv n=${n} threads=${threads} window=${window}`)
        t.deepEqual(z.g2('msm', pts.map(g2), ks.map(String), { ...opts, glv: false }), want, `plain n=${n} threads=${threads} window=${window}`)
      }
    }
  }
  for (const k of special) {
    const want = k === 0n ? [['0', '0'], ['0', '0']] : g2(G2.multiply(k))
    t.deepEqual(z.g2('msm', [g2(G2)], [k.toString()], { threads: 1, glv: true }), want, `k = ${k}`)
  }
})

test('ntt: roots of unity are ffjavascript\'s and forward/inverse match a BigInt DFT', t => {
  const z = hooks()
  // ffjavascript: w[28] = 5^t with r - 1 = 2^28·t (5 is the least non-residue), w[k] = w[k+1]^2.
  const tOdd = (R - 1n) >> 28n
  let w = pow(5n, tOdd, R)
  const roots: bigint[] = []
  roots[28] = w
  for (let k = 27; k >= 0; k--) { w = w * w % R; roots[k] = w }
  t.is(roots[0], 1n)
  t.not(roots[1], 1n)
  for (const k of [0, 1, 2, 5, 16, 28]) t.is(z.rootOfUnity(k), roots[k]!.toString())

  for (const log2n of [1, 3, 6]) {
    const n = 1 << log2n
    const om = roots[log2n]!
    const a = Array.from({ length: n }, () => rand(R))
    const dft = Array.from({ length: n }, (_, k) => a.reduce((s, x, j) => (s + x * pow(om, BigInt(j * k), R)) % R, 0n))
    const fwd = z.ntt(a.map(String), false, { threads: 1 })
    t.deepEqual(fwd, dft.map(String), `ntt n=${n}`)
    t.deepEqual(z.ntt(fwd, true, { threads: 2 }), a.map(String), `intt n=${n}`)
  }
  // 2^13 crosses the size where the NTT splits across threads: 1 and 2 threads agree, inverse restores.
  const big = Array.from({ length: 1 << 13 }, (_, i) => String(BigInt(i) * 7919n + 1n))
  const f1 = z.ntt(big, false, { threads: 1 })
  t.deepEqual(z.ntt(big, false, { threads: 2 }), f1)
  t.deepEqual(z.ntt(f1, true, { threads: 2 }), big)
})
