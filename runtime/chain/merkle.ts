// The two Merkle trees of a settlement batch, built exactly as the contracts check
// them (contracts/lib/ReceiptLeaf.sol with OpenZeppelin's MerkleProof):
//
//   receipt leaf = keccak256(keccak256(abi.encode(Receipt)))       (a static tuple, so
//                  abi.encode(struct) is the fields' encoding one after the other)
//   payout leaf  = keccak256(keccak256(abi.encode(batchId, account, kind, amount)))
//   inner node   = keccak256(sorted pair)
//
// which is @openzeppelin/merkle-tree's StandardMerkleTree, so we use it rather
// than a hand-written tree; test/settlement-batch checks the leaves against the
// contract's own hashing.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { AbiCoder, getAddress, isHexString, keccak256 } from 'ethers'

import { VerimeshError } from '../errors.js'

/** The fields of ReceiptLeaf.Receipt, in its order. */
export interface ReceiptFields {
  requestId: string
  modelRoot: string
  client: string
  /** The operator accountable for the execution (slashed if a dispute shows it wrong). */
  executor: string
  fee: bigint
  outputHash: string
  traceRoot: string
  steps: number
  /** The receipt circuit's statement when proven, 0n otherwise. */
  proofStatement: bigint
}

/** Payout kinds (ReceiptLeaf.OPERATOR / VALIDATOR). */
export const PayoutKind = { OPERATOR: 0, VALIDATOR: 1 } as const
export type PayoutKind = typeof PayoutKind[keyof typeof PayoutKind]

export const RECEIPT_LEAF_TYPES = ['bytes32', 'bytes32', 'address', 'address', 'uint256', 'bytes32', 'bytes32', 'uint32', 'uint256']
export const PAYOUT_LEAF_TYPES = ['uint256', 'address', 'uint8', 'uint256']

export type ReceiptTuple = [string, string, string, string, bigint, string, string, number, bigint]
export type PayoutTuple = [bigint, string, number, bigint]

const UINT256_MAX = (1n << 256n) - 1n

function bad (message: string, context: Record<string, unknown>): VerimeshError {
  return new VerimeshError('RECEIPT_INVALID', message, context)
}

function bytes32 (v: string, field: string, requestId: unknown): string {
  if (!isHexString(v, 32)) throw bad(`receipt ${field} must be 0x + 64 hex digits, got ${String(v)}`, { field, value: v, requestId })
  return v.toLowerCase()
}

function address (v: string, field: string, context: Record<string, unknown>): string {
  try {
    return getAddress(v)
  } catch (err) {
    throw bad(`${field} is not an address: ${String(v)}`, { ...context, field, value: v })
  }
}

function uint (v: bigint, bits: number, field: string, context: Record<string, unknown>): bigint {
  if (typeof v !== 'bigint' || v < 0n || v >= (1n << BigInt(bits))) {
    throw bad(`${field} must be a bigint in [0, 2^${bits}), got ${String(v)}`, { ...context, field, value: String(v) })
  }
  return v
}

/** Validate and normalise (checksummed addresses, lower-case hashes) a receipt. */
export function normaliseReceipt (r: ReceiptFields): ReceiptFields {
  const requestId = bytes32(r.requestId, 'requestId', r.requestId)
  const ctx = { requestId }
  if (!Number.isSafeInteger(r.steps) || r.steps < 0 || r.steps > 0xffffffff) throw bad(`receipt steps must be a uint32, got ${String(r.steps)}`, { ...ctx, field: 'steps', value: r.steps })
  return {
    requestId,
    modelRoot: bytes32(r.modelRoot, 'modelRoot', requestId),
    client: address(r.client, 'receipt client', ctx),
    executor: address(r.executor, 'receipt executor', ctx),
    fee: uint(r.fee, 256, 'receipt fee', ctx),
    outputHash: bytes32(r.outputHash, 'outputHash', requestId),
    traceRoot: bytes32(r.traceRoot, 'traceRoot', requestId),
    steps: r.steps,
    proofStatement: uint(r.proofStatement, 256, 'receipt proofStatement', ctx)
  }
}

/** The receipt as the ABI tuple ReceiptLeaf.Receipt (also what contract calls take). */
export function receiptTuple (r: ReceiptFields): ReceiptTuple {
  return [r.requestId, r.modelRoot, r.client, r.executor, r.fee, r.outputHash, r.traceRoot, r.steps, r.proofStatement]
}

export type ReceiptTree = StandardMerkleTree<ReceiptTuple>
export type PayoutTree = StandardMerkleTree<PayoutTuple>

/** Tree over receipts; proofs are asked by the receipt's index in `receipts`. */
export function receiptTree (receipts: readonly ReceiptFields[]): ReceiptTree {
  if (receipts.length === 0) throw bad('a receipts tree needs at least one receipt', {})
  return StandardMerkleTree.of(receipts.map(receiptTuple), RECEIPT_LEAF_TYPES)
}

/** ReceiptLeaf.hash(r). */
export function receiptLeafHash (r: ReceiptFields): string {
  return standardLeaf(RECEIPT_LEAF_TYPES, receiptTuple(r))
}

/** Tree over a batch's payouts; proofs are asked by the payout's index in `payouts`. */
export function payoutTree (batchId: bigint, payouts: ReadonlyArray<{ account: string, kind: PayoutKind, amount: bigint }>): PayoutTree {
  if (payouts.length === 0) throw bad('a payouts tree needs at least one payout', { batchId: String(batchId) })
  return StandardMerkleTree.of(payouts.map((p): PayoutTuple => [uint(batchId, 256, 'batchId', {}), p.account, p.kind, p.amount]), PAYOUT_LEAF_TYPES)
}

/** ReceiptLeaf.payoutHash(batchId, account, kind, amount). */
export function payoutLeafHash (batchId: bigint, account: string, kind: PayoutKind, amount: bigint): string {
  if (amount > UINT256_MAX) throw bad('payout amount exceeds uint256', { amount: String(amount) })
  return standardLeaf(PAYOUT_LEAF_TYPES, [batchId, account, kind, amount])
}

/** keccak256(keccak256(abi.encode(values))): the StandardMerkleTree leaf, without building a tree. */
function standardLeaf (types: string[], values: unknown[]): string {
  return keccak256(keccak256(AbiCoder.defaultAbiCoder().encode(types, values)))
}

/** Check a proof the way MerkleProof.verify does. */
export function verifyReceiptProof (root: string, r: ReceiptFields, proof: readonly string[]): boolean {
  return StandardMerkleTree.verify(root, RECEIPT_LEAF_TYPES, receiptTuple(r), [...proof])
}

export function verifyPayoutProof (root: string, batchId: bigint, account: string, kind: PayoutKind, amount: bigint, proof: readonly string[]): boolean {
  return StandardMerkleTree.verify(root, PAYOUT_LEAF_TYPES, [batchId, account, kind, amount], [...proof])
}
