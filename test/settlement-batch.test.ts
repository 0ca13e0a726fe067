// runtime/chain/batch.ts and merkle.ts against the contracts: leaves equal to
// ReceiptLeaf.hash/payoutHash, proofs accepted by OpenZeppelin's MerkleProof, the
// digest equal to BatchSettlement.batchDigest; and the builder's own rules
// (order independence, exact pools, largest remainder, input errors).
import test from 'ava'
import { AbiCoder, Contract, ContractFactory, getAddress, keccak256 } from 'ethers'

import { seededRandom as rng } from '../circuits/samples.js'
import { batchDigest, buildBatch, splitFees, type BatchReceipt, type FeeSplit } from '../runtime/chain/batch.js'
import { PayoutKind, payoutLeafHash, receiptLeafHash, receiptTuple, verifyPayoutProof, verifyReceiptProof } from '../runtime/chain/merkle.js'
import { harnessArtifact } from '../runtime/chain/solc-harness.js'
import { isVerimeshError } from '../runtime/errors.js'
import { debitsArg, headerArg, MOCKS, settlementEnv, type SettlementEnv } from './settlement-fixture.js'

const SPLIT: FeeSplit = { operatorBps: 7800, validatorBps: 1200, treasuryBps: 1000 }
const SETTLEMENT = '0x' + '5e'.repeat(20)

let env: SettlementEnv
let leafs: Contract

test.before(async () => {
  env = await settlementEnv({ accounts: 2, nValidators: 1 })
  const a = harnessArtifact(MOCKS, 'TestReceiptLeaf')
  const c = await new ContractFactory(a.abi, a.bytecode, env.owner).deploy()
  await c.waitForDeployment()
  leafs = c as Contract
})

test.after.always(async () => { await env?.stop() })

/** Distinct addresses, increasing with i. */
const addr = (i: number): string => getAddress('0x' + (BigInt(i + 1) * 0x1000003n).toString(16).padStart(40, '0'))
const h32 = (i: number, tag: number): string => keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'uint256'], [i, tag]))

function randomReceipts (n: number, seed: number): BatchReceipt[] {
  const r = rng(seed)
  const pick = (k: number, from: number, base: number): string[] => {
    const out = new Set<string>()
    while (out.size < k) out.add(addr(base + Math.floor(r() * from)))
    return [...out]
  }
  return Array.from({ length: n }, (_, i) => {
    const operators = pick(1 + Math.floor(r() * 4), 9, 100)
    return {
      requestId: h32(i, seed),
      modelRoot: h32(i, 1),
      client: addr(Math.floor(r() * 7)),
      executor: operators[0]!,
      fee: BigInt(Math.floor(r() * 1e6)) * 10n ** BigInt(Math.floor(r() * 12)),
      outputHash: h32(i, 2),
      traceRoot: h32(i, 3),
      steps: Math.floor(r() * 1000),
      proofStatement: r() < 0.3 ? BigInt(h32(i, 4)) % (1n << 250n) : 0n,
      operators,
      validators: pick(1 + Math.floor(r() * 5), 7, 200)
    }
  })
}

const batchOf = (receipts: BatchReceipt[], batchId = 7n): ReturnType<typeof buildBatch> =>
  buildBatch({ batchId, epoch: 3n, chainId: 31337n, settlement: SETTLEMENT, receipts, split: SPLIT })

test('receipt and payout leaves equal ReceiptLeaf.hash/payoutHash; proofs pass MerkleProof on chain', async (t) => {
  const b = batchOf(randomReceipts(37, 1))
  for (const [i, r] of b.receipts.entries()) {
    const leaf = receiptLeafHash(r)
    t.is(leaf, b.receiptLeafHash(i))
    t.is(await leafs.getFunction('hash')(receiptTuple(r)), leaf)
    t.true(await leafs.getFunction('verify')(b.receiptProof(i), b.header.receiptsRoot, leaf))
    t.true(verifyReceiptProof(b.header.receiptsRoot, r, b.receiptProof(i)))
  }
  t.false(await leafs.getFunction('verify')(b.receiptProof(0), b.header.receiptsRoot, b.receiptLeafHash(1)))
  for (const p of b.payouts) {
    const leaf = payoutLeafHash(b.batchId, p.account, p.kind, p.amount)
    t.is(await leafs.getFunction('payoutHash')(b.batchId, p.account, p.kind, p.amount), leaf)
    const proof = b.payoutProof(p.account, p.kind)
    t.true(await leafs.getFunction('verify')(proof, b.header.payoutsRoot, leaf))
    t.true(verifyPayoutProof(b.header.payoutsRoot, b.batchId, p.account, p.kind, p.amount, proof))
    t.false(verifyPayoutProof(b.header.payoutsRoot, b.batchId, p.account, p.kind, p.amount + 1n, proof))
  }
})

