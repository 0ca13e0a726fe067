// Batched settlement: attested receipts wait in a queue until the batch is full or the
// flush timer fires; then the settler builds the batch, asks the epoch's quorum to
// co-sign it (BLS), aggregates what came back and posts one transaction for the lot.
// Every accepted item is answered: with its place on chain, or with the error that kept
// its batch off chain. Nothing is dropped silently.

import { getAddress } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { BatchItem, QuorumBatchSignatureMsg, QuorumSignBatchMsg, SettlementRecord } from '../../runtime/protocol/messages.js'
import { leafOfItem, type LeafReceipt } from '../../runtime/protocol/batch-item.js'
import { buildBatch, type Batch, type FeeSplit } from '../../runtime/chain/batch.js'
import { aggregateG1, aggregateG2, pkHash, verify, type G1Point, type G2Point } from '../../runtime/crypto/bls.js'
import type { Logger } from '../../runtime/node/logger.js'
import { journalEntryOf, type BatchJournal, type JournalEntry } from './batch-journal.js'

/** What the service needs from chain (runtime/chain contracts behind it; a fake in unit tests). */
export interface SettlerChain {
  readonly chainId: number
  readonly settlement: string
  currentEpoch: () => Promise<bigint>
  /** Commit the epoch's quorum when nobody has yet; resolves with its members. */
  quorumMembers: (epoch: bigint) => Promise<string[]>
  /** The registered G1 key of a member (the settler trusts no key a member sends). */
  memberKey: (operator: string) => Promise<G1Point>
  nextBatchId: () => Promise<bigint>
  feeSplit: () => Promise<FeeSplit>
  /** Deposit available to batches (excludes a pending withdrawal). */
  depositOf: (client: string) => Promise<bigint>
  submit: (batch: Batch, sig: AggregateSignature) => Promise<SubmittedBatch>
  claim: (batchId: bigint, account: string, kind: number, amount: bigint, proof: string[]) => Promise<void>
}

export interface AggregateSignature { nonSignerPks: G1Point[], apkG2: G2Point, sigma: G1Point }
export interface SubmittedBatch { batchId: bigint, txHash: string, blockNumber: number, gasUsed: bigint, challengeDeadline: number }

/** Ask one quorum member (by operator address) to co-sign. */
export type CosignRequester = (member: string, msg: QuorumSignBatchMsg) => Promise<QuorumBatchSignatureMsg>

export interface BatchServiceOptions {
  /** Most receipts in one batch. */
  maxBatch: number
  /** How long the first queued item waits for company before its batch goes out. */
  flushMs: number
  /** A batch whose id was taken by another settler meanwhile is rebuilt this many times. */
  maxAttempts: number
  /** Claim every payout of each batch once its challenge window has passed (the settler pays the gas). */
  autoClaim: boolean
  /** Where settled batches are kept (proofs, claims); absent: in memory only. */
  journal?: BatchJournal
}

interface Waiter {
  item: BatchItem
  leaf: LeafReceipt
  resolve: (r: SettlementRecord) => void
  reject: (e: VerimeshError) => void
}

/** Requests remembered as settled; beyond this the oldest are forgotten (co-signers check too). */
const REMEMBERED_REQUESTS = 200_000

/** Errors that mean "the batch id moved under us": rebuild with a fresh id and re-sign. */
const RACE_ERRORS = new Set(['InvalidQuorumSignature'])

export class BatchSettlementService {
  readonly #chain: SettlerChain
  readonly #cosign: CosignRequester
  readonly #opts: BatchServiceOptions
  readonly #logger: Logger
  #queue: Waiter[] = []
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> = Promise.resolve()
  #claimTimers = new Set<NodeJS.Timeout>()
  #claiming = new Set<Promise<void>>()
  /** Request id → the batch it settled in ('pending' while in flight): a replay is refused. */
  readonly #recent = new Map<string, number | 'pending'>()
  #closed = false

