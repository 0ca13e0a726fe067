// The settler's batching and the quorum member's co-signing, around a fake chain (the
// contract side is tested on the embedded EVM in contracts-settlement and e2e-devnet).
// Signatures, BLS keys and batch trees are the real ones.

import test from 'ava'
import { Wallet, hexlify, randomBytes } from 'ethers'
import { BatchSettlementService, type AggregateSignature, type CosignRequester, type SettlerChain, type SubmittedBatch } from '../actors/settler/batch-service.js'
import { BatchCosigner, type CosignChainView } from '../actors/quorum/batch-cosigner.js'
import { buildBatch, type Batch, type FeeSplit } from '../runtime/chain/batch.js'
import { aggregateG1, blsKeyPair, subtractG1, verify, type BlsKeyPair, type G1Point } from '../runtime/crypto/bls.js'
import { attest } from '../runtime/protocol/request.js'
import { leafOfItem } from '../runtime/protocol/batch-item.js'
import type { BatchItem, Receipt } from '../runtime/protocol/messages.js'
import { silentLogger } from '../runtime/node/logger.js'
import { isVerimeshError, VerimeshError } from '../runtime/errors.js'
import { FileBatchJournal } from '../actors/settler/batch-journal.js'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const SPLIT: FeeSplit = { operatorBps: 7800, validatorBps: 1200, treasuryBps: 1000 }
const SETTLEMENT = '0x' + '5e'.repeat(20)
const CHAIN_ID = 31337

interface Member { wallet: Wallet, key: BlsKeyPair }

function members (n: number): Member[] {
  return Array.from({ length: n }, (_, i) => ({ wallet: new Wallet('0x' + (i + 1).toString(16).padStart(64, '0')), key: blsKeyPair(`member ${i}`) }))
}

async function item (validators: Member[], opts: { client?: string, fee?: bigint, executors?: string[] } = {}): Promise<BatchItem> {
  const receipt: Receipt = {
    requestId: hexlify(randomBytes(32)),
    modelId: '0x' + '11'.repeat(32),
    client: opts.client ?? '0x' + 'c1'.repeat(20),
    outputHash: hexlify(randomBytes(32)),
    traceHash: hexlify(randomBytes(32)),
    executors: opts.executors ?? ['0x' + 'e1'.repeat(20), '0x' + 'e2'.repeat(20)],
    fee: String(opts.fee ?? 1_000_000n)
  }
  return { receipt, attestations: await Promise.all(validators.map(async (v) => await attest(v.wallet, receipt))) }
}

/** A chain that records what was submitted and checks the aggregate like the contract does. */
class FakeChain implements SettlerChain {
  readonly chainId = CHAIN_ID
  readonly settlement = SETTLEMENT
  nextId = 0n
  deposits = new Map<string, bigint>()
  submitted: Array<{ batch: Batch, sig: AggregateSignature }> = []
  /** Simulates another settler taking the next id just before our transaction. */
  stealNextId = 0
  constructor (readonly quorum: Member[]) {}
  async currentEpoch (): Promise<bigint> { return 3n }
  async quorumMembers (): Promise<string[]> { return this.quorum.map((m) => m.wallet.address) }
  async memberKey (op: string): Promise<G1Point> { return this.quorum.find((m) => m.wallet.address === op)!.key.g1 }
  async nextBatchId (): Promise<bigint> { return this.nextId }
  async feeSplit (): Promise<FeeSplit> { return SPLIT }
  async depositOf (client: string): Promise<bigint> { return this.deposits.get(client.toLowerCase()) ?? 10n ** 30n }
  async submit (batch: Batch, sig: AggregateSignature): Promise<SubmittedBatch> {
    if (this.stealNextId > 0) {
      this.stealNextId--
      this.foreign.add(this.nextId++)
    }
    if (batch.batchId !== this.nextId) throw new VerimeshError('CHAIN_ERROR', 'reverted', { error: 'InvalidQuorumSignature' })
    const apk = sig.nonSignerPks.reduce((a, pk) => subtractG1(a, pk), aggregateG1(this.quorum.map((m) => m.key.g1)))
    if (!verify(batch.digest, apk, sig.apkG2, sig.sigma)) throw new VerimeshError('CHAIN_ERROR', 'reverted', { error: 'InvalidQuorumSignature' })
    this.submitted.push({ batch, sig })
    return { batchId: this.nextId++, txHash: '0x' + 'ab'.repeat(32), blockNumber: 7, gasUsed: 300_000n, challengeDeadline: Math.floor(Date.now() / 1000) + this.deadlineIn }
  }

  deadlineIn = 3600
  /** Batches settled by someone else (the id race). */
  foreign = new Set<bigint>()
  settledRoot (batchId: number): string | undefined {
    if (this.foreign.has(BigInt(batchId))) return '0x' + 'de'.repeat(32)
    return this.submitted.find((x) => x.batch.batchId === BigInt(batchId))?.batch.header.receiptsRoot
  }

  claims: Array<{ batchId: bigint, account: string, kind: number, amount: bigint }> = []
  async claim (batchId: bigint, account: string, kind: number, amount: bigint): Promise<void> {
    this.claims.push({ batchId, account, kind, amount })
  }
}