test('the digest equals BatchSettlement.batchDigest on chain', async (t) => {
  const settlement = await env.settlement.getAddress()
  for (const [n, seed] of [[1, 2], [5, 3], [64, 4]] as const) {
    const b = buildBatch({ batchId: BigInt(seed), epoch: 9n, chainId: env.chainId, settlement, receipts: randomReceipts(n, seed), split: SPLIT })
    t.is(await env.settlement.getFunction('batchDigest')(b.batchId, headerArg(b), debitsArg(b)), b.digest)
    // every field is bound
    t.not(batchDigest({ chainId: env.chainId, settlement, batchId: b.batchId + 1n, header: b.header, debits: b.debits, split: SPLIT }), b.digest)
    t.not(batchDigest({ chainId: env.chainId + 1n, settlement, batchId: b.batchId, header: b.header, debits: b.debits, split: SPLIT }), b.digest)
    t.not(batchDigest({ chainId: env.chainId, settlement, batchId: b.batchId, header: { ...b.header, receiptCount: n + 1 }, debits: b.debits, split: SPLIT }), b.digest)
    t.not(batchDigest({ chainId: env.chainId, settlement, batchId: b.batchId, header: b.header, debits: b.debits.map((d, i) => i === 0 ? { ...d, amount: d.amount + 1n } : d), split: SPLIT }), b.digest)
    t.not(batchDigest({ chainId: env.chainId, settlement, batchId: b.batchId, header: b.header, debits: b.debits, split: { operatorBps: 7700, validatorBps: 1300, treasuryBps: 1000 } }), b.digest, 'the fee split is signed too')
  }
})

test('same receipts in any order give the same batch', (t) => {
  const receipts = randomReceipts(50, 5)
  const a = batchOf(receipts)
  const shuffled = [...receipts]
  const r = rng(9)
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
  }
  const b = batchOf(shuffled)
  t.deepEqual(b.header, a.header)
  t.is(b.digest, a.digest)
  t.deepEqual(b.payouts, a.payouts)
  t.deepEqual(b.debits, a.debits)
  t.deepEqual(b.receipts.map((x) => x.requestId), [...b.receipts.map((x) => x.requestId)].sort())
})

test('pools split like the contract and payouts sum to each pool exactly', (t) => {
  for (let seed = 10; seed < 40; seed++) {
    const b = batchOf(randomReceipts(1 + (seed * 7) % 40, seed))
    const total = b.receipts.reduce((s, r) => s + r.fee, 0n)
    t.is(b.pools.total, total)
    t.is(b.debits.reduce((s, d) => s + d.amount, 0n), total)
    t.is(b.pools.treasuryShare, total * 1000n / 10_000n)
    t.is(b.pools.validatorPool, total * 1200n / 10_000n)
    t.is(b.pools.operatorPool + b.pools.validatorPool + b.pools.treasuryShare, total)
    const sum = (k: PayoutKind): bigint => b.payouts.filter((p) => p.kind === k).reduce((s, p) => s + p.amount, 0n)
    t.is(sum(PayoutKind.OPERATOR), b.pools.operatorPool)
    t.is(sum(PayoutKind.VALIDATOR), b.pools.validatorPool)
    // debits ascending by address, strictly
    for (let i = 1; i < b.debits.length; i++) t.true(BigInt(b.debits[i - 1]!.client) < BigInt(b.debits[i]!.client))
  }
})

