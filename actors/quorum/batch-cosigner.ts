// A quorum member's half of batched settlement: given the items a settler wants to
// settle, rebuild the batch independently and BLS-sign the digest this member computed
// itself, never the settler's claim of it. A member signs only receipts whose every
// attestation verifies and comes from an active validator, and whose proof statement
// (when present) is the one this member computes from the receipt.

import { getAddress } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { QuorumBatchSignatureMsg, QuorumSignBatchMsg } from '../../runtime/protocol/messages.js'
import { leafOfItem } from '../../runtime/protocol/batch-item.js'
import { buildBatch, type FeeSplit } from '../../runtime/chain/batch.js'
import { sign, type BlsKeyPair } from '../../runtime/crypto/bls.js'
import { expectedReceiptSignals } from '../prover/receipt-encoding.js'

/** What a co-signer reads from chain; a small interface so the checks are testable alone. */
export interface CosignChainView {
  readonly chainId: number
  /** The BatchSettlement this member signs for. */
  readonly settlement: string
  feeSplit: () => Promise<FeeSplit>
  isActiveValidator: (operator: string) => Promise<boolean>
  /** The receipts root BatchSettlement stored for `batchId`, or undefined when there is no such batch. */
  settledRoot: (batchId: number) => Promise<string | undefined>
}

/** Requests remembered per co-signer; beyond this the oldest are forgotten. */
export const REMEMBERED_REQUESTS = 200_000

export class BatchCosigner {
  readonly #chain: CosignChainView
  readonly #key: BlsKeyPair
  readonly #operator: string
  /** Request id → the batch this member co-signed it in, to refuse settling a receipt twice. */
  readonly #signed = new Map<string, { batchId: number, receiptsRoot: string }>()

  constructor (chain: CosignChainView, key: BlsKeyPair, operator: string) {
    this.#chain = chain
    this.#key = key
    this.#operator = getAddress(operator)
  }

  async sign (m: QuorumSignBatchMsg): Promise<QuorumBatchSignatureMsg> {
    const ctx = { batchId: m.batchId, epoch: m.epoch }
    if (m.chainId !== this.#chain.chainId) {
      throw new VerimeshError('VERIFICATION_FAILED', `batch is for chain ${m.chainId}, this member signs for ${this.#chain.chainId}`, ctx)
    }
    if (getAddress(m.settlement) !== getAddress(this.#chain.settlement)) {
      throw new VerimeshError('VERIFICATION_FAILED', `batch is for settlement ${m.settlement}, this member signs for ${this.#chain.settlement}`, ctx)
    }
    const receipts = m.items.map((item) => {
      const leaf = leafOfItem(item)
      if (item.proofStatement !== undefined) {
        const [expected] = expectedReceiptSignals(item.receipt)
        if (expected !== item.proofStatement) {
          throw new VerimeshError('VERIFICATION_FAILED', 'proof statement does not commit to this receipt', { ...ctx, requestId: item.receipt.requestId, expected, got: item.proofStatement })
        }
      }
      return leaf
    })
    await this.#refuseSettledTwice(m)
    // Each attesting validator must be active now: a settler cannot pad a batch with
    // receipts signed by keys the registry does not back with stake.
    const validators = new Set(receipts.flatMap((r) => r.validators))
    const active = await Promise.all([...validators].map(async (v) => [v, await this.#chain.isActiveValidator(v)] as const))
    const inactive = active.filter(([, ok]) => !ok).map(([v]) => v)
    if (inactive.length > 0) {
      throw new VerimeshError('VERIFICATION_FAILED', `attestations from validators that are not active: ${inactive.join(', ')}`, { ...ctx, inactive })
    }
    const batch = buildBatch({
      batchId: BigInt(m.batchId),
      epoch: BigInt(m.epoch),
      chainId: BigInt(m.chainId),
      settlement: m.settlement,
      receipts,
      split: await this.#chain.feeSplit()
    })
    if (batch.digest !== m.digest.toLowerCase()) {
      throw new VerimeshError('VERIFICATION_FAILED', 'the batch these items make has a different digest than the settler sent', { ...ctx, expected: batch.digest, got: m.digest })
    }
    const sigma = sign(this.#key.secretKey, batch.digest)
    for (const r of batch.receipts) this.#remember(r.requestId, m.batchId, batch.header.receiptsRoot)
    const dec = (v: bigint): string => v.toString(10)
    return {
      type: 'quorum.batch-signature',
      validator: this.#operator,
      batchId: m.batchId,
      digest: batch.digest,
      sigma: [dec(sigma[0]), dec(sigma[1])],
      pkG1: [dec(this.#key.g1[0]), dec(this.#key.g1[1])],
      pkG2: [dec(this.#key.g2[0]), dec(this.#key.g2[1]), dec(this.#key.g2[2]), dec(this.#key.g2[3])]
    }
  }

  /**
   * A receipt this member co-signed in an earlier batch may be signed again only if that
   * batch never landed (a settler rebuilds with a new id after a race); if it landed with
   * the root this member signed, the receipt is settled and its client paid once already.
   */
  async #refuseSettledTwice (m: QuorumSignBatchMsg): Promise<void> {
    for (const item of m.items) {
      const id = item.receipt.requestId.toLowerCase()
      const prev = this.#signed.get(id)
      if (prev === undefined || prev.batchId === m.batchId) continue
      if (await this.#chain.settledRoot(prev.batchId) === prev.receiptsRoot) {
        throw new VerimeshError('VERIFICATION_FAILED', `request ${id} was already settled in batch ${prev.batchId}`, { requestId: id, batchId: m.batchId, settledIn: prev.batchId })
      }
    }
  }

  #remember (requestId: string, batchId: number, receiptsRoot: string): void {
    const id = requestId.toLowerCase()
    this.#signed.delete(id)
    this.#signed.set(id, { batchId, receiptsRoot })
    if (this.#signed.size > REMEMBERED_REQUESTS) this.#signed.delete(this.#signed.keys().next().value!)
  }
}
