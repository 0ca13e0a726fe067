// BatchSettlement on the embedded chain: deposits and the withdrawal delay, batches
// signed by a real BLS quorum (with non-signers), the 78/12/10 split to the unit,
// Merkle claims after the challenge window, freeze/void with refunds, and the proof
// path with a real receipt-circuit Groth16 proof. Every revert by its custom error.
//
// The quorum registry is contracts/test/BatchSettlementMocks.sol's TestQuorumRegistry:
// quorums set directly, signatures checked for real with contracts/lib/BLS.sol.
import test, { type ExecutionContext } from 'ava'
import { Contract, ContractFactory, getAddress, Interface, Wallet } from 'ethers'

import { deployQuorumFixture, makeValidator, quorumAttestation } from '../bench/chain/quorum-gas.js'

import { buildCircuits } from '../circuits/build.js'
import { loadCircuit } from '../circuits/circuits.js'
import { receiptCommitment, receiptInput, type ReceiptClaim } from '../circuits/receipt-encoding.js'
import { loadSnarkjs, releaseSnarkjsCurve } from '../circuits/snarkjs.js'
import { computeWitness } from '../circuits/witness.js'
import { batchDigest, buildBatch, type Batch } from '../runtime/chain/batch.js'
const SPLIT = { operatorBps: 7800, validatorBps: 1200, treasuryBps: 1000 }
import { loadArtifact } from '../runtime/chain/contracts.js'
import { compileVerifier, Groth16VerifierClient, verifierCalldata, type SnarkjsProof } from '../runtime/chain/groth16-verifier.js'
import { PayoutKind, payoutTree, receiptTuple } from '../runtime/chain/merkle.js'
import {
  build, debitsArg, headerArg, mined, quorumSig, receipt, revertName, settle, settlementEnv, sigArg, timeTravel, type SettlementEnv
} from './settlement-fixture.js'

let env: SettlementEnv
let s: Contract
let disputes: Wallet
let clients: Wallet[]
let ops: string[]
let vals: string[]

const WINDOW = 3600n
const DELAY = 86_400n

test.before(async () => {
  env = await settlementEnv({ accounts: 12, nValidators: 4 })
  s = env.settlement
  disputes = env.wallets[11]!
  clients = env.wallets.slice(1, 4)
  ops = env.wallets.slice(4, 7).map((w) => w.address)
  vals = env.wallets.slice(7, 10).map((w) => w.address)
  await mined(s.getFunction('setDisputes')(disputes.address))
  for (const c of clients) {
    await mined(env.token.getFunction('transfer')(c.address, 10n ** 24n))
    await mined((env.token.connect(c) as Contract).getFunction('approve')(await s.getAddress(), 2n ** 255n))
  }
})

test.after.always(async () => {
  await releaseSnarkjsCurve()
  await env?.stop()
})

async function rejects (t: ExecutionContext, p: Promise<unknown>, name: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(revertName(env, err), name, String((err as Error | undefined)?.message).slice(0, 300))
}

const as = (w: Wallet): Contract => s.connect(w) as Contract
const deposit = async (w: Wallet): Promise<bigint> => await s.getFunction('depositOf')(w.address) as bigint
const balance = async (a: string): Promise<bigint> => await env.token.getFunction('balanceOf')(a) as bigint

/** A settled batch of receipts by clients[0..2] with odd fees, so the split rounds. */
async function settledBatch (fees: bigint[] = [1001n, 2003n, 3007n, 7n]): Promise<{ b: Batch, id: bigint }> {
  const receipts = fees.map((fee, i) => receipt(clients[i % clients.length]!.address, fee, ops.slice(0, 1 + (i % 3)), vals.slice(0, 1 + ((i + 1) % 3))))
  const b = await build(env, receipts)
  await settle(env, b)
  return { b, id: b.batchId }
}

async function claimAll (b: Batch, from?: Wallet): Promise<void> {
  const c = from === undefined ? s : as(from)
  for (const p of b.payouts) await mined(c.getFunction('claim')(b.batchId, p.account, p.kind, p.amount, b.payoutProof(p.account, p.kind)))
}