function cosignerChain (active: (v: string) => boolean = () => true, chain?: FakeChain): CosignChainView {
  return { chainId: CHAIN_ID, settlement: SETTLEMENT, feeSplit: async () => SPLIT, isActiveValidator: async (v) => active(v), settledRoot: async (id) => chain?.settledRoot(id) }
}

/** Every member co-signs with a real BatchCosigner, except the ones in `silent`. */
function cosigners (quorum: Member[], silent: Set<string> = new Set(), chain: CosignChainView = cosignerChain()): CosignRequester {
  return cosignersOn(quorum, silent, chain)
}

function cosignersOn (quorum: Member[], silent: Set<string>, chain: CosignChainView): CosignRequester {
  const byOp = new Map(quorum.map((m) => [m.wallet.address, new BatchCosigner(chain, m.key, m.wallet.address)]))
  return async (member, msg) => {
    if (silent.has(member)) throw new VerimeshError('ASK_TIMEOUT', `${member} did not answer`)
    return await byOp.get(member)!.sign(msg)
  }
}

const opts = { maxBatch: 4, flushMs: 20, maxAttempts: 3, autoClaim: false }

test('receipts queued together settle in one batch, each answered with its own leaf', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  const service = new BatchSettlementService(chain, cosigners(quorum), opts, silentLogger())
  const items = await Promise.all([1, 2, 3].map(async () => await item(quorum.slice(0, 2))))
  const records = await Promise.all(items.map(async (i) => await service.submit(i)))
  t.is(chain.submitted.length, 1)
  const { batch, sig } = chain.submitted[0]!
  t.is(batch.receipts.length, 3)
  t.is(sig.nonSignerPks.length, 0)
  for (const [k, r] of records.entries()) {
    t.is(r.batchId, 0)
    t.is(r.receiptCount, 3)
    t.is(r.leafHash, batch.receiptLeafHash(r.receiptIndex))
    t.is(batch.receipts[r.receiptIndex]!.requestId, items[k]!.receipt.requestId)
  }
  await service.close()
})

test('a full batch goes out at once; the rest waits for the next one', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  const service = new BatchSettlementService(chain, cosigners(quorum), { ...opts, flushMs: 60_000 }, silentLogger())
  const items = await Promise.all([1, 2, 3, 4, 5].map(async () => await item(quorum.slice(0, 1))))
  const first = items.slice(0, 4).map(async (i) => await service.submit(i))
  const records = await Promise.all(first)
  t.deepEqual(records.map((r) => r.receiptCount), [4, 4, 4, 4])
  const late = service.submit(items[4]!)
  t.is(service.queued, 1)
  await service.close() // close settles what is queued
  t.is((await late).batchId, 1)
})

test('a member that does not answer is a non-signer; the aggregate still verifies', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  const service = new BatchSettlementService(chain, cosigners(quorum, new Set([quorum[1]!.wallet.address])), opts, silentLogger())
  await service.submit(await item(quorum.slice(0, 2)))
  const { sig } = chain.submitted[0]!
  t.deepEqual(sig.nonSignerPks, [quorum[1]!.key.g1])
  await service.close()
})

test('a batch id taken by another settler meanwhile: rebuilt with the next id and re-signed', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  chain.stealNextId = 1
  const service = new BatchSettlementService(chain, cosigners(quorum), opts, silentLogger())
  const r = await service.submit(await item(quorum.slice(0, 1)))
  t.is(r.batchId, 1)
  t.is(chain.submitted.length, 1)
  await service.close()
})

test('a client whose deposit cannot cover its receipts is refused; the others settle', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  const poor = '0x' + 'd0'.repeat(20)
  chain.deposits.set(poor, 5n)
  const service = new BatchSettlementService(chain, cosigners(quorum), opts, silentLogger())
  const ok = service.submit(await item(quorum.slice(0, 1)))
  const refused = service.submit(await item(quorum.slice(0, 1), { client: poor, fee: 6n }))
  const err = await t.throwsAsync(refused)
  t.true(isVerimeshError(err, 'INSUFFICIENT_DEPOSIT'), err.message)
  t.is((await ok).receiptCount, 1)
  await service.close()
})

test('no co-signer at all: every item of the batch gets the error, none is dropped', async (t) => {
  const quorum = members(2)
  const chain = new FakeChain(quorum)
  const silent = new Set(quorum.map((m) => m.wallet.address))
  const service = new BatchSettlementService(chain, cosigners(quorum, silent), opts, silentLogger())
  const results = await Promise.allSettled([await item(quorum), await item(quorum)].map(async (i) => await service.submit(i)))
  for (const r of results) {
    t.is(r.status, 'rejected')
    t.true(isVerimeshError((r as PromiseRejectedResult).reason, 'QUORUM_UNAVAILABLE'))
  }
  t.is(chain.submitted.length, 0)
  await service.close()
})

