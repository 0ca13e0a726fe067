// Transaction sender for long-running submitters (the settler).
//
// What a bare `contract.method(...)` + `tx.wait()` does not survive, and this
// does:
//  - a flaky endpoint: estimation, fee reads, broadcasts and receipt polls are
//    retried with exponential backoff and jitter on transient failures
//    (network errors, timeouts, 5xx, rate limits), never on reverts;
//  - an ambiguous broadcast (the request failed after it may have reached the
//    node): the transaction is signed once with a fixed nonce, so retrying
//    re-sends the same bytes, and "already known" / "nonce too low" for our
//    own hash count as accepted instead of sending the payload twice;
//  - a dropped or stuck transaction: when no receipt shows up within
//    `resendAfterMs`, it is re-signed with the SAME nonce and fees bumped by
//    at least 12.5% (geth wants 10%, other clients 12.5%), and every hash
//    sent for that nonce is watched until one is mined;
//  - reorgs shallower than `confirmations`: the receipt is re-read before
//    resolving.
// Nonces come from the signer's SignerQueue, so transactions sent through
// here and through other clients of the same key in this process never race.
import {
  Transaction, TransactionResponse, isError, keccak256,
  type BaseContract, type Provider, type Signer, type TransactionReceipt, type TransactionRequest
} from 'ethers'

import { VerimeshError } from '../errors.js'
import { SignerQueue } from './nonce-manager.js'
import { RevertError, chainFailure, decodeRevert, isRevert } from './revert.js'

export interface TxRequest {
  /** Recipient; omit (or null) to deploy `data` as init code. */
  to?: string | null
  data?: string
  value?: bigint
  /** Skip estimation and use this limit. */
  gasLimit?: bigint
  /** Shown in events and errors, e.g. "BatchSettlement.settle(batch 7)". */
  label?: string
}

export interface TxResult {
  txHash: string
  blockNumber: number
  gasUsed: bigint
  /** Blocks on top of (and including) the one that mined it when this resolved. */
  confirmations: number
  nonce: number
  /** Distinct signed transactions sent for this nonce (1 unless re-sent). */
  transactions: number
  receipt: TransactionReceipt
}

export type TxStage = 'estimateGas' | 'feeData' | 'broadcast' | 'receipt' | 'nonce'

export type TxEvent =
  | { type: 'submitted', id: number, label: string, txHash: string, nonce: number, maxFeePerGas: bigint, replacement: number }
  | { type: 'retry', id: number, label: string, stage: TxStage, attempt: number, delayMs: number, error: string }
  | { type: 'resend', id: number, label: string, nonce: number, reason: 'dropped' | 'stuck' | 'underpriced', previous: string }
  | { type: 'mined', id: number, label: string, txHash: string, blockNumber: number, gasUsed: bigint, status: number }
  | { type: 'confirmed', id: number, label: string, txHash: string, blockNumber: number, confirmations: number }
  | { type: 'failed', id: number, label: string, error: VerimeshError }

export interface TxSenderOptions {
  /** Blocks (including the mining one) before send() resolves; default 1. */
  confirmations?: number
  /** Transactions between send() and resolution at once; later ones wait. Default 8. */
  maxInFlight?: number
  /** Attempts per step on transient failures (first try included); default 6. */
  maxAttempts?: number
  /** First backoff delay; doubles per attempt up to maxDelayMs. Defaults 200 / 8000 ms. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** Fraction of each delay that is randomised (0 = none, 1 = full jitter); default 0.5. */
  jitter?: number
  /** Receipt and head polling period; default 250 ms. */
  pollIntervalMs?: number
  /** Re-send with bumped fees when no receipt after this long; default 30 s. */
  resendAfterMs?: number
  /** Re-sends per nonce before giving up; default 5. */
  maxResends?: number
  /** Fee increase per re-send, percent; values under 12.5 are raised to 12.5. */
  feeBumpPercent?: number
  /** Added to the estimate, percent; default 20. */
  gasLimitBufferPercent?: number
  /** Give up on one transaction after this long; default 10 min. */
  timeoutMs?: number
  onEvent?: (event: TxEvent) => void
  /** Randomness for jitter (tests pin it). */
  random?: () => number
}