test.serial('deposits, depositFor, and withdrawals only after the delay', async (t) => {
  const [a, b] = [clients[0]!, clients[1]!]
  await mined(as(a).getFunction('deposit')(1_000_000n))
  await mined(as(a).getFunction('depositFor')(b.address, 500_000n))
  t.is(await deposit(a), 1_000_000n)
  t.is(await deposit(b), 500_000n)
  await rejects(t, as(a).getFunction('deposit')(0n), 'ZeroAmount')
  await rejects(t, as(a).getFunction('depositFor')('0x' + '00'.repeat(20), 1n), 'ZeroAddress')
  await rejects(t, as(b).getFunction('withdraw')(), 'NoWithdrawalRequested')

  await mined(as(b).getFunction('requestWithdrawal')(200_000n))
  await rejects(t, as(b).getFunction('withdraw')(), 'WithdrawalLocked')
  // The requested amount is still debitable during the delay.
  t.is(await deposit(b), 500_000n)
  await timeTravel(env, DELAY - 10n)
  await rejects(t, as(b).getFunction('withdraw')(), 'WithdrawalLocked')
  await timeTravel(env, 10n)
  const before = await balance(b.address)
  await mined(as(b).getFunction('withdraw')())
  t.is(await balance(b.address) - before, 200_000n)
  t.is(await deposit(b), 300_000n)
  await rejects(t, as(b).getFunction('withdraw')(), 'NoWithdrawalRequested')
  await mined(as(clients[2]!).getFunction('deposit')(1_000_000n))
})

test.serial('settleBatch with a real BLS quorum signature and a non-signer; split 78/12/10 to the unit', async (t) => {
  const fees = [1001n, 2003n, 3007n, 7n]
  const receipts = fees.map((fee, i) => receipt(clients[i % 3]!.address, fee, ops.slice(0, 1 + (i % 3)), vals.slice(0, 1 + ((i + 1) % 3))))
  const b = await build(env, receipts)
  t.is(await s.getFunction('batchDigest')(b.batchId, headerArg(b), debitsArg(b)), b.digest)
  const before = await Promise.all(clients.map(deposit))
  // Validator 2 does not sign: 3 of 4 equal stakes is >= 2/3.
  const r = await settle(env, b, [0, 1, 3])
  const total = fees.reduce((x, y) => x + y, 0n)
  t.is(total, 6018n)
  const ev = r.logs.map((l) => s.interface.parseLog(l)).find((e) => e?.name === 'BatchSettled')
  t.is(ev?.args.batchId, b.batchId)
  t.is(ev?.args.total, total)
  t.is(ev?.args.signedStake, 3000n)
  t.is(ev?.args.totalStake, 4000n)
  t.is(ev?.args.receiptCount, 4n)
  const after = await Promise.all(clients.map(deposit))
  t.is(before[0]! - after[0]!, 1001n + 7n)
  t.is(before[1]! - after[1]!, 2003n)
  t.is(before[2]! - after[2]!, 3007n)
  const [op, val, tre] = await s.getFunction('poolsOf')(b.batchId) as [bigint, bigint, bigint]
  t.is(tre, 601n) // floor(6018 * 0.10)
  t.is(val, 722n) // floor(6018 * 0.12)
  t.is(op, 4695n) // the rest
  t.is(op + val + tre, total)
  t.deepEqual([op, val, tre], [b.pools.operatorPool, b.pools.validatorPool, b.pools.treasuryShare])
  t.is(b.payouts.filter((p) => p.kind === PayoutKind.OPERATOR).reduce((x, p) => x + p.amount, 0n), op)
  t.is(b.payouts.filter((p) => p.kind === PayoutKind.VALIDATOR).reduce((x, p) => x + p.amount, 0n), val)
  const [root, epoch, settledAt, deadline, status] = await s.getFunction('batchInfo')(b.batchId) as [string, bigint, bigint, bigint, bigint]
  t.is(root, b.header.receiptsRoot)
  t.is(epoch, 0n)
  t.is(deadline - settledAt, WINDOW)
  t.is(status, 1n) // Pending
  t.deepEqual((await s.getFunction('debitsOf')(b.batchId) as Array<[string, bigint]>).map((d) => [d[0], d[1]]), b.debits.map((d) => [d.client, d.amount]))
})

