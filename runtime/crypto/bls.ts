// BLS over BN254 the way contracts/lib/BLS.sol checks it (the EigenLayer scheme):
// signatures and message points in G1, public keys in G1 and G2, everything in the
// EIP-196/197 encodings so values go to the contracts as they are.
//
// G1 points are [x, y] with [0n, 0n] for infinity; G2 points are [x.im, x.re, y.im, y.re]
// (EIP-197 order). Pure functions over bigints; the only state is @noble/curves' tables.
// docs/bls.md describes the scheme and the digest layouts.
import { bn254 } from '@noble/curves/bn254.js'
import { AbiCoder, concat, getAddress, getBytes, keccak256, toUtf8Bytes, type BytesLike } from 'ethers'

import { VerimeshError } from '../errors.js'

/** G1 point [x, y]; [0n, 0n] is the point at infinity. */
export type G1Point = [bigint, bigint]
/** G2 point in EIP-197 order [x.im, x.re, y.im, y.re]; all zero is infinity. */
export type G2Point = [bigint, bigint, bigint, bigint]

export interface BlsPublicKeys { g1: G1Point, g2: G2Point }
export interface BlsKeyPair extends BlsPublicKeys { secretKey: bigint }

/** Base field modulus p. */
export const BN254_P = bn254.fields.Fp.ORDER
/** Group order r. */
export const BN254_R = bn254.fields.Fr.ORDER

/** Must equal BN254.H2C_DOMAIN in contracts/lib/BN254.sol. */
export const H2C_DOMAIN = 'verimesh.bls.h2c.v1'
/** Must equal the string hashed into BLS.POP_TAG in contracts/lib/BLS.sol. */
export const POP_DOMAIN = 'verimesh.bls.pop.v1'
const POP_TAG = keccak256(toUtf8Bytes(POP_DOMAIN))
/** Domain of blsKeyPair's hash-to-scalar: a seed used elsewhere yields an unrelated key here. */
const SK_DOMAIN = 'verimesh.bls.sk.v1'
/** Domain of blsKeyFromOperatorKey: the BLS key is not the Ethereum key, only derived from it. */
const OPERATOR_KEY_DOMAIN = 'verimesh.bls.devnet-operator-key.v1'

const SQRT_EXP = (BN254_P + 1n) / 4n
const abi = AbiCoder.defaultAbiCoder()
const { Fp } = bn254.fields
type G1Proj = ReturnType<typeof bn254.G1.Point.fromAffine>
type G2Proj = ReturnType<typeof bn254.G2.Point.fromAffine>

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m

function invalid (message: string, context: Record<string, unknown> = {}): VerimeshError {
  return new VerimeshError('BAD_SIGNATURE', message, context)
}

// ---- conversions -----------------------------------------------------------

function g1ToPoint (p: G1Point): G1Proj {
  if (p[0] === 0n && p[1] === 0n) return bn254.G1.Point.ZERO
  try {
    const pt = bn254.G1.Point.fromAffine({ x: p[0], y: p[1] })
    pt.assertValidity()
    return pt
  } catch (err) {
    throw new VerimeshError('BAD_SIGNATURE', `not a BN254 G1 point: (${p[0]}, ${p[1]})`, { point: p.map(String) }, { cause: err })
  }
}

function g1FromPoint (pt: G1Proj): G1Point {
  if (pt.is0()) return [0n, 0n]
  const a = pt.toAffine()
  return [a.x, a.y]
}

function g2ToPoint (p: G2Point): G2Proj {
  if (p.every((c) => c === 0n)) return bn254.G2.Point.ZERO
  try {
    const pt = bn254.G2.Point.fromAffine({ x: { c0: p[1], c1: p[0] }, y: { c0: p[3], c1: p[2] } })
    pt.assertValidity()
    return pt
  } catch (err) {
    throw new VerimeshError('BAD_SIGNATURE', 'not a BN254 G2 point in the r-torsion subgroup', { point: p.map(String) }, { cause: err })
  }
}

function g2FromPoint (pt: G2Proj): G2Point {
  if (pt.is0()) return [0n, 0n, 0n, 0n]
  const a = pt.toAffine()
  return [a.x.c1, a.x.c0, a.y.c1, a.y.c0]
}

function mulG1 (pt: G1Proj, k: bigint): G1Proj {
  const s = mod(k, BN254_R)
  return s === 0n || pt.is0() ? bn254.G1.Point.ZERO : pt.multiply(s)
}

function digestBytes (digest: BytesLike): Uint8Array {
  const b = getBytes(digest)
  if (b.length !== 32) throw new VerimeshError('REQUEST_INVALID', `a BLS digest is 32 bytes, got ${b.length}`, { length: b.length })
  return b
}