  constructor (chain: SettlerChain, cosign: CosignRequester, opts: BatchServiceOptions, logger: Logger) {
    this.#chain = chain
    this.#cosign = cosign
    this.#opts = opts
    this.#logger = logger
    // Batches settled before a restart still have their payouts claimed.
    if (opts.autoClaim && opts.journal !== undefined) {
      for (const e of opts.journal.unclaimed(chain.chainId, chain.settlement)) this.#scheduleClaims(e)
    }
  }

  get queued (): number {
    return this.#queue.length
  }

  /** Queue an attested receipt; resolves once its batch is on chain. Throws at once on a bad item. */
  submit (item: BatchItem): Promise<SettlementRecord> {
    if (this.#closed) return Promise.reject(new VerimeshError('SETTLEMENT_FAILED', 'the settler is stopping'))
    const leaf = leafOfItem(item)
    const id = leaf.requestId.toLowerCase()
    const seen = this.#recent.get(id)
    if (seen !== undefined) {
      return Promise.reject(new VerimeshError('RECEIPT_INVALID', seen === 'pending'
        ? `request ${id} is already queued for settlement`
        : `request ${id} was already settled in batch ${seen}`, { requestId: id, ...(seen === 'pending' ? {} : { batchId: seen }) }))
    }
    this.#remember(id, 'pending')
    return new Promise<SettlementRecord>((resolve, reject) => {
      // A refused item may be submitted again (a client topping up its deposit).
      const refuse = (e: VerimeshError): void => { this.#recent.delete(id); reject(e) }
      this.#queue.push({ item, leaf, resolve, reject: refuse })
      if (this.#queue.length >= this.#opts.maxBatch) this.#flushSoon(0)
      else this.#flushSoon(this.#opts.flushMs)
    })
  }

  #flushSoon (delayMs: number): void {
    if (delayMs > 0 && this.#timer !== undefined) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const take = this.#queue.splice(0, this.#opts.maxBatch)
      if (take.length === 0) return
      // One batch at a time: each reads the next batch id, so two in flight would collide.
      this.#running = this.#running.then(async () => { await this.#settle(take) })
      if (this.#queue.length > 0) this.#flushSoon(this.#opts.flushMs)
    }, delayMs)
  }

  async #settle (waiters: Waiter[]): Promise<void> {
    let pending = await this.#dropUnfunded(waiters)
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        const { batch, submitted, signers, members } = await this.#settleOnce(pending)
        this.#logger.info({ batchId: String(submitted.batchId), receipts: batch.receipts.length, signers, members, txHash: submitted.txHash, gasUsed: String(submitted.gasUsed) }, 'batch settled')
        this.#answer(pending, batch, submitted)
        const entry = journalEntryOf(batch, { chainId: this.#chain.chainId, settlement: this.#chain.settlement, ...submitted })
        this.#journal(entry)
        if (this.#opts.autoClaim) this.#scheduleClaims(entry)
        return
      } catch (err) {
        const e = VerimeshError.from(err, 'SETTLEMENT_FAILED')
        const raced = RACE_ERRORS.has(String(e.context.error ?? ''))
        if (raced && attempt < this.#opts.maxAttempts) {
          this.#logger.warn({ attempt, err: e.message }, 'batch id taken meanwhile, rebuilding the batch')
          pending = await this.#dropUnfunded(pending)
          continue
        }
        this.#logger.warn({ code: e.code, err: e.message, receipts: pending.length }, 'batch not settled')
        for (const w of pending) w.reject(e)
        return
      }
    }
  }

  /** Refuse, with a precise error, the items of clients whose deposits cannot cover them. */
  async #dropUnfunded (waiters: Waiter[]): Promise<Waiter[]> {
    const owed = new Map<string, bigint>()
    for (const w of waiters) owed.set(w.leaf.client, (owed.get(w.leaf.client) ?? 0n) + w.leaf.fee)
    const short = new Map<string, { have: bigint, need: bigint }>()
    try {
      await Promise.all([...owed].map(async ([client, need]) => {
        const have = await this.#chain.depositOf(client)
        if (have < need) short.set(client, { have, need })
      }))
    } catch (err) {
      const e = VerimeshError.from(err, 'CHAIN_ERROR')
      for (const w of waiters) w.reject(e)
      return []
    }
    const kept: Waiter[] = []
    for (const w of waiters) {
      const s = short.get(w.leaf.client)
      if (s === undefined) { kept.push(w); continue }
      w.reject(new VerimeshError('INSUFFICIENT_DEPOSIT', `client ${w.leaf.client} has ${s.have} deposited, its receipts in this batch cost ${s.need}`, {
        client: w.leaf.client, have: String(s.have), need: String(s.need), requestId: w.leaf.requestId
      }))
    }
    return kept
  }

  async #settleOnce (waiters: Waiter[]): Promise<{ batch: Batch, submitted: SubmittedBatch, signers: number, members: number }> {
    const chain = this.#chain
    const epoch = await chain.currentEpoch()
    const [members, batchId, split] = await Promise.all([chain.quorumMembers(epoch), chain.nextBatchId(), chain.feeSplit()])
    const batch = buildBatch({ batchId, epoch, chainId: BigInt(chain.chainId), settlement: chain.settlement, receipts: waiters.map((w) => w.leaf), split })
    const msg: QuorumSignBatchMsg = {
      type: 'quorum.sign-batch',
      chainId: chain.chainId,
      settlement: getAddress(chain.settlement),
      batchId: Number(batchId),
      epoch: Number(epoch),
      items: waiters.map((w) => w.item),
      digest: batch.digest
    }
    const answers = await Promise.allSettled(members.map(async (m) => {
      const reply = await this.#cosign(m, msg)
      return await this.#checkSignature(m, reply, batch.digest)
    }))
    const signed: Array<{ member: string, pk: G1Point, pkG2: G2Point, sigma: G1Point }> = []
    const nonSigners: G1Point[] = []
    const refusals: string[] = []
    for (let i = 0; i < members.length; i++) {
      const a = answers[i]!
      if (a.status === 'fulfilled') signed.push(a.value)
      else {
        refusals.push(`${members[i]}: ${(a.reason as Error).message}`)
        nonSigners.push(await chain.memberKey(members[i]!))
      }
    }
    if (signed.length === 0) {
      throw new VerimeshError('QUORUM_UNAVAILABLE', `no member of epoch ${epoch}'s quorum co-signed the batch: ${refusals.join('; ')}`, { epoch: String(epoch), batchId: String(batchId), refusals })
    }
    if (refusals.length > 0) this.#logger.warn({ batchId: String(batchId), refusals }, 'some quorum members did not co-sign')
    const sig: AggregateSignature = {
      nonSignerPks: nonSigners.sort((a, b) => (pkHash(a) < pkHash(b) ? -1 : 1)),
      apkG2: aggregateG2(signed.map((s) => s.pkG2)),
      sigma: aggregateG1(signed.map((s) => s.sigma))
    }
    // The contract checks stake (>= 2/3) and the pairing; a shortfall comes back as its custom error.
    const submitted = await chain.submit(batch, sig)
    if (submitted.batchId !== batchId) {
      throw new VerimeshError('INTERNAL', `settled as batch ${submitted.batchId}, built as ${batchId}`, { built: String(batchId), settled: String(submitted.batchId) })
    }
    return { batch, submitted, signers: signed.length, members: members.length }
  }

