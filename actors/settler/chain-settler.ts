// The chain settler: checks the quorum's attestations off chain (a bad one is refused
// with a precise error before any gas is spent), then records the receipt hash through
// the Settlement contract, which checks the same signatures again on chain.
// One receipt per transaction for now; batching with Merkle roots comes with issue 5.

import { Wallet } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, Message } from '../../runtime/actors/types.js'
import type { SettleRecordedMsg, SettleSubmitMsg } from '../../runtime/protocol/messages.js'
import { receiptHash, verifyAttestation } from '../../runtime/protocol/request.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { SettlementClient } from '../../runtime/chain/contracts.js'
import type { RoleDeps, RoleInstance, RoleModule } from '../roles.js'

export class ChainSettler implements Actor {
  readonly #deps: RoleDeps
  readonly #client: SettlementClient
  readonly #chainId: number

  constructor (deps: RoleDeps, client: SettlementClient, chainId: number) {
    this.#deps = deps
    this.#client = client
    this.#chainId = chainId
  }

  // One submission at a time keeps this operator's nonces in order.
  async receive (msg: Message, ctx: ActorContext): Promise<void> {
    this.#deps.metrics.messagesReceived.inc({ role: 'settler', type: msg.type })
    if (msg.type !== 'settle.submit') {
      ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `settler does not handle '${msg.type}'`, { type: msg.type }))
      return
    }
    const { receipt, attestations } = msg as SettleSubmitMsg
    const hash = receiptHash(receipt)
    try {
      const seen = new Set<string>()
      for (const a of attestations) {
        verifyAttestation(a, receipt)
        const v = a.validator.toLowerCase()
        if (seen.has(v)) throw new VerimeshError('BAD_SIGNATURE', `validator ${a.validator} attested twice`, { validator: a.validator })
        seen.add(v)
      }
      const tx = await this.#client.recordReceipt(hash, attestations.map((a) => a.signature))
      this.#deps.metrics.settlements.inc({ outcome: 'recorded' })
      this.#deps.logger.info({ receiptHash: hash, txHash: tx.txHash, block: tx.blockNumber, gasUsed: tx.gasUsed.toString() }, 'receipt recorded on chain')
      const reply: SettleRecordedMsg = {
        type: 'settle.recorded', chainId: this.#chainId, contract: this.#client.address, txHash: tx.txHash, blockNumber: tx.blockNumber, gasUsed: tx.gasUsed.toString()
      }
      ctx.reply(reply)
    } catch (err) {
      const e = VerimeshError.from(err, 'SETTLEMENT_FAILED', { receiptHash: hash })
      this.#deps.metrics.settlements.inc({ outcome: e.code })
      this.#deps.logger.warn({ receiptHash: hash, code: e.code, err: e.message }, 'settlement refused')
      ctx.replyError(e)
    }
  }
}

export const chainSettler: RoleModule = {
  role: 'settler',
  name: 'chain',
  create (deps: RoleDeps): RoleInstance {
    const chain = deps.config.chain
    if (chain === null) throw new VerimeshError('CONFIG_INVALID', 'the settler role needs a chain section')
    const provider = connectProvider(chain.rpcUrl, { chainId: chain.chainId })
    const signer = new Wallet(deps.operator.privateKey, provider)
    const client = SettlementClient.connect(chain.settlement, signer)
    return {
      factory: () => new ChainSettler(deps, client, chain.chainId),
      close: async () => { provider.destroy() }
    }
  }
}
