// What turns an attested receipt into a leaf of a settlement batch. The settler and every
// quorum member that co-signs a batch run exactly this code, so they build the same tree
// from the same items (contracts/lib/ReceiptLeaf.sol is the on-chain side).

import { getAddress } from 'ethers'
import { VerimeshError } from '../errors.js'
import type { BatchItem, Receipt } from './messages.js'
import { verifyAttestation } from './request.js'
import type { BatchReceipt } from '../chain/batch.js'

/**
 * A receipt as a batch leaf (contracts/lib/ReceiptLeaf.sol) plus who shares its fee: the
 * distinct shard executors (operators' part) and the attesting validators. `executor`, the
 * operator accountable for the output, is the last shard's. `steps` is 0: the engine's
 * shard trace is not a tile-step trace, which the dispute game would need to open it.
 */
export type LeafReceipt = BatchReceipt

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