const MIN_BUMP_PERCENT = 12.5

interface Fees { maxFeePerGas: bigint, maxPriorityFeePerGas: bigint, legacy: boolean }

export type ErrorClass = 'revert' | 'nonce' | 'underpriced' | 'known' | 'transient' | 'fatal'

const TRANSIENT_CODES = new Set(['NETWORK_ERROR', 'SERVER_ERROR', 'TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNABORTED'])
const TRANSIENT_MESSAGE = /timeout|timed out|socket hang up|econnreset|econnrefused|fetch failed|network error|rate limit|too many requests|header not found|temporarily unavailable|\b50[234]\b|\b429\b/i

/** Messages and codes of `err` and everything it wraps. */
function chain (err: unknown): Array<{ code?: unknown, message?: unknown }> {
  const out: Array<{ code?: unknown, message?: unknown }> = []
  const seen = new Set<unknown>()
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 6) return
    seen.add(v)
    const o = v as Record<string, unknown>
    out.push({ code: o.code, message: o.message ?? o.shortMessage })
    for (const k of ['error', 'cause', 'info']) walk(o[k], depth + 1)
  }
  walk(err, 0)
  return out
}

/** How the sender treats a failure. Exported for tests. */
export function classifyError (err: unknown): ErrorClass {
  if (err instanceof RevertError || isRevert(err)) return 'revert'
  if (err instanceof VerimeshError) return 'fatal'
  if (isError(err, 'NONCE_EXPIRED')) return 'nonce'
  if (isError(err, 'REPLACEMENT_UNDERPRICED')) return 'underpriced'
  if (isError(err, 'INSUFFICIENT_FUNDS') || isError(err, 'INVALID_ARGUMENT')) return 'fatal'
  const links = chain(err)
  const text = links.map((l) => typeof l.message === 'string' ? l.message : '').join(' | ')
  if (/already known|known transaction/i.test(text)) return 'known'
  if (/nonce too low|nonce has already been used/i.test(text)) return 'nonce'
  if (/replacement transaction underpriced|transaction underpriced/i.test(text)) return 'underpriced'
  if (links.some((l) => typeof l.code === 'string' && TRANSIENT_CODES.has(l.code))) return 'transient'
  if (links.some((l) => l.code === -32005 || l.code === 429)) return 'transient'
  if (TRANSIENT_MESSAGE.test(text)) return 'transient'
  return 'fatal'
}

/** Delay before retry `attempt` (1-based). Exported for tests. */
export function backoffDelay (attempt: number, opts: { baseDelayMs: number, maxDelayMs: number, jitter: number }, random: () => number = Math.random): number {
  const d = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, attempt - 1))
  const j = Math.min(1, Math.max(0, opts.jitter))
  return Math.round(d * (1 - j) + d * j * random())
}