test.serial('settleBatch refuses short stake, wrong signatures, replays, bad debits and stale epochs', async (t) => {
  const mk = async (over: { fee?: bigint, client?: string } = {}): Promise<Batch> => build(env, [receipt(over.client ?? clients[0]!.address, over.fee ?? 10n, [ops[0]!], [vals[0]!])])
  // 2 of 4 equal stakes < 2/3
  await rejects(t, settle(env, await mk(), [0, 1]), 'InsufficientStake')
  // signature over another batch
  const b = await mk()
  const other = await mk({ fee: 11n })
  const sig = quorumSig(env, other.digest, [0, 1, 2, 3])
  await rejects(t, s.getFunction('settleBatch')(headerArg(b), debitsArg(b), sigArg(sig)), 'InvalidSignature')
  // a settled batch's signature cannot be replayed: the next id is in the digest
  const good = quorumSig(env, b.digest, [0, 1, 2, 3])
  await mined(s.getFunction('settleBatch')(headerArg(b), debitsArg(b), sigArg(good)))
  await rejects(t, s.getFunction('settleBatch')(headerArg(b), debitsArg(b), sigArg(good)), 'InvalidSignature')
  // a client without the funds
  const poor = env.wallets[10]!
  await rejects(t, settle(env, await mk({ client: poor.address })), 'InsufficientDeposit')
  // debits out of order or zero, signed as they are (the quorum signed it; the contract still refuses)
  const id = await s.getFunction('nextBatchId')() as bigint
  const header = { epoch: 0n, receiptsRoot: b.header.receiptsRoot, receiptCount: 2, payoutsRoot: b.header.payoutsRoot }
  const hArg = [header.epoch, header.receiptsRoot, header.receiptCount, header.payoutsRoot]
  const sorted = [clients[0]!.address, clients[1]!.address].sort((x, y) => BigInt(x) < BigInt(y) ? -1 : 1)
  for (const [debits, error] of [
    [[{ client: sorted[1]!, amount: 5n }, { client: sorted[0]!, amount: 5n }], 'DebitsNotSorted'],
    [[{ client: sorted[0]!, amount: 5n }, { client: sorted[0]!, amount: 5n }], 'DebitsNotSorted'],
    [[{ client: sorted[0]!, amount: 0n }], 'ZeroAmount'],
    [[{ client: sorted[0]!, amount: 1n << 96n }], 'DebitTooLarge']
  ] as const) {
    const digest = batchDigest({ chainId: env.chainId, settlement: await s.getAddress(), batchId: id, header, debits, split: SPLIT })
    const sg = quorumSig(env, digest, [0, 1, 2, 3])
    await rejects(t, s.getFunction('settleBatch')(hArg, debits.map((d) => [d.client, d.amount]), sigArg(sg)), error)
  }
  // fees but no payouts root: they could never be claimed
  {
    const debits = [{ client: sorted[0]!, amount: 5n }]
    const noRoot = { ...header, payoutsRoot: '0x' + '00'.repeat(32) }
    const digest = batchDigest({ chainId: env.chainId, settlement: await s.getAddress(), batchId: id, header: noRoot, debits, split: SPLIT })
    await rejects(t, s.getFunction('settleBatch')([0n, noRoot.receiptsRoot, 2, noRoot.payoutsRoot], [[sorted[0]!, 5n]], sigArg(quorumSig(env, digest, [0, 1, 2, 3]))), 'NoPayoutsRoot')
  }
  // empty batch
  await rejects(t, s.getFunction('settleBatch')([0n, header.receiptsRoot, 0, header.payoutsRoot], [], sigArg(good)), 'EmptyBatch')
  // epochs: a future one, an uncommitted one, a stale one
  await rejects(t, settle(env, await build(env, [receipt(clients[0]!.address, 1n, [ops[0]!], [vals[0]!])], { epoch: 1n })), 'FutureEpoch')
  await mined(env.clock.getFunction('setEpoch')(1n))
  await rejects(t, settle(env, await build(env, [receipt(clients[0]!.address, 1n, [ops[0]!], [vals[0]!])], { epoch: 1n })), 'QuorumNotCommitted')
  // the previous epoch's quorum may still settle
  await settle(env, await mk())
  await mined(env.clock.getFunction('setEpoch')(2n))
  await rejects(t, settle(env, await mk()), 'StaleEpoch')
  await mined(env.clock.getFunction('setEpoch')(0n))
})

