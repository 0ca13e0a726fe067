// BigInt modular arithmetic for the zk tests' independent models of the native code.

export const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m

export function pow (b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n
  b = mod(b, m)
  while (e > 0n) {
    if ((e & 1n) === 1n) r = r * b % m
    b = b * b % m
    e >>= 1n
  }
  return r
}

/** Inverse modulo a prime m (Fermat). */
export const inv = (a: bigint, m: bigint): bigint => pow(a, m - 2n, m)