/** Fees raised by `percent` (rounded up), and never below what the market asks now. */
export function bumpFees (old: Fees, market: Fees, percent: number): Fees {
  const p = BigInt(Math.ceil(Math.max(percent, MIN_BUMP_PERCENT) * 100))
  const up = (v: bigint): bigint => (v * (10_000n + p) + 9_999n) / 10_000n
  const max = (a: bigint, b: bigint): bigint => a > b ? a : b
  const maxPriorityFeePerGas = max(up(old.maxPriorityFeePerGas), market.maxPriorityFeePerGas)
  const maxFeePerGas = max(max(up(old.maxFeePerGas), market.maxFeePerGas), maxPriorityFeePerGas)
  return { maxFeePerGas, maxPriorityFeePerGas, legacy: old.legacy }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Counting semaphore: FIFO waiters. */
class Slots {
  private used = 0
  private readonly waiters: Array<() => void> = []
  constructor (private readonly size: number) {}
  get inUse (): number { return this.used }
  get waiting (): number { return this.waiters.length }
  async acquire (): Promise<void> {
    if (this.used < this.size) { this.used++; return }
    await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  release (): void {
    const next = this.waiters.shift()
    if (next !== undefined) next()
    else this.used--
  }
}

interface Tracking { id: number, label: string, req: TxRequest, call: TransactionRequest, nonce: number, gasLimit: bigint, fees: Fees, sent: string[], lastSentAt: number, resends: number }

export class TxSender {
  private readonly opts: Required<Omit<TxSenderOptions, 'onEvent'>> & Pick<TxSenderOptions, 'onEvent'>
  private readonly slots: Slots
  private seq = 0

  private constructor (readonly signer: Signer, readonly address: string, private readonly provider: Provider, private readonly queue: SignerQueue, private readonly chainId: bigint, opts: TxSenderOptions) {
    this.opts = {
      confirmations: opts.confirmations ?? 1,
      maxInFlight: opts.maxInFlight ?? 8,
      maxAttempts: opts.maxAttempts ?? 6,
      baseDelayMs: opts.baseDelayMs ?? 200,
      maxDelayMs: opts.maxDelayMs ?? 8000,
      jitter: opts.jitter ?? 0.5,
      pollIntervalMs: opts.pollIntervalMs ?? 250,
      resendAfterMs: opts.resendAfterMs ?? 30_000,
      maxResends: opts.maxResends ?? 5,
      feeBumpPercent: Math.max(MIN_BUMP_PERCENT, opts.feeBumpPercent ?? MIN_BUMP_PERCENT),
      gasLimitBufferPercent: opts.gasLimitBufferPercent ?? 20,
      timeoutMs: opts.timeoutMs ?? 600_000,
      random: opts.random ?? Math.random,
      onEvent: opts.onEvent
    }
    for (const k of ['confirmations', 'maxInFlight', 'maxAttempts'] as const) {
      if (!Number.isInteger(this.opts[k]) || this.opts[k] < 1) throw new VerimeshError('CONFIG_INVALID', `TxSender: ${k} must be an integer >= 1`, { [k]: this.opts[k] })
    }
    this.slots = new Slots(this.opts.maxInFlight)
  }

  /** A sender for `signer`, which must be able to sign transactions locally (a Wallet, not a JsonRpcSigner). */
  static async create (signer: Signer, opts: TxSenderOptions = {}): Promise<TxSender> {
    const provider = signer.provider
    if (provider === null) throw new VerimeshError('CONFIG_INVALID', 'TxSender: the signer has no provider')
    const queue = await SignerQueue.for(signer)
    const { chainId } = await provider.getNetwork()
    return new TxSender(signer, await signer.getAddress(), provider, queue, chainId, opts)
  }

  /** Transactions between send() and resolution now. */
  get inFlight (): number { return this.slots.inUse }
  /** send() calls waiting for an in-flight slot. */
  get waiting (): number { return this.slots.waiting }

  /** Call `method` on `contract` (encoded with its ABI) as a transaction. */
  async sendCall (contract: BaseContract, method: string, args: readonly unknown[], extra: Omit<TxRequest, 'to' | 'data'> = {}): Promise<TxResult> {
    const data = contract.interface.encodeFunctionData(method, [...args])
    return await this.send({ ...extra, to: await contract.getAddress(), data, label: extra.label ?? method })
  }

  /**
   * Send one transaction and resolve once it has `confirmations` blocks.
   * Rejects with RevertError (decoded custom error) when it reverts, at
   * estimation or mined; with CHAIN_ERROR when retries are exhausted or the
   * nonce was taken by a transaction that is not ours; with
   * DEADLINE_EXCEEDED after `timeoutMs`.
   */
  async send (req: TxRequest): Promise<TxResult> {
    const id = ++this.seq
    const label = req.label ?? (req.to == null ? 'deploy' : `call ${req.to}`)
    await this.slots.acquire()
    try {
      return await this.run(id, label, req)
    } catch (err) {
      const error = chainFailure(label, err, { from: this.address, to: req.to ?? null })
      this.emit({ type: 'failed', id, label, error })
      throw error
    } finally {
      this.slots.release()
    }
  }

  private emit (e: TxEvent): void {
    try { this.opts.onEvent?.(e) } catch { /* a metrics hook must not break sending */ }
  }

  /** Run `fn`, retrying transient failures with backoff. Anything else is thrown as is. */
  private async retrying<T> (id: number, label: string, stage: TxStage, deadline: number, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        if (classifyError(err) !== 'transient' || attempt >= this.opts.maxAttempts) throw err
        const delayMs = backoffDelay(attempt, this.opts, this.opts.random)
        if (Date.now() + delayMs > deadline) throw err
        this.emit({ type: 'retry', id, label, stage, attempt, delayMs, error: errorText(err) })
        await sleep(delayMs)
      }
    }
  }

  private async marketFees (): Promise<Fees> {
    const f = await this.provider.getFeeData()
    if (f.maxFeePerGas !== null && f.maxPriorityFeePerGas !== null) return { maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas, legacy: false }
    if (f.gasPrice !== null) return { maxFeePerGas: f.gasPrice, maxPriorityFeePerGas: f.gasPrice, legacy: true }
    throw new VerimeshError('CHAIN_ERROR', 'the node reports no fee data', {})
  }

  private async run (id: number, label: string, req: TxRequest): Promise<TxResult> {
    const deadline = Date.now() + this.opts.timeoutMs
    const call: TransactionRequest = { from: this.address, to: req.to ?? null, data: req.data ?? '0x', value: req.value ?? 0n }
    let gasLimit = req.gasLimit
    if (gasLimit === undefined) {
      const estimate = await this.retrying(id, label, 'estimateGas', deadline, async () => await this.provider.estimateGas(call))
      gasLimit = estimate * BigInt(100 + this.opts.gasLimitBufferPercent) / 100n
    }
    const fees = await this.retrying(id, label, 'feeData', deadline, async () => await this.marketFees())
    const t: Tracking = { id, label, req, call, nonce: -1, gasLimit, fees, sent: [], lastSentAt: 0, resends: 0 }
    await this.queue.send(async (nonce) => {
      t.nonce = nonce
      t.sent = []
      const response = await this.broadcast(t, deadline, false)
      if (response === undefined) throw new VerimeshError('INTERNAL', 'first broadcast accepted without a transaction', { nonce })
      return response
    })
    const receipt = await this.track(t, deadline)
    return await this.confirm(t, receipt, deadline)
  }

  private async sign (t: Tracking): Promise<string> {
    const req = t.req
    const tx: TransactionRequest = {
      chainId: this.chainId,
      nonce: t.nonce,
      to: req.to ?? null,
      data: req.data ?? '0x',
      value: req.value ?? 0n,
      gasLimit: t.gasLimit,
      ...(t.fees.legacy
        ? { type: 0, gasPrice: t.fees.maxFeePerGas }
        : { type: 2, maxFeePerGas: t.fees.maxFeePerGas, maxPriorityFeePerGas: t.fees.maxPriorityFeePerGas })
    }
    return await this.signer.signTransaction(tx)
  }

  private async known (hash: string): Promise<boolean> {
    try {
      return (await this.provider.getTransaction(hash)) !== null
    } catch {
      return false
    }
  }

  /**
   * Sign with t.nonce and t.fees and broadcast until the node has it.
   * `replacing`: a re-send for a nonce already in use by our earlier hashes,
   * where "nonce too low" means one of them was mined (not an error here).
   */
  private async broadcast (t: Tracking, deadline: number, replacing: boolean): Promise<TransactionResponse | undefined> {
    let signed = await this.sign(t)
    for (let attempt = 1; ; attempt++) {
      const hash = keccak256(signed)
      try {
        await this.provider.broadcastTransaction(signed)
        return this.accepted(t, signed, hash)
      } catch (err) {
        const kind = classifyError(err)
        if (kind === 'known') return this.accepted(t, signed, hash)
        if (kind === 'nonce') {
          // Our own bytes may have landed on an earlier try whose answer was lost.
          if (await this.known(hash)) return this.accepted(t, signed, hash)
          if (replacing) return undefined
          throw err // SignerQueue resyncs and calls us again with a fresh nonce
        }
        if (kind === 'underpriced' && attempt < this.opts.maxAttempts) {
          t.fees = bumpFees(t.fees, await this.marketFees().catch(() => t.fees), this.opts.feeBumpPercent)
          this.emit({ type: 'resend', id: t.id, label: t.label, nonce: t.nonce, reason: 'underpriced', previous: hash })
          signed = await this.sign(t)
          continue
        }
        if (kind !== 'transient' || attempt >= this.opts.maxAttempts) throw err
        if (await this.known(hash)) return this.accepted(t, signed, hash)
        const delayMs = backoffDelay(attempt, this.opts, this.opts.random)
        if (Date.now() + delayMs > deadline) throw err
        this.emit({ type: 'retry', id: t.id, label: t.label, stage: 'broadcast', attempt, delayMs, error: errorText(err) })
        await sleep(delayMs)
      }
    }
  }

  private accepted (t: Tracking, signed: string, hash: string): TransactionResponse {
    t.lastSentAt = Date.now()
    if (!t.sent.includes(hash)) t.sent.push(hash)
    this.emit({ type: 'submitted', id: t.id, label: t.label, txHash: hash, nonce: t.nonce, maxFeePerGas: t.fees.maxFeePerGas, replacement: t.sent.length - 1 })
    return new TransactionResponse(responseParams(Transaction.from(signed)), this.provider)
  }

  private async receiptOfAny (t: Tracking, deadline: number): Promise<TransactionReceipt | null> {
    for (const hash of [...t.sent].reverse()) {
      const r = await this.retrying(t.id, t.label, 'receipt', deadline, async () => await this.provider.getTransactionReceipt(hash))
      if (r !== null) return r
    }
    return null
  }

  /** Wait for any of our hashes for t.nonce to be mined; re-send when dropped or stuck. */
  private async track (t: Tracking, deadline: number): Promise<TransactionReceipt> {
    for (;;) {
      const receipt = await this.receiptOfAny(t, deadline)
      if (receipt !== null) {
        this.emit({ type: 'mined', id: t.id, label: t.label, txHash: receipt.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, status: receipt.status ?? 1 })
        if (receipt.status === 0) throw await this.minedRevert(t, receipt)
        return receipt
      }
      if (Date.now() > deadline) {
        throw new VerimeshError('DEADLINE_EXCEEDED', `${t.label}: not mined within ${this.opts.timeoutMs} ms`, { nonce: t.nonce, sent: t.sent })
      }
      if (Date.now() - t.lastSentAt >= this.opts.resendAfterMs) await this.resend(t, deadline)
      await sleep(this.opts.pollIntervalMs)
    }
  }

  private async resend (t: Tracking, deadline: number): Promise<void> {
    const mined = await this.retrying(t.id, t.label, 'nonce', deadline, async () => await this.provider.getTransactionCount(this.address, 'latest'))
    if (mined > t.nonce) {
      // The nonce is used. If none of our hashes has a receipt (read again:
      // it may have landed since the last poll), someone else's did.
      if (await this.receiptOfAny(t, deadline) !== null) return
      throw new VerimeshError('CHAIN_ERROR', `${t.label}: nonce ${t.nonce} was used by a transaction that is not ours`, { nonce: t.nonce, sent: t.sent, replaced: true })
    }
    if (t.resends >= this.opts.maxResends) {
      throw new VerimeshError('CHAIN_ERROR', `${t.label}: not mined after ${t.resends} re-sends with higher fees`, { nonce: t.nonce, sent: t.sent })
    }
    const previous = t.sent[t.sent.length - 1] ?? ''
    const reason = await this.known(previous) ? 'stuck' : 'dropped'
    t.resends++
    t.fees = bumpFees(t.fees, await this.marketFees().catch(() => t.fees), this.opts.feeBumpPercent)
    this.emit({ type: 'resend', id: t.id, label: t.label, nonce: t.nonce, reason, previous })
    // undefined: the nonce got mined meanwhile; the next poll finds which hash.
    await this.broadcast(t, deadline, true)
    t.lastSentAt = Date.now()
  }

  /** A mined revert: replay the call on the state before its block to learn the custom error. */
  private async minedRevert (t: Tracking, receipt: TransactionReceipt): Promise<VerimeshError> {
    let reason: unknown
    try {
      await this.provider.call({ ...t.call, gasLimit: t.gasLimit, blockTag: receipt.blockNumber - 1 })
    } catch (err) {
      reason = err
    }
    const context = { txHash: receipt.hash, blockNumber: receipt.blockNumber, nonce: t.nonce }
    return new RevertError(t.label, reason !== undefined ? decodeRevert(reason) : undefined, context, reason)
  }

  private async confirm (t: Tracking, receipt: TransactionReceipt, deadline: number): Promise<TxResult> {
    let current = receipt
    for (;;) {
      const head = await this.retrying(t.id, t.label, 'receipt', deadline, async () => await this.provider.getBlockNumber())
      const confirmations = head - current.blockNumber + 1
      if (confirmations >= this.opts.confirmations) {
        // Re-read: a reorg may have moved or dropped it since we saw it.
        const again = await this.receiptOfAny(t, deadline)
        if (again === null) {
          current = await this.track(t, deadline)
          continue
        }
        if (again.blockHash !== current.blockHash) { current = again; continue }
        this.emit({ type: 'confirmed', id: t.id, label: t.label, txHash: again.hash, blockNumber: again.blockNumber, confirmations })
        return { txHash: again.hash, blockNumber: again.blockNumber, gasUsed: again.gasUsed, confirmations, nonce: t.nonce, transactions: t.sent.length, receipt: again }
      }
      if (Date.now() > deadline) {
        throw new VerimeshError('DEADLINE_EXCEEDED', `${t.label}: ${confirmations}/${this.opts.confirmations} confirmations within ${this.opts.timeoutMs} ms`, { txHash: current.hash, nonce: t.nonce })
      }
      await sleep(this.opts.pollIntervalMs)
    }
  }
}

function errorText (err: unknown): string {
  return (err as { shortMessage?: string } | undefined)?.shortMessage ?? (err instanceof Error ? err.message : String(err))
}

function responseParams (tx: Transaction): ConstructorParameters<typeof TransactionResponse>[0] {
  return {
    blockNumber: null,
    blockHash: null,
    hash: tx.hash as string,
    index: 0,
    type: tx.type ?? 2,
    to: tx.to,
    from: tx.from as string,
    nonce: tx.nonce,
    gasLimit: tx.gasLimit,
    gasPrice: tx.gasPrice ?? tx.maxFeePerGas ?? 0n,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    maxFeePerGas: tx.maxFeePerGas,
    maxFeePerBlobGas: null,
    data: tx.data,
    value: tx.value,
    chainId: tx.chainId,
    signature: tx.signature as NonNullable<Transaction['signature']>,
    accessList: tx.accessList,
    blobVersionedHashes: null,
    authorizationList: null
  }
}
