// Integer primitives of docs/engine-spec.md §1. JavaScript numbers are doubles: every
// function here is exact because the spec bounds its operands so that products stay
// below 2^52, or falls back to BigInt for the one product that may not.

export const INT32_MAX = 2147483647
const TWO52 = 4503599627370496

export const LOG2E_Q30 = 1549082005
/** exp2q30's polynomial, C0..C5 (spec §2.4). */
export const EXP2_COEFFS = [1073741578, 744271399, 257839528, 59996874, 9599925, 2034084] as const

export function sat32 (x: number): number {
  return x > INT32_MAX ? INT32_MAX : x < -INT32_MAX ? -INT32_MAX : x
}

/** floor((x + 2^(s-1)) / 2^s) for s > 0; x·2^-s otherwise. x must be exact (|x| < 2^53). */
export function rshr (x: number, s: number): number {
  if (s > 0) return Math.floor(x / 2 ** s + 0.5)
  if (s === 0) return x
  return x * 2 ** -s
}

/** sat32(rshr(a · b, s)) with the product computed exactly. */
export function mulr (a: number, b: number, s: number): number {
  const p = a * b
  if (p > -TWO52 && p < TWO52) return sat32(rshr(p, s))
  const big = BigInt(a) * BigInt(b)
  let r: bigint
  if (s > 0) r = (big + (1n << BigInt(s - 1))) >> BigInt(s)
  else r = big << BigInt(-s)
  return r > 2147483647n ? INT32_MAX : r < -2147483647n ? -INT32_MAX : Number(r)
}

/** Round-half-up division by d > 0. */
export function rdiv (n: number, d: number): number {
  return Math.floor((2 * n + d) / (2 * d))
}

export function bitlen (x: number): number {
  return x >= 2147483648 ? Math.floor(Math.log2(x)) + 1 : 32 - Math.clz32(x)
}

/** floor(sqrt(n)) for 0 ≤ n < 2^52. Math.sqrt is correctly rounded; fix the last step. */
export function isqrt (n: number): number {
  let r = Math.floor(Math.sqrt(n))
  while (r * r > n) r--
  while ((r + 1) * (r + 1) <= n) r++
  return r
}

/** 2^(d / 2^16) in Q30 for d ≤ 0 (spec §2.4). */
export function exp2q30 (d: number): number {
  const ip = Math.floor(d / 65536)
  if (-ip >= 32) return 0
  const f = d - ip * 65536
  let p: number = EXP2_COEFFS[5]
  for (let k = 4; k >= 0; k--) p = rshr(p * f, 16) + EXP2_COEFFS[k]!
  return rshr(p, -ip)
}

/** Quantize n Q16 values to int8 plus a scale (spec §1.3). Writes q, returns [m, x]. */
export function qvec (v: ArrayLike<number>, off: number, n: number, q: Int8Array, qOff: number): [number, number] {
  let amax = 0
  for (let i = 0; i < n; i++) { const a = Math.abs(v[off + i]!); if (a > amax) amax = a }
  if (amax === 0) {
    q.fill(0, qOff, qOff + n)
    return [1073741824, -53]
  }
  for (let i = 0; i < n; i++) q[qOff + i] = rdiv(127 * v[off + i]!, amax)
  const b = bitlen(amax)
  return [rdiv(amax * 2 ** (37 - b), 127), b - 53]
}

/** Requantize one position's Q16 residual to boundary form (spec §1.4). */
export function toBact (x: Int32Array, dim: number, q: Int8Array, qOff: number, scales: Int32Array, sOff: number): void {
  for (let b = 0; b < dim / 32; b++) {
    let amax = 0
    for (let i = b * 32; i < b * 32 + 32; i++) { const a = Math.abs(x[i]!); if (a > amax) amax = a }
    const s = Math.max(1, Math.ceil(amax / 127))
    scales[sOff + b] = s
    for (let i = b * 32; i < b * 32 + 32; i++) {
      const v = rdiv(x[i]!, s)
      q[qOff + i] = v > 127 ? 127 : v < -127 ? -127 : v
    }
  }
}

export function fromBact (q: Int8Array, qOff: number, scales: Int32Array, sOff: number, dim: number, out: Int32Array): void {
  for (let i = 0; i < dim; i++) out[i] = q[qOff + i]! * scales[sOff + (i >> 5)]!
}
