// A settlement batch as BatchSettlement.sol takes it: the receipts tree, the
// per-client debits, the payouts tree and the digest the epoch's quorum signs.
//
// Determinism: receipts are sorted by requestId (duplicates refused), debits by
// client address, payouts by (kind, account), so the same receipts in any order
// give the same roots and the same digest: every quorum member can rebuild the
// batch it is asked to sign from the receipts alone.
//
// Payouts: the contract splits the batch total into treasury = total·t/10⁴,
// validatorPool = total·v/10⁴, operatorPool = the rest. Each pool is shared out
// in proportion to the fees of the receipts an account worked on, a receipt's
// share split evenly among its operators (or validators); the integer rounding
// follows the largest-remainder rule (ties to the lower address), so the payouts
// of each kind sum to their pool exactly and nothing is stranded in the contract.
import { AbiCoder, getAddress, keccak256, toUtf8Bytes } from 'ethers'

import { VerimeshError } from '../errors.js'
import {
  normaliseReceipt, payoutTree, PayoutKind, receiptLeafHash, receiptTree,
  type PayoutTree, type ReceiptFields, type ReceiptTree
} from './merkle.js'

export { PayoutKind, type ReceiptFields } from './merkle.js'

export const BATCH_TYPEHASH = keccak256(toUtf8Bytes('verimesh.batch.v1'))
const BPS = 10_000n
/** BatchSettlement stores each debit in 96 bits. */
export const MAX_DEBIT = (1n << 96n) - 1n

/** A receipt and who earned its fee: every operator that executed a shard, every attesting validator. */
export interface BatchReceipt extends ReceiptFields {
  operators: string[]
  validators: string[]
}

export interface FeeSplit { operatorBps: number, validatorBps: number, treasuryBps: number }

export interface BatchHeader { epoch: bigint, receiptsRoot: string, receiptCount: number, payoutsRoot: string }
export interface Debit { client: string, amount: bigint }
export interface Payout { account: string, kind: PayoutKind, amount: bigint }
export interface Pools { total: bigint, operatorPool: bigint, validatorPool: bigint, treasuryShare: bigint }

export interface BuildBatchInput {
  batchId: bigint
  epoch: bigint
  chainId: bigint
  /** The BatchSettlement address (part of the digest). */
  settlement: string
  receipts: readonly BatchReceipt[]
  split: FeeSplit
}

export interface Batch {
  batchId: bigint
  header: BatchHeader
  /** Receipts sorted by requestId; receiptProof(i) and receiptLeafHash(i) index into this. */
  receipts: readonly BatchReceipt[]
  /** Aggregated per client, ascending by address, zero debits left out. */
  debits: Debit[]
  /** Aggregated per (account, kind), sorted by kind then address, zero payouts left out. */
  payouts: Payout[]
  pools: Pools
  /** What the quorum signs (BatchSettlement.batchDigest). */
  digest: string
  receiptProof: (index: number) => string[]
  receiptLeafHash: (index: number) => string
  /** Proof of the (account, kind) payout; throws RECEIPT_INVALID if it has none. */
  payoutProof: (account: string, kind: PayoutKind) => string[]
  payoutOf: (account: string, kind: PayoutKind) => bigint
}

function invalid (message: string, context: Record<string, unknown> = {}): VerimeshError {
  return new VerimeshError('RECEIPT_INVALID', message, context)
}

