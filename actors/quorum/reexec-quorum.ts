// A quorum member that verifies by deterministic re-execution: it runs the whole model
// on its own engine with the request's sampling seed and signs the receipt only when
// the output and the execution trace match byte for byte.

import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, Message } from '../../runtime/actors/types.js'
import type { QuorumSignBatchMsg, QuorumVerifyMsg } from '../../runtime/protocol/messages.js'
import { sysError } from '../../runtime/protocol/system-messages.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { connectBatchSettlement, connectNodeRegistry, connectProtocolParams } from '../../runtime/chain/types/index.js'
import { nodeBlsKey } from '../../runtime/crypto/bls.js'
import { BatchCosigner } from './batch-cosigner.js'
import { assertModelRegistered } from '../../runtime/chain/model-check.js'
import { attest, modelIdOf, requestId, verifyRequest } from '../../runtime/protocol/request.js'
import { requestChainId } from '../../runtime/node/config.js'
import type { ShardEngine } from '../engine/engine.js'
import { generateLocally } from '../engine/generate.js'
import { IntShardEngine } from '../engine/int-engine.js'
import { hashTokens } from '../engine/commitments.js'
import type { RoleDeps, RoleInstance, RoleModule } from '../roles.js'
import { RECEIPT_CIRCUIT, defaultCircuitsDir, locateVerificationKey } from '../prover/circuits.js'
import { proverMetrics, type ProverMetrics } from '../prover/metrics.js'
import { expectedReceiptSignals } from '../prover/receipt-encoding.js'
import type { ProofBundle, VerificationReport } from '../prover/types.js'
import { ProofVerifier } from '../prover/verifier.js'

/** How a member checks receipt proofs ('proof' mode). */
export interface QuorumProofCheck {
  readonly verifier: ProofVerifier
  readonly circuitsDir: string
  readonly metrics?: ProverMetrics
}

export class ReexecQuorumMember implements Actor {
  readonly #deps: RoleDeps
  readonly #engine: ShardEngine
  readonly #proofs: QuorumProofCheck
  readonly #cosigner: BatchCosigner | undefined

  constructor (deps: RoleDeps, engine: ShardEngine, proofs: QuorumProofCheck, cosigner?: BatchCosigner) {
    this.#deps = deps
    this.#engine = engine
    this.#proofs = proofs
    this.#cosigner = cosigner
  }