/** Whether p is a valid G1 point (infinity included). */
export function isG1 (p: G1Point): boolean {
  try { g1ToPoint(p); return true } catch { return false }
}

/** Whether p is a valid G2 point of the r-torsion subgroup (infinity included). */
export function isG2 (p: G2Point): boolean {
  try { g2ToPoint(p); return true } catch { return false }
}

// ---- keys ------------------------------------------------------------------

/**
 * A deterministic key pair from a seed (a string is taken as its UTF-8 bytes).
 * The secret is 512 bits of keccak output reduced mod r (bias ~2⁻²⁵⁸), re-drawn
 * with the next counter in the never-seen case that it is zero.
 */
export function blsKeyPair (seed: Uint8Array | string): BlsKeyPair {
  const s = typeof seed === 'string' ? toUtf8Bytes(seed) : seed
  if (s.length === 0) throw new VerimeshError('CONFIG_INVALID', 'a BLS seed must not be empty', {})
  const prefix = toUtf8Bytes(SK_DOMAIN)
  for (let ctr = 0; ; ctr += 2) {
    const wide = concat([
      keccak256(concat([prefix, s, Uint8Array.of(ctr)])),
      keccak256(concat([prefix, s, Uint8Array.of(ctr + 1)]))
    ])
    const secretKey = mod(BigInt(wide), BN254_R)
    if (secretKey !== 0n) return { secretKey, ...publicKeys(secretKey) }
  }
}

/** A node's devnet BLS key derived from its Ethereum private key (hex): one secret to configure, two keys. */
export function blsKeyFromOperatorKey (ethPrivateKeyHex: string): BlsKeyPair {
  const key = getBytes(ethPrivateKeyHex.startsWith('0x') ? ethPrivateKeyHex : '0x' + ethPrivateKeyHex)
  if (key.length !== 32) throw new VerimeshError('CONFIG_INVALID', `an Ethereum private key is 32 bytes, got ${key.length}`, {})
  return blsKeyPair(getBytes(keccak256(concat([toUtf8Bytes(OPERATOR_KEY_DOMAIN), key]))))
}

/**
 * The key a node co-signs batches with, and so the one it must register: its config's
 * chain.blsKey when set, else the one derived from its operator key.
 */
export function nodeBlsKey (operatorKey: string, blsKey?: string): BlsKeyPair {
  return blsKey === undefined ? blsKeyFromOperatorKey(operatorKey) : blsKeyPair(getBytes(blsKey))
}

/** sk·G1 and sk·G2 in the EIP-196/197 encodings. */
export function publicKeys (sk: bigint): BlsPublicKeys {
  const s = mod(sk, BN254_R)
  if (s === 0n) throw new VerimeshError('CONFIG_INVALID', 'a BLS secret key must be non-zero mod r', {})
  return { g1: g1FromPoint(bn254.G1.Point.BASE.multiply(s)), g2: g2FromPoint(bn254.G2.Point.BASE.multiply(s)) }
}

/** keccak256(abi.encode(pk)): how QuorumRegistry indexes members and orders non-signers. */
export function pkHash (pk: G1Point): string {
  return keccak256(abi.encode(['uint256[2]'], [pk]))
}

/** Keys sorted by pkHash ascending, the order verifyQuorum requires of non-signers. */
export function sortByPkHash (pks: readonly G1Point[]): G1Point[] {
  return pks.map((pk) => ({ pk, h: BigInt(pkHash(pk)) }))
    .sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0))
    .map((e) => e.pk)
}

// ---- hashing and signing ---------------------------------------------------

/**
 * BN254.hashToG1, bit for bit: x = keccak256(domain ‖ digest) mod p; while x³+3 is
 * not a square, x += 1; y = (x³+3)^((p+1)/4), the root the MODEXP precompile returns.
 */
export function hashToG1 (digest: BytesLike): G1Point {
  return hashToG1WithTries(digest).point
}

/** hashToG1 and how many x it tried (each try is one MODEXP on chain, ~1 500 gas). */
export function hashToG1WithTries (digest: BytesLike): { point: G1Point, tries: number } {
  let x = mod(BigInt(keccak256(concat([toUtf8Bytes(H2C_DOMAIN), digestBytes(digest)]))), BN254_P)
  for (let tries = 1; ; tries++) {
    const beta = Fp.add(Fp.mul(Fp.sqr(x), x), 3n)
    const y = Fp.pow(beta, SQRT_EXP)
    if (Fp.sqr(y) === beta) return { point: [x, y], tries }
    x = Fp.add(x, 1n)
  }
}