test('bad items are refused at submission: forged attestation, duplicate request', async (t) => {
  const quorum = members(2)
  const service = new BatchSettlementService(new FakeChain(quorum), cosigners(quorum), { ...opts, flushMs: 60_000 }, silentLogger())
  const good = await item(quorum)
  const forged = structuredClone(good)
  forged.receipt.fee = '999999999'
  t.throws(() => { void service.submit(forged) }, { message: /different receipt/ })
  const queued = service.submit(good)
  await t.throwsAsync(service.submit(good), { message: /already queued/ })
  await service.close()
  t.is((await queued).receiptCount, 1)
})

test('a co-signer signs only the digest it rebuilt, for receipts attested by active validators', async (t) => {
  const quorum = members(3)
  const items = [await item(quorum.slice(0, 2)), await item(quorum.slice(1, 3), { executors: ['0x' + 'e3'.repeat(20), '0x' + 'e3'.repeat(20)] })]
  const batch = buildBatch({ batchId: 9n, epoch: 3n, chainId: BigInt(CHAIN_ID), settlement: SETTLEMENT, receipts: items.map((i) => leafOfItem(i)), split: SPLIT })
  const msg = { type: 'quorum.sign-batch' as const, chainId: CHAIN_ID, settlement: SETTLEMENT, batchId: 9, epoch: 3, items, digest: batch.digest }
  const me = quorum[0]!
  const signed = await new BatchCosigner(cosignerChain(), me.key, me.wallet.address).sign(msg)
  t.true(verify(batch.digest, me.key.g1, me.key.g2, [BigInt(signed.sigma[0]), BigInt(signed.sigma[1])]))

  await t.throwsAsync(new BatchCosigner(cosignerChain(), me.key, me.wallet.address).sign({ ...msg, digest: '0x' + '00'.repeat(32) }), { message: /different digest/ })
  await t.throwsAsync(new BatchCosigner(cosignerChain(), me.key, me.wallet.address).sign({ ...msg, batchId: 10 }), { message: /different digest/ })
  const inactive = quorum[2]!.wallet.address
  await t.throwsAsync(new BatchCosigner(cosignerChain((v) => v !== inactive), me.key, me.wallet.address).sign(msg), { message: /not active/ })
  await t.throwsAsync(new BatchCosigner(cosignerChain(), me.key, me.wallet.address).sign({ ...msg, settlement: '0x' + '99'.repeat(20) }), { message: /signs for/ })
  const withStatement = [{ ...items[0]!, proofStatement: '12345' }, items[1]!]
  await t.throwsAsync(new BatchCosigner(cosignerChain(), me.key, me.wallet.address).sign({ ...msg, items: withStatement }), { message: /proof statement/ })
})

test('settled batches are journalled; their payouts are claimed after the window, also by a restarted settler', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-journal-'))
  try {
    const quorum = members(3)
    const chain = new FakeChain(quorum)
    chain.deadlineIn = -5 // the window is already over when the batch lands
    const journal = new FileBatchJournal(dir)
    const first = new BatchSettlementService(chain, cosigners(quorum), { ...opts, autoClaim: false, journal }, silentLogger())
    const record = await first.submit(await item(quorum.slice(0, 2)))
    await first.close()
    const [file] = await readdir(dir)
    const entry = JSON.parse(await readFile(path.join(dir, file!), 'utf8')) as { batchId: string, receipts: Array<{ leafHash: string }>, payouts: Array<{ claimed: boolean }> }
    t.is(entry.batchId, '0')
    t.is(entry.receipts[0]!.leafHash, record.leafHash)
    t.true(entry.payouts.length > 0 && entry.payouts.every((p) => !p.claimed))
    t.is(chain.claims.length, 0, 'autoClaim off: nothing claimed')

    // A settler started on the same journal claims what is left, and records it.
    const second = new BatchSettlementService(chain, cosigners(quorum), { ...opts, autoClaim: true, journal }, silentLogger())
    for (let i = 0; i < 250 && journal.unclaimed(CHAIN_ID, SETTLEMENT).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    await second.close()
    t.is(chain.claims.length, entry.payouts.length)
    t.deepEqual(journal.unclaimed(CHAIN_ID, SETTLEMENT), [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a receipt is settled once: the settler refuses a replay, and a co-signer refuses it in a second batch', async (t) => {
  const quorum = members(3)
  const chain = new FakeChain(quorum)
  chain.stealNextId = 1 // the first attempt races: re-signing the same receipts under a new id is allowed
  const sign = cosignersOn(quorum, new Set(), cosignerChain(() => true, chain))
  const settler = new BatchSettlementService(chain, sign, opts, silentLogger())
  const it = await item(quorum.slice(0, 2))
  const record = await settler.submit(it)
  t.is(record.batchId, 1)
  await t.throwsAsync(settler.submit(it), { message: /already settled in batch 1/ })
  await settler.close()

  // Another settler (no memory of it) tries to settle the same receipt again: the
  // members that co-signed batch 1 check the chain and refuse.
  const other = new BatchSettlementService(chain, sign, opts, silentLogger())
  const err = await t.throwsAsync(other.submit(it))
  t.true(isVerimeshError(err, 'QUORUM_UNAVAILABLE'), err.message)
  t.regex(err.message, /already settled in batch 1/)
  t.is(chain.submitted.length, 1)
  await other.close()
})
