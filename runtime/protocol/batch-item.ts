// What turns an attested receipt into a leaf of a settlement batch. The settler and every
// quorum member that co-signs a batch run exactly this code, so they build the same tree
// from the same items (contracts/lib/ReceiptLeaf.sol is the on-chain side).

import { getAddress } from 'ethers'
import { VerimeshError } from '../errors.js'
import type { BatchItem, Receipt } from './messages.js'
import { receiptHash, verifyAttestation } from './request.js'

/** The leaf fields of contracts/lib/ReceiptLeaf.sol plus who shares the receipt's fee. */
export interface LeafReceipt {
  requestId: string
  modelRoot: string
  client: string
  /** The operator accountable for the output: the last shard's executor. */
  executor: string
  fee: bigint
  outputHash: string
  traceRoot: string
  /** Steps of a tile-step trace; 0 for the engine's shard trace, which the dispute game cannot open yet. */
  steps: number
  proofStatement: bigint
  /** Every distinct shard executor (they share the operators' part of the fee equally). */
  operators: string[]
  /** The validators that attested (they share the validators' part). */
  validators: string[]
}

/**
 * Check an item's attestations (signatures over this receipt, distinct validators, at
 * least `minAttestations`) and return its leaf. Throws BAD_SIGNATURE / RECEIPT_INVALID.
 */
export function leafOfItem (item: BatchItem, minAttestations = 1): LeafReceipt {
  const r: Receipt = item.receipt
  if (r.executors.length === 0) {
    throw new VerimeshError('RECEIPT_INVALID', 'a receipt without executors cannot be settled', { requestId: r.requestId })
  }
  if (item.attestations.length < minAttestations) {
    throw new VerimeshError('RECEIPT_INVALID', `receipt has ${item.attestations.length} attestation(s), ${minAttestations} needed`, { requestId: r.requestId })
  }
  const validators: string[] = []
  const seen = new Set<string>()
  for (const a of item.attestations) {
    verifyAttestation(a, r)
    const v = getAddress(a.validator)
    if (seen.has(v)) throw new VerimeshError('BAD_SIGNATURE', `validator ${v} attested twice`, { validator: v, requestId: r.requestId })
    seen.add(v)
    validators.push(v)
  }
  // A node that ran several shards (a reroute can land two on one node) is one operator
  // among the fee's sharers, not several.
  const executors = r.executors.map((e) => getAddress(e))
  const operators = [...new Set(executors)]
  return {
    requestId: r.requestId,
    modelRoot: r.modelId,
    client: getAddress(r.client),
    executor: executors[executors.length - 1]!,
    fee: BigInt(r.fee),
    outputHash: r.outputHash,
    traceRoot: r.traceHash,
    steps: 0,
    proofStatement: item.proofStatement === undefined ? 0n : BigInt(item.proofStatement),
    operators,
    validators
  }
}

/** Refuse two items for the same request in one batch (a replayed submission). */
export function assertDistinctRequests (items: readonly BatchItem[]): void {
  const seen = new Set<string>()
  for (const it of items) {
    const id = it.receipt.requestId.toLowerCase()
    if (seen.has(id)) throw new VerimeshError('RECEIPT_INVALID', `request ${id} appears twice in the batch`, { requestId: id })
    seen.add(id)
  }
}

export { receiptHash }
