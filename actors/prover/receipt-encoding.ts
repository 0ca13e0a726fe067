// How a protocol Receipt becomes the receipt circuit's input and public commitment. The
// encoding itself is defined once, in circuits/receipt-encoding.ts; this fixes the two
// choices the protocol makes on top of it, so prover, quorum and clients agree:
//   - the executor bound into the proof is the receipt's first (shard 0's) executor;
//   - the epoch is 0: the protocol has no quorum epochs yet (issue 5 brings staking).

import type { Receipt } from '../../runtime/protocol/messages.js'
import { receiptClaimOf, receiptInput, receiptPublicSignals, type ReceiptClaim } from '../../circuits/receipt-encoding.js'
import type { ReceiptEncoding } from './service.js'

export const RECEIPT_EPOCH = 0
export const RECEIPT_EXECUTOR_INDEX = 0

/** The claim a receipt proof commits to. Throws PROOF_INPUT_INVALID for a receipt it cannot encode. */
export function receiptClaim (receipt: Receipt): ReceiptClaim {
  return receiptClaimOf(receipt, { epoch: RECEIPT_EPOCH, executorIndex: RECEIPT_EXECUTOR_INDEX })
}

/** The public signals a valid proof of `receipt` carries (decimal strings). */
export function expectedReceiptSignals (receipt: Receipt): string[] {
  return receiptPublicSignals(receiptClaim(receipt))
}

export function defaultReceiptEncoding (): ReceiptEncoding {
  return {
    receiptInput: (r) => receiptInput(receiptClaim(r)),
    receiptPublicSignals: expectedReceiptSignals
  }
}