/** σ = sk·H(digest). */
export function sign (sk: bigint, digest: BytesLike): G1Point {
  return g1FromPoint(mulG1(g1ToPoint(hashToG1(digest)), sk))
}

/** Sum of G1 points (signatures or G1 keys). */
export function aggregateG1 (points: readonly G1Point[]): G1Point {
  return g1FromPoint(points.reduce((acc, p) => acc.add(g1ToPoint(p)), bn254.G1.Point.ZERO))
}

/** Signatures aggregate by addition in G1. */
export const aggregateSignatures = aggregateG1

/** Sum of G2 keys. */
export function aggregateG2 (points: readonly G2Point[]): G2Point {
  return g2FromPoint(points.reduce((acc, p) => acc.add(g2ToPoint(p)), bn254.G2.Point.ZERO))
}

/** a − b in G1 (the contract's "quorum key minus non-signers"). */
export function subtractG1 (a: G1Point, b: G1Point): G1Point {
  return g1FromPoint(g1ToPoint(a).subtract(g1ToPoint(b)))
}

/** γ = keccak256(abi.encode(digest, apkG1, apkG2, sigma)) mod r, as BLS.verify computes it. */
export function verifyGamma (digest: BytesLike, apkG1: G1Point, apkG2: G2Point, sigma: G1Point): bigint {
  const enc = abi.encode(['bytes32', 'uint256[2]', 'uint256[4]', 'uint256[2]'], [digestBytes(digest), apkG1, apkG2, sigma])
  return mod(BigInt(keccak256(enc)), BN254_R)
}

/**
 * BLS.verify off chain: e(σ + γ·apkG1, −G2) · e(H(m) + γ·G1, apkG2) == 1. False for
 * malformed points and for keys at infinity (the contract returns false or reverts there).
 */
export function verify (digest: BytesLike, apkG1: G1Point, apkG2: G2Point, sigma: G1Point): boolean {
  let pk1: G1Proj, pk2: G2Proj, sig: G1Proj
  try {
    pk1 = g1ToPoint(apkG1)
    pk2 = g2ToPoint(apkG2)
    sig = g1ToPoint(sigma)
  } catch {
    return false
  }
  if (pk1.is0() || pk2.is0() || sig.is0()) return false
  const gamma = verifyGamma(digest, apkG1, apkG2, sigma)
  const lhs = sig.add(mulG1(pk1, gamma))
  const rhs = g1ToPoint(hashToG1(digest)).add(mulG1(bn254.G1.Point.BASE, gamma))
  if (lhs.is0() || rhs.is0()) return false // probability ~1/r; noble's pairing rejects infinity
  const gt = bn254.pairingBatch([{ g1: lhs, g2: bn254.G2.Point.BASE.negate() }, { g1: rhs, g2: pk2 }])
  return bn254.fields.Fp12.eql(gt, bn254.fields.Fp12.ONE)
}

// ---- proof of possession ---------------------------------------------------

/** BLS.popDigest: keccak256(abi.encode(keccak256("verimesh.bls.pop.v1"), chainId, operator, pkG1.x, pkG1.y)). */
export function popDigest (chainId: bigint | number, operator: string, pkG1: G1Point): string {
  return keccak256(abi.encode(['bytes32', 'uint256', 'address', 'uint256', 'uint256'], [POP_TAG, BigInt(chainId), getAddress(operator), pkG1[0], pkG1[1]]))
}

/** The signature NodeRegistry.register wants: sk's proof of possession, bound to chain and operator. */
export function proofOfPossession (sk: bigint, chainId: bigint | number, operator: string): G1Point {
  return sign(sk, popDigest(chainId, operator, publicKeys(sk).g1))
}

/** Alias of proofOfPossession. */
export const proveSecretKey = proofOfPossession

/** BLS.verifyPossession off chain. */
export function verifyPossession (chainId: bigint | number, operator: string, pkG1: G1Point, pkG2: G2Point, sig: G1Point): boolean {
  return verify(popDigest(chainId, operator, pkG1), pkG1, pkG2, sig)
}

/** Throw BAD_SIGNATURE unless the points are valid (for inputs from the network). */
export function assertPublicKeys (keys: BlsPublicKeys): void {
  if (!isG1(keys.g1) || (keys.g1[0] === 0n && keys.g1[1] === 0n)) throw invalid('the BLS G1 key is not a non-zero G1 point')
  if (!isG2(keys.g2) || keys.g2.every((c) => c === 0n)) throw invalid('the BLS G2 key is not a non-zero G2 point of the subgroup')
}
