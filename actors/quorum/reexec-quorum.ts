// A quorum member that verifies by deterministic re-execution: it runs the whole model
// on its own engine with the request's sampling seed and signs the receipt only when
// the output and the execution trace match byte for byte.

import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, Message } from '../../runtime/actors/types.js'
import type { QuorumVerifyMsg } from '../../runtime/protocol/messages.js'
import { attest, modelIdOf, requestId, verifyRequest } from '../../runtime/protocol/request.js'
import { requestChainId } from '../../runtime/node/config.js'
import type { ShardEngine } from '../engine/engine.js'
import { generateLocally } from '../engine/generate.js'
import { IntShardEngine } from '../engine/int-engine.js'
import { hashTokens } from '../engine/commitments.js'
import type { RoleDeps, RoleInstance, RoleModule } from '../roles.js'

export class ReexecQuorumMember implements Actor {
  readonly #deps: RoleDeps
  readonly #engine: ShardEngine

  constructor (deps: RoleDeps, engine: ShardEngine) {
    this.#deps = deps
    this.#engine = engine
  }

  // Verifications run one at a time: each already uses the worker pool, and queueing
  // here keeps a burst from starving the node's executor.
  async receive (msg: Message, ctx: ActorContext): Promise<void> {
    this.#deps.metrics.messagesReceived.inc({ role: 'quorum', type: msg.type })
    if (msg.type !== 'quorum.verify') {
      ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `quorum member does not handle '${msg.type}'`, { type: msg.type }))
      return
    }
    try {
      ctx.reply({ type: 'quorum.attestation', attestation: await this.#verify(msg as QuorumVerifyMsg) })
      this.#deps.metrics.verifications.inc({ outcome: 'match' })
    } catch (err) {
      const e = VerimeshError.from(err, 'VERIFICATION_FAILED')
      this.#deps.metrics.verifications.inc({ outcome: e.code === 'VERIFICATION_FAILED' ? 'mismatch' : 'error' })
      this.#deps.logger.warn({ code: e.code, err: e.message, context: e.context }, 'verification refused')
      ctx.replyError(e)
    }
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
    return await attest(operator, r)
  }
}

export const reexecQuorum: RoleModule = {
  role: 'quorum',
  name: 'reexec',
  create (deps: RoleDeps): RoleInstance {
    const section = deps.config.roles.quorum
    // Re-execution runs every shard of the model on this node's own kernels.
    const engine = new IntShardEngine(deps.model, {
      backend: section?.backend ?? 'auto',
      ...(section?.kernel === undefined ? {} : { kernel: section.kernel }),
      threads: section?.threads ?? 1
    })
    return {
      factory: () => new ReexecQuorumMember(deps, engine),
      close: async () => await engine.close()
    }
  }
}
