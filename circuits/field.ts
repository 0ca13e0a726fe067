// BN254 scalar field arithmetic on bigint: the field every circom signal lives in.
// Signed integers map to field elements the way circom does: -x is P - x.

export const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

export function mod (x: bigint): bigint {
  const r = x % P
  return r < 0n ? r + P : r
}

/** A signed integer as its field element. */
export function fe (x: number | bigint): bigint {
  return mod(BigInt(x))
}

/** A field element as the decimal string circom and snarkjs take. Negative inputs are reduced first. */
export function dec (x: number | bigint): string {
  return fe(x).toString()
}