test.serial('claims: after the window only, with proofs, once each; the treasury is paid at finalisation', async (t) => {
  const { b, id } = await settledBatch()
  const p0 = b.payouts[0]!
  const claim = (p: { account: string, kind: number, amount: bigint }, proof: string[], from: Contract = s): Promise<unknown> =>
    from.getFunction('claim')(id, p.account, p.kind, p.amount, proof)
  await rejects(t, claim(p0, b.payoutProof(p0.account, p0.kind)), 'ChallengeWindowOpen')
  await rejects(t, s.getFunction('finalize')(id), 'ChallengeWindowOpen')
  await timeTravel(env, WINDOW + 1n)
  await rejects(t, claim({ ...p0, amount: p0.amount + 1n }, b.payoutProof(p0.account, p0.kind)), 'InvalidPayoutProof')
  await rejects(t, claim({ ...p0, kind: 2 }, b.payoutProof(p0.account, p0.kind)), 'InvalidKind')
  await rejects(t, s.getFunction('claim')(9999n, p0.account, 0, 1n, []), 'UnknownBatch')

  const treasuryBefore = await balance(env.treasury)
  const balances = await Promise.all(b.payouts.map(async (p) => balance(p.account)))
  // A stranger claims on everyone's behalf: the funds still go to each account.
  await claimAll(b, env.wallets[10]!)
  t.is(await balance(env.treasury) - treasuryBefore, b.pools.treasuryShare)
  const gained = new Map<string, bigint>()
  for (const [i, p] of b.payouts.entries()) gained.set(p.account, (await balance(p.account)) - balances[i]!)
  const owed = new Map<string, bigint>()
  for (const p of b.payouts) owed.set(p.account, (owed.get(p.account) ?? 0n) + p.amount)
  t.deepEqual(gained, owed)
  t.deepEqual(await s.getFunction('poolsOf')(id).then((r: bigint[]) => [r[0], r[1], r[2]]), [0n, 0n, 0n])
  t.true(await s.getFunction('isClaimed')(id, p0.account, p0.kind, p0.amount))
  await rejects(t, claim(p0, b.payoutProof(p0.account, p0.kind)), 'AlreadyClaimed')
  await rejects(t, s.getFunction('finalize')(id), 'BatchNotOpen')
  t.is((await s.getFunction('batchInfo')(id))[4], 3n) // Final
})

test.serial('a payouts root promising more than the pool cannot drain other batches (PoolExceeded)', async (t) => {
  const b = await build(env, [receipt(clients[0]!.address, 1000n, [ops[0]!], [vals[0]!])])
  // The quorum signs a payouts root that gives the operator the whole fee.
  const greedy = payoutTree(b.batchId, [{ account: ops[0]!, kind: PayoutKind.OPERATOR, amount: 1000n }])
  const header = { ...b.header, payoutsRoot: greedy.root }
  const digest = batchDigest({ chainId: env.chainId, settlement: await s.getAddress(), batchId: b.batchId, header, debits: b.debits, split: SPLIT })
  await mined(s.getFunction('settleBatch')([header.epoch, header.receiptsRoot, header.receiptCount, header.payoutsRoot], debitsArg(b), sigArg(quorumSig(env, digest, [0, 1, 2, 3]))))
  await timeTravel(env, WINDOW + 1n)
  await rejects(t, s.getFunction('claim')(b.batchId, ops[0]!, 0, 1000n, greedy.getProof(0)), 'PoolExceeded')
})

