// Rebuild, from an InferResult alone, the batch its receipt was settled in (tests settle
// one request per batch), as a client or an auditor would to claim or to prove.
import { buildBatch, type Batch } from '../runtime/chain/batch.js'
import { connectProtocolParams } from '../runtime/chain/types/index.js'
import { leafOfItem } from '../runtime/protocol/batch-item.js'
import type { InferResultMsg } from '../runtime/protocol/messages.js'
import type { Provider } from 'ethers'

export async function rebuildSettledBatch (provider: Provider, chainId: number, params: string, result: InferResultMsg): Promise<Batch> {
  const st = result.settlement
  if (st === null) throw new Error(`request ${result.requestId} was not settled`)
  if (st.receiptCount !== 1) throw new Error(`batch ${st.batchId} holds ${st.receiptCount} receipts; this helper rebuilds batches of one`)
  const s = await connectProtocolParams(params, provider).feeSplit()
  const proofStatement = result.proof?.publicSignals[0]
  return buildBatch({
    batchId: BigInt(st.batchId),
    epoch: BigInt(st.epoch),
    chainId: BigInt(chainId),
    settlement: st.contract,
    receipts: [leafOfItem({ receipt: result.receipt, attestations: result.attestations, ...(proofStatement === undefined ? {} : { proofStatement }) })],
    split: { operatorBps: Number(s.operatorBps), validatorBps: Number(s.validatorBps), treasuryBps: Number(s.treasuryBps) }
  })
}