  // Verifications run one at a time: each already uses the worker pool, and queueing
  // here keeps a burst from starving the node's executor.
  async receive (msg: Message, ctx: ActorContext): Promise<void> {
    this.#deps.metrics.messagesReceived.inc({ role: 'quorum', type: msg.type })
    if (msg.type === 'quorum.sign-batch') {
      this.#signBatch(msg as QuorumSignBatchMsg, ctx)
      return
    }
    if (msg.type !== 'quorum.verify') {
      ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `quorum member does not handle '${msg.type}'`, { type: msg.type }))
      return
    }
    try {
      ctx.reply({ type: 'quorum.attestation', ...await this.#verify(msg as QuorumVerifyMsg) })
      this.#deps.metrics.verifications.inc({ outcome: 'match' })
    } catch (err) {
      const e = VerimeshError.from(err, 'VERIFICATION_FAILED')
      this.#deps.metrics.verifications.inc({ outcome: e.code === 'VERIFICATION_FAILED' ? 'mismatch' : 'error' })
      this.#deps.logger.warn({ code: e.code, err: e.message, context: e.context }, 'verification refused')
      ctx.replyError(e)
    }
  }

  // Co-signing checks signatures and rebuilds a tree: it runs beside a re-execution
  // rather than queueing behind one, and answers the captured sender when done.
  #signBatch (m: QuorumSignBatchMsg, ctx: ActorContext): void {
    const replyTo = ctx.sender
    const cosigner = this.#cosigner
    if (cosigner === undefined) {
      ctx.replyError(new VerimeshError('CONFIG_INVALID', 'this quorum member has no chain section and cannot co-sign batches'))
      return
    }
    const send = (reply: Message): void => {
      try { replyTo?.tell(reply) } catch (err) {
        this.#deps.logger.warn({ to: replyTo?.address, err: (err as Error).message }, 'batch signature undeliverable')
      }
    }
    cosigner.sign(m).then(
      (reply) => {
        this.#deps.logger.info({ batchId: m.batchId, epoch: m.epoch, receipts: m.items.length }, 'batch co-signed')
        send(reply)
      },
      (err: unknown) => {
        const e = VerimeshError.from(err, 'VERIFICATION_FAILED')
        this.#deps.logger.warn({ batchId: m.batchId, code: e.code, err: e.message }, 'batch co-signing refused')
        send(sysError(e))
      }
    )
  }

  async #verify (m: QuorumVerifyMsg) {
    const { config, operator } = this.#deps
    const chainId = requestChainId(config)
    verifyRequest(m.request, m.signature, chainId)
    const id = requestId(m.request, chainId)
    const r = m.receipt
    const mismatch = (field: string, expected: unknown, got: unknown): never => {
      throw new VerimeshError('VERIFICATION_FAILED', `receipt ${field} does not match the request`, { field, expected, got, requestId: id })
    }
    if (r.requestId !== id) mismatch('requestId', id, r.requestId)
    if (r.modelId !== this.#engine.model.root) mismatch('modelId', this.#engine.model.root, r.modelId)
    if (r.client.toLowerCase() !== m.request.client.toLowerCase()) mismatch('client', m.request.client, r.client)
    if (BigInt(r.fee) > BigInt(m.request.feeCap)) mismatch('fee', `<= ${m.request.feeCap}`, r.fee)
    if (hashTokens(m.tokens) !== r.outputHash) mismatch('outputHash', hashTokens(m.tokens), r.outputHash)
    if (m.request.model !== config.model.id) throw new VerimeshError('REQUEST_INVALID', `this validator holds '${config.model.id}', not '${m.request.model}'`)
    // The proof first: it takes milliseconds, the re-execution much longer.
    let proofReport: VerificationReport | undefined
    if (m.proof !== undefined) proofReport = await this.#checkProof(m.proof as ProofBundle, r, id)
    else if (m.request.verification === 'proof') throw new VerimeshError('VERIFICATION_FAILED', "the request asks for verification 'proof' and no receipt proof came with it", { requestId: id })

    const prompt = this.#engine.model.encode(m.request.prompt)
    const sampling = { temperatureMilli: m.request.temperatureMilli, topK: m.request.topK, topPMilli: m.request.topPMilli, seed: m.request.seed }
    const mine = await generateLocally(this.#engine, `verify:${id}:${Date.now()}`, prompt, m.request.maxTokens, sampling)
    if (mine.outputHash !== r.outputHash || mine.traceHash !== r.traceHash) {
      const firstDiff = mine.tokens.findIndex((t, i) => t !== m.tokens[i])
      throw new VerimeshError('VERIFICATION_FAILED', mine.outputHash !== r.outputHash
        ? `re-execution produced different tokens (first difference at token ${firstDiff})`
        : 'same tokens, but the execution trace differs', {
        requestId: id, expectedOutputHash: mine.outputHash, gotOutputHash: r.outputHash, expectedTraceHash: mine.traceHash, gotTraceHash: r.traceHash, firstDiff
      })
    }
    return { attestation: await attest(operator, r), ...(proofReport === undefined ? {} : { proofReport }) }
  }

  /** The proof must be of the receipt circuit, commit to this receipt, and verify. */
  async #checkProof (bundle: ProofBundle, receipt: QuorumVerifyMsg['receipt'], id: string): Promise<VerificationReport> {
    const { verifier, circuitsDir, metrics } = this.#proofs
    if (bundle.circuit !== RECEIPT_CIRCUIT) {
      throw new VerimeshError('VERIFICATION_FAILED', `the proof is of circuit '${bundle.circuit}', not '${RECEIPT_CIRCUIT}'`, { requestId: id })
    }
    // Our own commitment to the receipt, never the prover's claim of it.
    const expected = expectedReceiptSignals(receipt)
    if (bundle.publicSignals.length !== expected.length || bundle.publicSignals.some((s, i) => s !== expected[i])) {
      metrics?.verifications.inc({ circuit: bundle.circuit, backend: verifier.backend, outcome: 'wrong_statement' })
      throw new VerimeshError('VERIFICATION_FAILED', 'the proof commits to a different receipt (public signals differ from this receipt\'s commitment)', { requestId: id, expected, got: bundle.publicSignals })
    }
    const report = await verifier.verify(locateVerificationKey(circuitsDir, RECEIPT_CIRCUIT), bundle.proof, expected)
    metrics?.verifications.inc({ circuit: bundle.circuit, backend: report.backend, outcome: report.valid ? 'valid' : 'invalid' })
    metrics?.verifySeconds.observe({ backend: report.backend }, report.ms / 1000)
    if (!report.valid) throw new VerimeshError('VERIFICATION_FAILED', `the receipt proof does not verify: ${report.error ?? 'invalid'}`, { requestId: id, report })
    return report
  }
}