test.serial('freeze stops claims until every dispute is resolved; only the dispute contract may freeze', async (t) => {
  const { b, id } = await settledBatch()
  const d = as(disputes)
  await rejects(t, s.getFunction('freezeBatch')(id), 'NotDisputes')
  await rejects(t, s.getFunction('voidBatch')(id), 'NotDisputes')
  await rejects(t, s.getFunction('unfreezeBatch')(id), 'NotDisputes')
  await rejects(t, d.getFunction('unfreezeBatch')(id), 'NotFrozen')
  await rejects(t, d.getFunction('freezeBatch')(9999n), 'BatchNotOpen')
  await mined(d.getFunction('freezeBatch')(id))
  await mined(d.getFunction('freezeBatch')(id))
  t.is(await s.getFunction('openDisputesOf')(id), 2n)
  await timeTravel(env, WINDOW + 1n)
  const p0 = b.payouts[0]!
  await rejects(t, s.getFunction('claim')(id, p0.account, p0.kind, p0.amount, b.payoutProof(p0.account, p0.kind)), 'BatchIsFrozen')
  await rejects(t, s.getFunction('finalize')(id), 'BatchIsFrozen')
  await mined(d.getFunction('unfreezeBatch')(id))
  t.is((await s.getFunction('batchInfo')(id))[4], 2n) // still Frozen
  await mined(d.getFunction('unfreezeBatch')(id))
  t.is((await s.getFunction('batchInfo')(id))[4], 1n) // Pending
  await claimAll(b)
  // A final batch can no longer be frozen or voided: its payouts have left.
  await rejects(t, d.getFunction('freezeBatch')(id), 'BatchNotOpen')
  await rejects(t, d.getFunction('voidBatch')(id), 'BatchNotOpen')
})

test.serial('voidBatch refunds every debit, zeroes the pools and pays no treasury; it is idempotent', async (t) => {
  const before = await Promise.all(clients.map(deposit))
  const { b, id } = await settledBatch([500n, 600n, 700n, 800n])
  const d = as(disputes)
  await mined(d.getFunction('freezeBatch')(id))
  const treasuryBefore = await balance(env.treasury)
  const r = await mined(d.getFunction('voidBatch')(id))
  t.is(r.logs.map((l) => s.interface.parseLog(l)).find((e) => e?.name === 'BatchVoided')?.args.refunded, 2600n)
  t.deepEqual(await Promise.all(clients.map(deposit)), before)
  t.deepEqual(await s.getFunction('poolsOf')(id).then((x: bigint[]) => [x[0], x[1], x[2]]), [0n, 0n, 0n])
  t.is((await s.getFunction('batchInfo')(id))[4], 4n) // Voided
  await mined(d.getFunction('voidBatch')(id))
  await mined(d.getFunction('unfreezeBatch')(id))
  t.deepEqual(await Promise.all(clients.map(deposit)), before)
  await timeTravel(env, WINDOW + 1n)
  const p0 = b.payouts[0]!
  await rejects(t, s.getFunction('claim')(id, p0.account, p0.kind, p0.amount, b.payoutProof(p0.account, p0.kind)), 'BatchIsVoided')
  await rejects(t, s.getFunction('finalize')(id), 'BatchIsVoided')
  await rejects(t, d.getFunction('freezeBatch')(id), 'BatchNotOpen')
  t.is(await balance(env.treasury), treasuryBefore)
})

test.serial('governance: only the owner wires disputes and the verifier', async (t) => {
  const stranger = as(env.wallets[10]!)
  await rejects(t, stranger.getFunction('setDisputes')(env.wallets[10]!.address), 'OwnableUnauthorizedAccount')
  await rejects(t, stranger.getFunction('setReceiptVerifier')(env.wallets[10]!.address), 'OwnableUnauthorizedAccount')
  await rejects(t, s.getFunction('setDisputes')('0x' + '00'.repeat(20)), 'ZeroAddress')
  await rejects(t, s.getFunction('setReceiptVerifier')('0x' + '00'.repeat(20)), 'ZeroAddress')
})