  /** A member's signature must verify under its registered key before it joins the aggregate. */
  async #checkSignature (member: string, reply: QuorumBatchSignatureMsg, digest: string): Promise<{ member: string, pk: G1Point, pkG2: G2Point, sigma: G1Point }> {
    if (getAddress(reply.validator) !== getAddress(member)) {
      throw new VerimeshError('BAD_SIGNATURE', `asked ${member}, answered by ${reply.validator}`, { member })
    }
    if (reply.digest.toLowerCase() !== digest) {
      throw new VerimeshError('VERIFICATION_FAILED', `member signed digest ${reply.digest}, the batch's is ${digest}`, { member })
    }
    const pk = await this.#chain.memberKey(member)
    const sentPk: G1Point = [BigInt(reply.pkG1[0]), BigInt(reply.pkG1[1])]
    if (sentPk[0] !== pk[0] || sentPk[1] !== pk[1]) {
      throw new VerimeshError('BAD_SIGNATURE', `member ${member} signed with a key that is not its registered one`, { member })
    }
    const pkG2 = reply.pkG2.map((v) => BigInt(v)) as G2Point
    const sigma: G1Point = [BigInt(reply.sigma[0]), BigInt(reply.sigma[1])]
    let ok = false
    try { ok = verify(digest, pk, pkG2, sigma) } catch { ok = false }
    if (!ok) throw new VerimeshError('BAD_SIGNATURE', `member ${member}'s batch signature does not verify`, { member })
    return { member, pk, pkG2, sigma }
  }

  #remember (requestId: string, state: number | 'pending'): void {
    this.#recent.delete(requestId)
    this.#recent.set(requestId, state)
    if (this.#recent.size > REMEMBERED_REQUESTS) this.#recent.delete(this.#recent.keys().next().value!)
  }

  #answer (waiters: Waiter[], batch: Batch, s: SubmittedBatch): void {
    const index = new Map(batch.receipts.map((r, i) => [r.requestId.toLowerCase(), i]))
    for (const w of waiters) {
      this.#remember(w.leaf.requestId.toLowerCase(), Number(s.batchId))
      const i = index.get(w.leaf.requestId.toLowerCase())!
      w.resolve({
        chainId: this.#chain.chainId,
        contract: getAddress(this.#chain.settlement),
        batchId: Number(s.batchId),
        epoch: Number(batch.header.epoch),
        receiptIndex: i,
        receiptCount: batch.receipts.length,
        leafHash: batch.receiptLeafHash(i),
        receiptsRoot: batch.header.receiptsRoot,
        txHash: s.txHash,
        blockNumber: s.blockNumber,
        gasUsed: s.gasUsed.toString(),
        challengeDeadline: s.challengeDeadline
      })
    }
  }

  #journal (entry: JournalEntry): void {
    try {
      this.#opts.journal?.save(entry)
    } catch (err) {
      // The batch is on chain either way; losing its proofs costs only later claims.
      this.#logger.error({ batchId: entry.batchId, err: (err as Error).message }, 'batch journal not written')
    }
  }

  #scheduleClaims (entry: JournalEntry): void {
    if (entry.payouts.every((p) => p.claimed)) return
    // One second past the deadline: the block that includes the claim must be later than it.
    const delay = Math.max(0, (entry.challengeDeadline + 1) * 1000 - Date.now())
    const timer = setTimeout(() => {
      this.#claimTimers.delete(timer)
      const run = this.#claimAll(entry).finally(() => this.#claiming.delete(run))
      this.#claiming.add(run)
    }, Math.min(delay, 2 ** 31 - 1))
    timer.unref()
    this.#claimTimers.add(timer)
  }

  async #claimAll (entry: JournalEntry): Promise<void> {
    const batchId = BigInt(entry.batchId)
    for (const p of entry.payouts) {
      if (this.#closed) return
      if (p.claimed) continue
      try {
        await this.#chain.claim(batchId, p.account, p.kind, BigInt(p.amount), p.proof)
        p.claimed = true
        this.#logger.info({ batchId: entry.batchId, account: p.account, kind: p.kind, amount: p.amount }, 'payout claimed')
      } catch (err) {
        const e = VerimeshError.from(err, 'SETTLEMENT_FAILED')
        // Claimed by its owner already: nothing left to do for it.
        if (e.context.error === 'AlreadyClaimed') p.claimed = true
        this.#logger.info({ batchId: entry.batchId, account: p.account, err: e.message }, 'payout not claimed by the settler')
      }
    }
    this.#journal(entry)
  }

  /** Settle what is queued now, then stop taking work. */
  async close (): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      const take = this.#queue.splice(0)
      if (take.length > 0) this.#running = this.#running.then(async () => { await this.#settle(take) })
    }
    this.#closed = true
    for (const t of this.#claimTimers) clearTimeout(t)
    this.#claimTimers.clear()
    await this.#running
    // A claim round stops at its next payout and journals what it did.
    await Promise.all([...this.#claiming])
  }
}
