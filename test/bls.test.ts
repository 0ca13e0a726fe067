// runtime/crypto/bls.ts against contracts/lib/BLS.sol and BN254.sol (through the
// test-only contracts/test/BLSHarness.sol): hashToG1 bit-identical on both sides,
// sign/verify, aggregation, proofs of possession, and every forgery shape rejected
// by both the TypeScript and the on-chain check.
import test from 'ava'
import { Contract, ContractFactory, keccak256, toUtf8Bytes, Wallet, type JsonRpcProvider } from 'ethers'

import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { harnessArtifact } from '../runtime/chain/solc-harness.js'
import {
  aggregateG1, aggregateG2, aggregateSignatures, blsKeyFromOperatorKey, blsKeyPair, BN254_P, BN254_R, hashToG1,
  isG1, popDigest, proofOfPossession, publicKeys, sign, subtractG1, verify, verifyPossession, type G1Point, type G2Point
} from '../runtime/crypto/bls.js'

let chain: EmbeddedChain
let provider: JsonRpcProvider
let harness: Contract

const digest = (label: string): string => keccak256(toUtf8Bytes(`bls test ${label}`))
const keys = [0, 1, 2, 3, 4].map((i) => blsKeyPair(`bls-test-key-${i}`))

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 2 })
  provider = connectProvider(chain.url, { chainId: chain.chainId })
  const artifact = harnessArtifact('test/BLSHarness.sol', 'BLSHarness')
  const deployer = new Wallet((chain.accounts[0] as { privateKey: string }).privateKey, provider)
  const c = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy()
  await c.waitForDeployment()
  harness = new Contract(await c.getAddress(), artifact.abi, provider)
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
})

const onChainVerify = async (d: string, g1: G1Point, g2: G2Point, s: G1Point): Promise<boolean> =>
  (await harness.getFunction('verify').staticCall(d, g1, g2, s)) as boolean

test('keys are deterministic, non-zero, and G1/G2 hold the same secret', (t) => {
  const a = blsKeyPair('seed')
  const b = blsKeyPair(toUtf8Bytes('seed'))
  t.is(a.secretKey, b.secretKey)
  t.deepEqual(a.g1, b.g1)
  t.not(a.secretKey, blsKeyPair('seed2').secretKey)
  t.true(a.secretKey > 0n && a.secretKey < BN254_R)
  t.deepEqual(publicKeys(a.secretKey), { g1: a.g1, g2: a.g2 })
  const op = blsKeyFromOperatorKey('0x' + '11'.repeat(32))
  t.deepEqual(op, blsKeyFromOperatorKey('11'.repeat(32)))
  t.not(op.secretKey, 0x1111n)
})

test('hashToG1 is bit-identical to BN254.hashToG1 and lands on the curve', async (t) => {
  for (let i = 0; i < 12; i++) {
    const d = digest(`h2c ${i}`)
    const ts = hashToG1(d)
    const sol = (await harness.getFunction('hashToG1').staticCall(d)) as bigint[]
    t.deepEqual([sol[0], sol[1]], ts, `digest ${d}`)
    t.true(isG1(ts))
    t.true(ts[0] < BN254_P && ts[1] < BN254_P)
    t.true(await harness.getFunction('isOnCurve').staticCall(ts))
  }
  // The zero digest and the all-ones digest are ordinary inputs.
  for (const d of ['0x' + '00'.repeat(32), '0x' + 'ff'.repeat(32)]) {
    const sol = (await harness.getFunction('hashToG1').staticCall(d)) as bigint[]
    t.deepEqual([sol[0], sol[1]], hashToG1(d))
  }
})

test('G1 arithmetic agrees with the precompiles', async (t) => {
  const [a, b] = [keys[0]!.g1, keys[1]!.g1]
  const sum = (await harness.getFunction('plus').staticCall(a, b)) as bigint[]
  t.deepEqual([sum[0], sum[1]], aggregateG1([a, b]))
  const neg = (await harness.getFunction('negate').staticCall(a)) as bigint[]
  t.deepEqual(aggregateG1([a, [neg[0]!, neg[1]!]]), [0n, 0n])
  const mul = (await harness.getFunction('scalarMul').staticCall([1n, 2n], keys[0]!.secretKey)) as bigint[]
  t.deepEqual([mul[0], mul[1]], keys[0]!.g1)
  t.deepEqual(subtractG1(aggregateG1([a, b]), b), a)
})

test('a signature verifies off chain and on chain', async (t) => {
  const k = keys[0]!
  const d = digest('single')
  const s = sign(k.secretKey, d)
  t.true(verify(d, k.g1, k.g2, s))
  t.true(await onChainVerify(d, k.g1, k.g2, s))
  const [ok, gas] = (await harness.getFunction('verifyGas').staticCall(d, k.g1, k.g2, s)) as [boolean, bigint]
  t.true(ok)
  t.log(`gas: BLS.verify = ${gas}`)
})