test.serial('a receipt proven with the receipt circuit (real Groth16 proof) is marked proven', async (t) => {
  t.timeout(10 * 60_000)
  await buildCircuits({ only: ['receipt'], log: (l) => t.log(l) })
  const circuit = await loadCircuit('receipt')
  const executor = ops[0]!
  const claim: ReceiptClaim = {
    modelRoot: '0x' + 'ab'.repeat(32),
    requestId: '0x' + '5e'.repeat(32),
    inputHash: '0x' + '11'.repeat(32),
    outputHash: '0x' + '22'.repeat(32),
    executor,
    epoch: 0n
  }
  const statement = receiptCommitment(claim)
  const snarkjs = await loadSnarkjs()
  const wtns = await computeWitness(circuit, receiptInput(claim))
  const { proof, publicSignals } = await snarkjs.groth16.prove(circuit.zkeyPath, { type: 'mem', data: wtns })
  t.deepEqual(publicSignals, [statement.toString()])
  const [a, bb, c] = verifierCalldata(proof as unknown as SnarkjsProof, publicSignals)

  const proven = receipt(clients[0]!.address, 100n, [executor], [vals[0]!], {
    requestId: claim.requestId, modelRoot: claim.modelRoot, outputHash: claim.outputHash, traceRoot: claim.inputHash, proofStatement: statement
  })
  const unproven = receipt(clients[1]!.address, 100n, [executor], [vals[0]!])
  const b = await build(env, [proven, unproven])
  await settle(env, b)
  const i = b.receipts.findIndex((r) => r.requestId === claim.requestId)
  const j = 1 - i
  const call = (k: number, proofArgs: unknown[] = [a, bb, c], r = b.receipts[k]!): Promise<unknown> =>
    s.getFunction('finalizeReceiptWithProof')(b.batchId, receiptTuple(r), b.receiptProof(k), ...proofArgs)

  await rejects(t, call(i), 'VerifierNotSet')
  const verifier = await Groth16VerifierClient.deploy(compileVerifier(circuit.verifierPath), env.owner, 1)
  await mined(s.getFunction('setReceiptVerifier')(verifier.address))
  t.true(await s.getFunction('receiptIncluded')(b.batchId, receiptTuple(b.receipts[i]!), b.receiptProof(i)))
  t.false(await s.getFunction('receiptIncluded')(b.batchId, receiptTuple({ ...b.receipts[i]!, fee: 101n }), b.receiptProof(i)))
  await rejects(t, call(i, [a, bb, c], { ...b.receipts[i]!, fee: 101n }), 'ReceiptNotInBatch')
  await rejects(t, call(j), 'NoProofStatement')
  // The proof of the statement, checked against another statement, fails.
  const b2 = await build(env, [{ ...proven, requestId: '0x' + '5f'.repeat(32), proofStatement: statement + 1n }])
  await settle(env, b2)
  await rejects(t, s.getFunction('finalizeReceiptWithProof')(b2.batchId, receiptTuple(b2.receipts[0]!), b2.receiptProof(0), a, bb, c), 'InvalidReceiptProof')
  await rejects(t, s.getFunction('finalizeReceiptWithProof')(9999n, receiptTuple(b.receipts[i]!), b.receiptProof(i), a, bb, c), 'UnknownBatch')

  const leaf = b.receiptLeafHash(i)
  t.false(await s.getFunction('isReceiptProven')(b.batchId, leaf))
  const r = await mined(call(i) as Promise<never>)
  const ev = r.logs.map((l) => s.interface.parseLog(l)).find((e) => e?.name === 'ReceiptProven')
  t.is(ev?.args.receiptLeaf, leaf)
  t.is(ev?.args.proofStatement, statement)
  t.true(await s.getFunction('isReceiptProven')(b.batchId, leaf))
  t.log(`gas: finalizeReceiptWithProof = ${r.gasUsed}`)
  await rejects(t, call(i), 'AlreadyProven')
})

