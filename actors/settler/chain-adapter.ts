// The settler's view of the chain (SettlerChain) over the deployed protocol: reads
// through the typed bindings, writes through one TxSender (nonces, retries, fee bumps,
// confirmations), reverts decoded to their custom error names.

import { getAddress, type Provider, type Signer } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import { TxSender, type TxSenderOptions } from '../../runtime/chain/tx-sender.js'
import type { Batch, FeeSplit } from '../../runtime/chain/batch.js'
import type { G1Point } from '../../runtime/crypto/bls.js'
import {
  connectBatchSettlement, connectNodeRegistry, connectProtocolParams, connectQuorumRegistry, parseBatchSettlementLogs,
  type BatchSettlement, type NodeRegistry, type ProtocolParams, type QuorumRegistry
} from '../../runtime/chain/types/index.js'
import type { AggregateSignature, SettlerChain, SubmittedBatch } from './batch-service.js'

export interface ProtocolContractsConfig {
  settlement: string
  quorumRegistry: string
  nodeRegistry: string
  params: string
}

export class ChainSettlerAdapter implements SettlerChain {
  readonly chainId: number
  readonly settlement: string
  readonly #sender: TxSender
  readonly #settlement: BatchSettlement
  readonly #quorums: QuorumRegistry
  readonly #nodes: NodeRegistry
  readonly #params: ProtocolParams
  readonly #keys = new Map<string, G1Point>()

  private constructor (chainId: number, contracts: ProtocolContractsConfig, provider: Provider, sender: TxSender) {
    this.chainId = chainId
    this.settlement = getAddress(contracts.settlement)
    this.#sender = sender
    this.#settlement = connectBatchSettlement(contracts.settlement, provider)
    this.#quorums = connectQuorumRegistry(contracts.quorumRegistry, provider)
    this.#nodes = connectNodeRegistry(contracts.nodeRegistry, provider)
    this.#params = connectProtocolParams(contracts.params, provider)
  }

  static async create (chainId: number, contracts: ProtocolContractsConfig, signer: Signer, opts: { confirmations: number, onEvent?: TxSenderOptions['onEvent'] }): Promise<ChainSettlerAdapter> {
    const provider = signer.provider
    if (provider === null) throw new VerimeshError('CONFIG_INVALID', 'the settler signer has no provider')
    const sender = await TxSender.create(signer, { confirmations: opts.confirmations, pollIntervalMs: 100, ...(opts.onEvent === undefined ? {} : { onEvent: opts.onEvent }) })
    return new ChainSettlerAdapter(chainId, contracts, provider, sender)
  }

  async currentEpoch (): Promise<bigint> {
    return await this.#nodes.currentEpoch()
  }

  async quorumMembers (epoch: bigint): Promise<string[]> {
    if (!await this.#quorums.isCommitted(epoch)) {
      try {
        await this.#sender.sendCall(this.#quorums, 'commitQuorum', [epoch], { label: `QuorumRegistry.commitQuorum(${epoch})` })
      } catch (err) {
        // Another settler committed it first: fine, the quorum is what we need.
        if (!await this.#quorums.isCommitted(epoch)) throw err
      }
    }
    return [...await this.#quorums.membersOf(epoch)].map((a) => getAddress(a))
  }

  async memberKey (operator: string): Promise<G1Point> {
    const a = getAddress(operator)
    let k = this.#keys.get(a)
    if (k === undefined) {
      const [x, y] = await this.#nodes.blsG1Of(a)
      k = [x, y]
      this.#keys.set(a, k)
    }
    return k
  }

  async nextBatchId (): Promise<bigint> {
    return await this.#settlement.nextBatchId()
  }

  async feeSplit (): Promise<FeeSplit> {
    const s = await this.#params.feeSplit()
    return { operatorBps: Number(s.operatorBps), validatorBps: Number(s.validatorBps), treasuryBps: Number(s.treasuryBps) }
  }

  async depositOf (client: string): Promise<bigint> {
    return await this.#settlement.depositOf(client)
  }

  async submit (batch: Batch, sig: AggregateSignature): Promise<SubmittedBatch> {
    const h = batch.header
    const result = await this.#sender.sendCall(this.#settlement, 'settleBatch', [
      { epoch: h.epoch, receiptsRoot: h.receiptsRoot, receiptCount: h.receiptCount, payoutsRoot: h.payoutsRoot },
      batch.debits.map((d) => ({ client: d.client, amount: d.amount })),
      { nonSignerPks: sig.nonSignerPks, apkG2: sig.apkG2, sigma: sig.sigma }
    ], { label: `BatchSettlement.settleBatch(${batch.batchId}, ${batch.receipts.length} receipts)` })
    const events = parseBatchSettlementLogs(result.receipt.logs, this.settlement)
    const settled = events.find((e) => e.name === 'BatchSettled')
    const pools = events.find((e) => e.name === 'BatchPools')
    if (settled === undefined || pools === undefined) {
      throw new VerimeshError('CHAIN_ERROR', `settleBatch mined in ${result.txHash} without its BatchSettled/BatchPools events`, { txHash: result.txHash })
    }
    return {
      batchId: settled.args.batchId,
      txHash: result.txHash,
      blockNumber: result.blockNumber,
      gasUsed: result.gasUsed,
      challengeDeadline: Number(pools.args.challengeDeadline)
    }
  }

  async claim (batchId: bigint, account: string, kind: number, amount: bigint, proof: string[]): Promise<void> {
    await this.#sender.sendCall(this.#settlement, 'claim', [batchId, account, kind, amount, proof], { label: `BatchSettlement.claim(${batchId}, ${account})` })
  }
}