test('an aggregate signature verifies under the aggregate keys', async (t) => {
  const d = digest('aggregate')
  const sigma = aggregateSignatures(keys.map((k) => sign(k.secretKey, d)))
  const apk1 = aggregateG1(keys.map((k) => k.g1))
  const apk2 = aggregateG2(keys.map((k) => k.g2))
  t.true(verify(d, apk1, apk2, sigma))
  t.true(await onChainVerify(d, apk1, apk2, sigma))
  // A subset's signature under the full set's keys is not enough.
  const partial = aggregateSignatures(keys.slice(1).map((k) => sign(k.secretKey, d)))
  t.false(verify(d, apk1, apk2, partial))
  t.false(await onChainVerify(d, apk1, apk2, partial))
  // ... but verifies under the subset's keys, the full G1 aggregate minus the missing key.
  const subsetG1 = subtractG1(apk1, keys[0]!.g1)
  const subsetG2 = aggregateG2(keys.slice(1).map((k) => k.g2))
  t.true(verify(d, subsetG1, subsetG2, partial))
  t.true(await onChainVerify(d, subsetG1, subsetG2, partial))
})

test('wrong signature, wrong key, wrong message and mismatched G2 key are rejected', async (t) => {
  const [k, other] = [keys[0]!, keys[1]!]
  const d = digest('reject')
  const s = sign(k.secretKey, d)
  const cases: Array<[string, string, G1Point, G2Point, G1Point]> = [
    ['signature by another key', d, k.g1, k.g2, sign(other.secretKey, d)],
    ['another key pair', d, other.g1, other.g2, s],
    ['another message', digest('other message'), k.g1, k.g2, s],
    ['G2 key of another secret', d, k.g1, other.g2, s],
    ['G1 key of another secret', d, other.g1, k.g2, s],
    ['signature off the curve', d, k.g1, k.g2, [s[0], s[1] + 1n]],
    ['G1 key off the curve', d, [k.g1[0], k.g1[1] + 1n], k.g2, s],
    ['all at infinity', d, [0n, 0n], [0n, 0n, 0n, 0n], [0n, 0n]]
  ]
  for (const [what, dd, g1, g2, sig] of cases) {
    t.false(verify(dd, g1, g2, sig), what)
    t.false(await onChainVerify(dd, g1, g2, sig), what)
  }
  // Compensating forgery: a G1 key and a G2 key of different secrets whose difference the
  // signature absorbs (σ = sk·H for the G2 secret) fails because γ ties the keys together.
  const forged: G1Point = sign(k.secretKey, d)
  t.false(verify(d, aggregateG1([k.g1, other.g1]), k.g2, forged))
  t.false(await onChainVerify(d, aggregateG1([k.g1, other.g1]), k.g2, forged))
  // A G2 key off the twist makes the pairing precompile fail: a revert, not a pass.
  const badG2: G2Point = [k.g2[0], k.g2[1], k.g2[2], k.g2[3] + 1n]
  t.false(verify(d, k.g1, badG2, s))
  await t.throwsAsync(onChainVerify(d, k.g1, badG2, s))
})

test('proof of possession: valid for its operator and chain only', async (t) => {
  const k = keys[2]!
  const [operator, other] = [chain.accounts[0]!.address, chain.accounts[1]!.address]
  const chainId = BigInt(chain.chainId)
  t.is(await harness.getFunction('popDigest').staticCall(operator, k.g1), popDigest(chainId, operator, k.g1))
  const pop = proofOfPossession(k.secretKey, chainId, operator)
  t.true(verifyPossession(chainId, operator, k.g1, k.g2, pop))
  t.true(await harness.getFunction('verifyPossession').staticCall(operator, k.g1, k.g2, pop))
  // Replayed for another operator or chain, or over a key the prover does not hold.
  t.false(await harness.getFunction('verifyPossession').staticCall(other, k.g1, k.g2, pop))
  t.false(verifyPossession(chainId + 1n, operator, k.g1, k.g2, pop))
  // Rogue key: pk_rogue = x·G1 − pk_victim aggregates with the victim to x·G1, but its owner
  // cannot produce a PoP for it (it does not know its discrete log); signing with x fails.
  const x = blsKeyPair('rogue')
  const rogueG1 = subtractG1(x.g1, keys[3]!.g1)
  const attempt = sign(x.secretKey, popDigest(chainId, operator, rogueG1))
  t.false(await harness.getFunction('verifyPossession').staticCall(operator, rogueG1, x.g2, attempt))
  t.false(await harness.getFunction('verifyPossession').staticCall(operator, [0n, 0n], [0n, 0n, 0n, 0n], [0n, 0n]))
})