test.serial('settleBatch gas does not grow with the number of receipts', async (t) => {
  for (const c of clients) await mined(as(c).getFunction('deposit')(200_000n))
  const gasFor = async (n: number): Promise<bigint> => {
    const receipts = Array.from({ length: n }, (_, k) => receipt(clients[k % 3]!.address, 1000n, [ops[k % 3]!], [vals[(k + 1) % 3]!]))
    return (await settle(env, await build(env, receipts))).gasUsed
  }
  await gasFor(3) // the first batch of a fresh contract also pays nextBatchId's zero-to-nonzero write
  const [g1, g256] = [await gasFor(3), await gasFor(256)]
  t.log(`gas: settleBatch 3 receipts = ${g1}, 256 receipts = ${g256} (3 clients)`)
  // Same clients, nonzero pools in both: what differs is calldata bytes of the roots and
  // the signature, and hash-to-curve's try-and-increment rounds (a few thousand gas).
  // Any per-receipt cost, even 40 gas, would show as more than 10k over 253 receipts.
  t.true(g256 - g1 < 10_000n && g1 - g256 < 10_000n, `${g1} vs ${g256}`)
})

test.serial('with the real QuorumRegistry: a batch settles with a non-signer; short stake and a bad signature are refused', async (t) => {
  const members = Array.from({ length: 4 }, (_, i) => makeValidator('batch settlement real quorum', i, 10n ** 18n))
  const f = await deployQuorumFixture(env.owner, members, 4)
  await mined(f.registry.getFunction('setEpoch')(1n))
  await mined(f.quorum.getFunction('commitQuorum')(1n))
  const order = (await f.quorum.getFunction('membersOf')(1n) as string[]).map((a) => members.find((m) => m.address === getAddress(a))!.keys)
  const art = loadArtifact('BatchSettlement')
  const real = await new ContractFactory(art.abi, art.bytecode, env.owner).deploy(
    await env.token.getAddress(), await env.params.getAddress(), await f.quorum.getAddress(), await f.registry.getAddress(), env.owner.address)
  await real.waitForDeployment()
  const rs = real as Contract
  const c = clients[0]!
  await mined((env.token.connect(c) as Contract).getFunction('approve')(await rs.getAddress(), 10n ** 6n))
  await mined((rs.connect(c) as Contract).getFunction('deposit')(10n ** 6n))
  const errors = new Interface([...(art.abi as Array<{ type: string }>), ...(loadArtifact('QuorumRegistry').abi as Array<{ type: string }>)].filter((x) => x.type === 'error'))
  const nameOf = (err: unknown): string | undefined => {
    const data = (err as { data?: string }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data
    return data === undefined ? undefined : errors.parseError(data)?.name
  }
  const b = buildBatch({
    batchId: 0n, epoch: 1n, chainId: env.chainId, settlement: await rs.getAddress(),
    receipts: [receipt(c.address, 5000n, [ops[0]!], [vals[0]!])], split: { operatorBps: 7800, validatorBps: 1200, treasuryBps: 1000 }
  })
  const go = (nonSigners: number[], digest = b.digest): Promise<unknown> => {
    const att = quorumAttestation(order, new Set(nonSigners), digest)
    return rs.getFunction('settleBatch')(headerArg(b), debitsArg(b), [att.nonSignerPks, att.apkG2, att.sigma])
  }
  t.is(nameOf(await t.throwsAsync(go([0, 1]))), 'InsufficientQuorumStake')
  t.is(nameOf(await t.throwsAsync(go([3], b.receiptLeafHash(0)))), 'InvalidQuorumSignature')
  const r = await mined(go([3]) as Promise<never>)
  const ev = r.logs.map((l) => rs.interface.parseLog(l)).find((e) => e?.name === 'BatchSettled')
  t.is(ev?.args.signedStake, 3n * 10n ** 18n)
  t.is(ev?.args.totalStake, 4n * 10n ** 18n)
  t.is(await rs.getFunction('depositOf')(c.address), 10n ** 6n - 5000n)
  t.log(`gas: settleBatch with the real QuorumRegistry (quorum 4, 1 non-signer, 1 client) = ${r.gasUsed}`)
})