test('shares follow fees and member counts; leftover units go to the largest remainders, ties to the lower address', (t) => {
  const [o1, o2, o3, v1] = [addr(1), addr(2), addr(3), addr(9)]
  const base = { modelRoot: h32(0, 1), client: addr(50), executor: o1, outputHash: h32(0, 2), traceRoot: h32(0, 3), steps: 1, proofStatement: 0n, validators: [v1] }
  // One receipt of fee 100 shared by three operators: pool 78 → 26 each.
  let b = batchOf([{ ...base, requestId: h32(1, 0), fee: 100n, operators: [o1, o2, o3] }])
  t.deepEqual(b.payouts.filter((p) => p.kind === PayoutKind.OPERATOR).map((p) => p.amount), [26n, 26n, 26n])
  // fee 10: pool 10 - 1 - 1 = 8 over three → 2 each, 2 left over; equal remainders → the two lowest addresses.
  b = batchOf([{ ...base, requestId: h32(1, 0), fee: 10n, operators: [o3, o2, o1] }])
  t.deepEqual(b.payouts.filter((p) => p.kind === PayoutKind.OPERATOR).map((p) => [p.account, p.amount]), [[o1, 3n], [o2, 3n], [o3, 2n]])
  // Two receipts: o1 alone on fee 300, o1 and o2 on fee 100 → weights 350 : 50 of a 312 pool → 273 and 39.
  b = batchOf([
    { ...base, requestId: h32(1, 0), fee: 300n, operators: [o1] },
    { ...base, requestId: h32(2, 0), fee: 100n, operators: [o1, o2] }
  ])
  t.is(b.pools.operatorPool, 312n)
  t.is(b.payoutOf(o1, PayoutKind.OPERATOR), 273n)
  t.is(b.payoutOf(o2, PayoutKind.OPERATOR), 39n)
  t.is(b.payoutOf(v1, PayoutKind.VALIDATOR), 48n)
  t.throws(() => b.payoutOf(o3, PayoutKind.OPERATOR), { message: /no operator payout/ })
  t.throws(() => b.payoutProof(o1, PayoutKind.VALIDATOR), { message: /no validator payout/ })
})

test('a batch without fees has no payouts and a zero payouts root', (t) => {
  const receipts = randomReceipts(3, 77).map((r) => ({ ...r, fee: 0n }))
  const b = batchOf(receipts)
  t.deepEqual(b.debits, [])
  t.deepEqual(b.payouts, [])
  t.is(b.header.payoutsRoot, '0x' + '00'.repeat(32))
  t.is(b.header.receiptCount, 3)
})

test('malformed input is refused with RECEIPT_INVALID or CONFIG_INVALID and context', (t) => {
  const [r] = randomReceipts(1, 8)
  const bad = (receipts: BatchReceipt[], re: RegExp, code = 'RECEIPT_INVALID', split = SPLIT): void => {
    const err = t.throws(() => buildBatch({ batchId: 1n, epoch: 1n, chainId: 1n, settlement: SETTLEMENT, receipts, split }), { message: re })
    t.true(isVerimeshError(err, code as 'RECEIPT_INVALID'), String(err))
  }
  bad([], /at least one receipt/)
  bad([r!, { ...r! }], /appears twice/)
  bad([{ ...r!, operators: [] }], /has no operators/)
  bad([{ ...r!, validators: [r!.validators[0]!, r!.validators[0]!] }], /twice/)
  bad([{ ...r!, operators: ['0x1234'] }], /not an address/)
  bad([{ ...r!, client: 'nope' }], /client is not an address/)
  bad([{ ...r!, requestId: '0x12' }], /requestId must be 0x/)
  bad([{ ...r!, fee: -1n }], /fee must be a bigint/)
  bad([{ ...r!, steps: 2 ** 32 }], /steps must be a uint32/)
  bad([{ ...r!, fee: 1n << 96n }], /more than a debit can hold/)
  bad([r!], /must sum to 10000/, 'CONFIG_INVALID', { operatorBps: 7800, validatorBps: 1200, treasuryBps: 999 })
  t.throws(() => batchOf([r!]).receiptProof(1), { message: /outside the batch/ })
  t.throws(() => splitFees(1n, { operatorBps: -1, validatorBps: 10_001, treasuryBps: 0 }), { message: /integer in \[0, 10000\]/ })
})
