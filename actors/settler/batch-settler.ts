// The settler role: takes attested receipts (settle.submit), settles them in batches
// through BatchSettlementService and answers each submitter with its receipt's place on
// chain once the batch is confirmed. The actor never blocks on chain work: answers go
// back to the captured sender when the batch lands.

import { Wallet, getAddress } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, Message } from '../../runtime/actors/types.js'
import type { QuorumBatchSignatureMsg, QuorumSignBatchMsg, SettleRecordedMsg, SettleSubmitMsg } from '../../runtime/protocol/messages.js'
import { sysError } from '../../runtime/protocol/system-messages.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { rolePath, type RoleDeps, type RoleInstance, type RoleModule } from '../roles.js'
import { BatchSettlementService, type BatchServiceOptions, type CosignRequester } from './batch-service.js'
import { ChainSettlerAdapter } from './chain-adapter.js'
import { FileBatchJournal } from './batch-journal.js'

export class BatchSettler implements Actor {
  readonly #deps: RoleDeps
  readonly #service: BatchSettlementService

  constructor (deps: RoleDeps, service: BatchSettlementService) {
    this.#deps = deps
    this.#service = service
  }

  receive (msg: Message, ctx: ActorContext): void {
    this.#deps.metrics.messagesReceived.inc({ role: 'settler', type: msg.type })
    if (msg.type !== 'settle.submit') {
      ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `settler does not handle '${msg.type}'`, { type: msg.type }))
      return
    }
    const replyTo = ctx.sender
    const m = msg as SettleSubmitMsg
    const send = (reply: Message): void => {
      if (replyTo === undefined) return
      try {
        replyTo.tell(reply)
      } catch (err) {
        this.#deps.logger.warn({ to: replyTo.address, type: reply.type, err: (err as Error).message }, 'settler reply undeliverable')
      }
    }
    const item = { receipt: m.receipt, attestations: m.attestations, ...(m.proofStatement === undefined ? {} : { proofStatement: m.proofStatement }) }
    let settled: Promise<unknown>
    try {
      settled = this.#service.submit(item)
    } catch (err) {
      // A bad item is refused at once, before it can hold up a batch.
      const e = VerimeshError.from(err, 'RECEIPT_INVALID')
      this.#deps.metrics.settlements.inc({ outcome: e.code })
      send(sysError(e))
      return
    }
    settled.then(
      (record) => {
        this.#deps.metrics.settlements.inc({ outcome: 'settled' })
        send({ type: 'settle.recorded', ...(record as Omit<SettleRecordedMsg, 'type'>) } satisfies SettleRecordedMsg)
      },
      (err: unknown) => {
        const e = VerimeshError.from(err, 'SETTLEMENT_FAILED', { requestId: m.receipt.requestId })
        this.#deps.metrics.settlements.inc({ outcome: e.code })
        send(sysError(e))
      }
    )
  }
}

/** roles.settler options: `{ impl: 'batch', maxBatch?, flushMs?, maxAttempts?, signTimeoutMs?, autoClaim?, journalDir? }`. */
export function settlerOptions (section: Readonly<Record<string, unknown>>): BatchServiceOptions & { signTimeoutMs: number } {
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = section[key] ?? fallback
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new VerimeshError('CONFIG_INVALID', `roles.settler.${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`, { key, value: v })
    }
    return v
  }
  const autoClaim = section.autoClaim ?? true
  if (typeof autoClaim !== 'boolean') throw new VerimeshError('CONFIG_INVALID', 'roles.settler.autoClaim must be a boolean', { value: autoClaim })
  const journalDir = section.journalDir
  if (journalDir !== undefined && (typeof journalDir !== 'string' || journalDir === '')) throw new VerimeshError('CONFIG_INVALID', 'roles.settler.journalDir must be a directory path', { value: journalDir })
  return {
    ...(journalDir === undefined ? {} : { journal: new FileBatchJournal(journalDir) }),
    maxBatch: int('maxBatch', 4096, 1, 4096),
    flushMs: int('flushMs', 1000, 0, 3_600_000),
    maxAttempts: int('maxAttempts', 3, 1, 16),
    signTimeoutMs: int('signTimeoutMs', 10_000, 100, 600_000),
    autoClaim
  }
}

export const batchSettler: RoleModule = {
  role: 'settler',
  name: 'batch',
  async create (deps: RoleDeps): Promise<RoleInstance> {
    const chain = deps.config.chain
    if (chain === null) throw new VerimeshError('CONFIG_INVALID', 'the settler role needs a chain section')
    const opts = settlerOptions(deps.options)
    const provider = connectProvider(chain.rpcUrl, { chainId: chain.chainId })
    const signer = new Wallet(deps.operator.privateKey, provider)
    const adapter = await ChainSettlerAdapter.create(chain.chainId, chain.contracts, signer, {
      confirmations: chain.confirmations,
      onEvent: (e) => {
        if (e.type === 'retry' || e.type === 'resend' || e.type === 'failed') deps.logger.warn({ tx: e }, `settlement transaction ${e.type}`)
        else deps.logger.info({ tx: { ...e, ...('gasUsed' in e ? { gasUsed: String(e.gasUsed) } : {}), ...('maxFeePerGas' in e ? { maxFeePerGas: String(e.maxFeePerGas) } : {}) } }, `settlement transaction ${e.type}`)
      }
    })
    // Members are found by operator address among live mesh peers with the quorum role.
    const cosign: CosignRequester = async (member, msg: QuorumSignBatchMsg) => {
      const peer = deps.mesh.peers().find((p) => p.live && p.roles.includes('quorum') && getAddress(p.operator) === getAddress(member))
      if (peer === undefined) throw new VerimeshError('QUORUM_UNAVAILABLE', `quorum member ${member} is not live in the mesh`, { member })
      return await deps.system.ref(`${peer.peer}${rolePath('quorum')}`).ask<QuorumBatchSignatureMsg>(msg, { timeoutMs: opts.signTimeoutMs })
    }
    const service = new BatchSettlementService(adapter, cosign, opts, deps.logger)
    return {
      factory: () => new BatchSettler(deps, service),
      close: async () => {
        await service.close()
        provider.destroy()
      }
    }
  }
}