export const reexecQuorum: RoleModule = {
  role: 'quorum',
  name: 'reexec',
  async create (deps: RoleDeps): Promise<RoleInstance> {
    const section = deps.config.roles.quorum
    // A validator attests only to runs of a model the chain knows.
    if (await assertModelRegistered(deps.config.chain, deps.model.root) === 'registered') deps.logger.info({ modelRoot: deps.model.root }, 'model root registered in ModelRegistry')
    // Re-execution runs every shard of the model on this node's own kernels.
    const engine = new IntShardEngine(deps.model, {
      backend: section?.backend ?? 'auto',
      ...(section?.kernel === undefined ? {} : { kernel: section.kernel }),
      threads: section?.threads ?? 1
    })
    // Proofs are checked only in 'proof' mode; the verifier starts its worker on first use.
    const verifier = new ProofVerifier({ preference: section?.proofVerifier ?? 'auto' })
    const proofs: QuorumProofCheck = { verifier, circuitsDir: section?.circuitsDir ?? defaultCircuitsDir(), metrics: proverMetrics(deps.metrics.registry) }
    deps.logger.debug({ verifier: verifier.backend, reason: verifier.reason }, 'receipt proofs are checked with ' + verifier.reason)
    const chain = deps.config.chain
    let cosigner: BatchCosigner | undefined
    let provider: ReturnType<typeof connectProvider> | undefined
    if (chain !== null) {
      provider = connectProvider(chain.rpcUrl, { chainId: chain.chainId })
      const nodes = connectNodeRegistry(chain.contracts.nodeRegistry, provider)
      const params = connectProtocolParams(chain.contracts.params, provider)
      const settlement = connectBatchSettlement(chain.contracts.settlement, provider)
      const key = nodeBlsKey(deps.operator.privateKey, chain.blsKey)
      cosigner = new BatchCosigner({
        chainId: chain.chainId,
        settlement: chain.contracts.settlement,
        feeSplit: async () => {
          const s = await params.feeSplit()
          return { operatorBps: Number(s.operatorBps), validatorBps: Number(s.validatorBps), treasuryBps: Number(s.treasuryBps) }
        },
        isActiveValidator: async (v) => await nodes.isActiveValidator(v),
        settledRoot: async (batchId) => {
          const info = await settlement.batchInfo(batchId)
          return info.status === 0n ? undefined : info.receiptsRoot
        }
      }, key, deps.operator.address)
    }
    return {
      factory: () => new ReexecQuorumMember(deps, engine, proofs, cosigner),
      close: async () => {
        provider?.destroy()
        await verifier.close()
        await engine.close()
      }
    }
  }
}
