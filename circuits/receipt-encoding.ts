// The one definition of how a receipt becomes field elements, used by the prover (circuit
// input) and the verifier (public signal) alike. circuits/receipt.circom checks the same:
//   each 256-bit value → [hi, lo], the big-endian 128-bit halves (range-checked limbs)
//   executor (20 bytes) → one element < 2^160; epoch → one element < 2^64
//   statement = hashChain(TAG.receipt, [modelRoot.hi, modelRoot.lo, requestId.hi,
//               requestId.lo, inputHash.hi, inputHash.lo, outputHash.hi, outputHash.lo,
//               executor, epoch])                             ← the only public signal

import { VerimeshError } from '../runtime/errors.js'
import type { Receipt } from '../runtime/protocol/messages.js'
import { dec } from './field.js'
import type { CircuitInput } from './input.js'
import { hashChain } from './poseidon.js'
import { TAG } from './tags.js'

/** What the receipt circuit binds. Hashes are 0x-prefixed 32-byte hex (SHA-256 here). */
export interface ReceiptClaim {
  /** The model package's Merkle root (the protocol's modelId). */
  readonly modelRoot: string
  readonly requestId: string
  /** Commitment to the request's input. */
  readonly inputHash: string
  /** Commitment to the output (actors/engine/commitments.ts hashTokens). */
  readonly outputHash: string
  /** The executor's operator address (0x + 20 bytes). */
  readonly executor: string
  /** The quorum epoch, 0 ≤ epoch < 2^64. */
  readonly epoch: number | bigint
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/
const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const U64_LIMIT = 1n << 64n
const U128 = 1n << 128n

/**
 * The claim for a protocol receipt: the model root is its modelId, and the input
 * commitment its traceHash (the hash chain over every shard boundary of the run, which
 * begins at the prompt's embedding; the protocol receipt carries no separate prompt hash).
 */
export function receiptClaimOf (receipt: Receipt, opts: { epoch: number | bigint, executorIndex?: number }): ReceiptClaim {
  const i = opts.executorIndex ?? 0
  const executor = receipt.executors[i]
  if (executor === undefined) throw new VerimeshError('PROOF_INPUT_INVALID', `receipt has no executor at index ${i} (it lists ${receipt.executors.length})`, { requestId: receipt.requestId })
  return { modelRoot: receipt.modelId, requestId: receipt.requestId, inputHash: receipt.traceHash, outputHash: receipt.outputHash, executor, epoch: opts.epoch }
}

function hex32 (claim: ReceiptClaim, field: 'modelRoot' | 'requestId' | 'inputHash' | 'outputHash'): [bigint, bigint] {
  const v = claim[field]
  if (typeof v !== 'string' || !HEX32.test(v)) throw new VerimeshError('PROOF_INPUT_INVALID', `receipt ${field} must be 0x + 64 hex digits, got ${JSON.stringify(v)}`, { field })
  const n = BigInt(v)
  return [n / U128, n % U128]
}

/** The ten field elements the receipt circuit hashes, in order. */
export function receiptFields (claim: ReceiptClaim): bigint[] {
  if (typeof claim.executor !== 'string' || !ADDRESS.test(claim.executor)) {
    throw new VerimeshError('PROOF_INPUT_INVALID', `receipt executor must be 0x + 40 hex digits, got ${JSON.stringify(claim.executor)}`, { field: 'executor' })
  }
  let epoch: bigint
  try {
    epoch = BigInt(claim.epoch)
  } catch {
    throw new VerimeshError('PROOF_INPUT_INVALID', `receipt epoch must be an integer, got ${String(claim.epoch)}`, { field: 'epoch' })
  }
  if (typeof claim.epoch === 'number' && !Number.isSafeInteger(claim.epoch)) {
    throw new VerimeshError('PROOF_INPUT_INVALID', `receipt epoch ${claim.epoch} is not a safe integer (pass a bigint)`, { field: 'epoch' })
  }
  if (epoch < 0n || epoch >= U64_LIMIT) throw new VerimeshError('PROOF_INPUT_INVALID', `receipt epoch ${epoch} is outside [0, 2^64)`, { field: 'epoch' })
  return [
    ...hex32(claim, 'modelRoot'), ...hex32(claim, 'requestId'),
    ...hex32(claim, 'inputHash'), ...hex32(claim, 'outputHash'),
    BigInt(claim.executor), epoch
  ]
}

/** The receipt circuit's one public signal. */
export function receiptCommitment (claim: ReceiptClaim): bigint {
  return hashChain(TAG.receipt, receiptFields(claim))
}

/** The public signals a receipt proof must carry, as decimal strings. */
export function receiptPublicSignals (claim: ReceiptClaim): string[] {
  return [receiptCommitment(claim).toString()]
}

/** circuits/receipt.circom's input. */
export function receiptInput (claim: ReceiptClaim): CircuitInput {
  const f = receiptFields(claim)
  return {
    statement: dec(hashChain(TAG.receipt, f)),
    modelRoot: [dec(f[0]!), dec(f[1]!)],
    requestId: [dec(f[2]!), dec(f[3]!)],
    inputHash: [dec(f[4]!), dec(f[5]!)],
    outputHash: [dec(f[6]!), dec(f[7]!)],
    executor: dec(f[8]!),
    epoch: dec(f[9]!)
  }
}