const byAddress = (a: string, b: string): number => {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The contract's split: treasury and validators round down, operators take the rest. */
export function splitFees (total: bigint, split: FeeSplit): Pools {
  const { operatorBps, validatorBps, treasuryBps } = split
  for (const [k, v] of Object.entries(split)) {
    if (!Number.isInteger(v) || v < 0 || v > 10_000) throw new VerimeshError('CONFIG_INVALID', `fee split ${k} must be an integer in [0, 10000], got ${String(v)}`, { split })
  }
  if (operatorBps + validatorBps + treasuryBps !== 10_000) throw new VerimeshError('CONFIG_INVALID', `fee split must sum to 10000 bps, got ${operatorBps + validatorBps + treasuryBps}`, { split })
  const treasuryShare = total * BigInt(treasuryBps) / BPS
  const validatorPool = total * BigInt(validatorBps) / BPS
  return { total, operatorPool: total - treasuryShare - validatorPool, treasuryShare, validatorPool }
}

/** BatchSettlement.batchDigest(batchId, header, debits) on chain `chainId` at `settlement`, under fee split `split`. */
export function batchDigest (opts: { chainId: bigint, settlement: string, batchId: bigint, header: BatchHeader, debits: readonly Debit[], split: FeeSplit }): string {
  const abi = AbiCoder.defaultAbiCoder()
  const { header: h, split } = opts
  const debitsHash = keccak256(abi.encode(['tuple(address client, uint256 amount)[]'], [opts.debits.map((d) => [d.client, d.amount])]))
  return keccak256(abi.encode(
    ['bytes32', 'uint256', 'address', 'uint256', 'uint64', 'bytes32', 'uint32', 'bytes32', 'bytes32', 'uint16', 'uint16', 'uint16'],
    [BATCH_TYPEHASH, opts.chainId, opts.settlement, opts.batchId, h.epoch, h.receiptsRoot, h.receiptCount, h.payoutsRoot, debitsHash, split.operatorBps, split.validatorBps, split.treasuryBps]
  ))
}

function gcd (a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

function members (list: readonly string[], what: string, requestId: string): string[] {
  if (!Array.isArray(list) || list.length === 0) throw invalid(`receipt ${requestId} has no ${what}`, { requestId, field: what })
  const out = list.map((a) => {
    try { return getAddress(a) } catch { throw invalid(`receipt ${requestId}: ${what} entry ${String(a)} is not an address`, { requestId, field: what, value: a }) }
  })
  if (new Set(out).size !== out.length) throw invalid(`receipt ${requestId} lists an ${what.slice(0, -1)} twice`, { requestId, field: what })
  return out
}

/**
 * Share `pool` among accounts in proportion to their weight: each receipt's fee is
 * split evenly among its members. Weights are scaled by the lcm of the member counts
 * so they stay integers; the leftover units of the floor division go one each to the
 * largest remainders (ties: lower address).
 */
function share (pool: bigint, receipts: ReadonlyArray<{ fee: bigint, members: string[] }>): Map<string, bigint> {
  let lcm = 1n
  for (const r of receipts) {
    const n = BigInt(r.members.length)
    lcm = lcm / gcd(lcm, n) * n
  }
  const weights = new Map<string, bigint>()
  let total = 0n
  for (const r of receipts) {
    const w = r.fee * (lcm / BigInt(r.members.length))
    for (const m of r.members) weights.set(m, (weights.get(m) ?? 0n) + w)
    total += r.fee * lcm
  }
  const out = new Map<string, bigint>()
  if (pool === 0n || total === 0n) return out
  const rows = [...weights].map(([account, w]) => ({ account, amount: pool * w / total, rem: pool * w % total }))
  let left = pool - rows.reduce((s, r) => s + r.amount, 0n)
  rows.sort((a, b) => a.rem > b.rem ? -1 : a.rem < b.rem ? 1 : byAddress(a.account, b.account))
  for (const r of rows) {
    if (left === 0n) break
    r.amount += 1n
    left -= 1n
  }
  for (const r of rows) if (r.amount > 0n) out.set(r.account, r.amount)
  return out
}

/** Build a batch from its receipts (any order). Throws RECEIPT_INVALID on a malformed or duplicate receipt. */
export function buildBatch (input: BuildBatchInput): Batch {
  const { batchId, epoch, chainId, split } = input
  if (typeof batchId !== 'bigint' || batchId < 0n) throw invalid(`batchId must be a non-negative bigint, got ${String(batchId)}`, { batchId })
  if (typeof epoch !== 'bigint' || epoch < 0n || epoch >= 1n << 64n) throw invalid(`epoch must be a uint64 bigint, got ${String(epoch)}`, { epoch })
  let settlement: string
  try { settlement = getAddress(input.settlement) } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `settlement ${String(input.settlement)} is not an address`, { settlement: input.settlement }, { cause: err })
  }
  if (input.receipts.length === 0) throw invalid('a batch needs at least one receipt', { batchId: String(batchId) })
  if (input.receipts.length > 0xffffffff) throw invalid('too many receipts for one batch', { count: input.receipts.length })

  const receipts: BatchReceipt[] = input.receipts.map((r) => {
    const n = normaliseReceipt(r)
    return { ...n, operators: members(r.operators, 'operators', n.requestId), validators: members(r.validators, 'validators', n.requestId) }
  })
  receipts.sort((a, b) => a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0)
  for (let i = 1; i < receipts.length; i++) {
    if (receipts[i]!.requestId === receipts[i - 1]!.requestId) throw invalid(`request ${receipts[i]!.requestId} appears twice in the batch`, { requestId: receipts[i]!.requestId })
  }

  const perClient = new Map<string, bigint>()
  for (const r of receipts) perClient.set(r.client, (perClient.get(r.client) ?? 0n) + r.fee)
  const debits: Debit[] = [...perClient].filter(([, a]) => a > 0n).map(([client, amount]) => ({ client, amount })).sort((a, b) => byAddress(a.client, b.client))
  for (const d of debits) {
    if (d.amount > MAX_DEBIT) throw invalid(`client ${d.client} owes ${d.amount} in one batch, more than a debit can hold (2^96 - 1)`, { client: d.client, amount: String(d.amount) })
  }
  const pools = splitFees(debits.reduce((s, d) => s + d.amount, 0n), split)

  const payouts: Payout[] = []
  const add = (kind: PayoutKind, m: Map<string, bigint>): void => {
    for (const [account, amount] of [...m].sort(([a], [b]) => byAddress(a, b))) payouts.push({ account, kind, amount })
  }
  add(PayoutKind.OPERATOR, share(pools.operatorPool, receipts.map((r) => ({ fee: r.fee, members: r.operators }))))
  add(PayoutKind.VALIDATOR, share(pools.validatorPool, receipts.map((r) => ({ fee: r.fee, members: r.validators }))))

  const rTree: ReceiptTree = receiptTree(receipts)
  // A batch with no fees has nothing to claim: its payouts root is zero.
  const pTree: PayoutTree | undefined = payouts.length > 0 ? payoutTree(batchId, payouts) : undefined
  const header: BatchHeader = {
    epoch,
    receiptsRoot: rTree.root,
    receiptCount: receipts.length,
    payoutsRoot: pTree?.root ?? '0x' + '00'.repeat(32)
  }
  const index = new Map<string, number>(payouts.map((p, i) => [`${p.kind}:${p.account}`, i]))
  const payoutIndex = (account: string, kind: PayoutKind): number => {
    const i = index.get(`${kind}:${getAddress(account)}`)
    if (i === undefined) throw invalid(`no ${kind === PayoutKind.OPERATOR ? 'operator' : 'validator'} payout for ${account} in batch ${batchId}`, { batchId: String(batchId), account, kind })
    return i
  }
  const receiptIndex = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= receipts.length) throw invalid(`receipt index ${i} is outside the batch (0..${receipts.length - 1})`, { index: i })
    return i
  }

  return {
    batchId,
    header,
    receipts,
    debits,
    payouts,
    pools,
    digest: batchDigest({ chainId, settlement, batchId, header, debits, split }),
    receiptProof: (i) => rTree.getProof(receiptIndex(i)),
    receiptLeafHash: (i) => receiptLeafHash(receipts[receiptIndex(i)]!),
    payoutProof: (account, kind) => pTree!.getProof(payoutIndex(account, kind)),
    payoutOf: (account, kind) => payouts[payoutIndex(account, kind)]!.amount
  }
}
