// The pipeline shard executor: runs its shards' layers for each step it is sent, then
// forwards the activations straight to the next executor in the route (the router never
// sees them). The last shard samples the token and either loops the pipeline back to
// the first shard for the next step or reports the finished generation.
//
// Steps of different sessions run concurrently; steps of one session arrive in order
// because the pipeline only advances once the previous stage has finished.

import { VerimeshError } from '../../runtime/errors.js'
import { assertModelRegistered } from '../../runtime/chain/model-check.js'
import type { Actor, ActorContext, ActorRef, Message } from '../../runtime/actors/types.js'
import type { ShardStepMsg } from '../../runtime/protocol/messages.js'
import type { SysRejectedMessage } from '../../runtime/protocol/system-messages.js'
import type { ShardEngine, ShardInput } from '../engine/engine.js'
import { IntShardEngine } from '../engine/int-engine.js'
import { extendTrace, hashTokens, sha256Hex } from '../engine/commitments.js'
import type { RoleDeps, RoleInstance, RoleModule } from '../roles.js'

export class PipelineExecutor implements Actor {
  readonly #deps: RoleDeps
  readonly #engine: ShardEngine
  readonly #shards: ReadonlySet<number>
  /** Where each session's last step was forwarded, to fail it fast if that hop refuses. */
  readonly #nextHop = new Map<string, { target: string, replyTo: string, stage: number }>()

  constructor (deps: RoleDeps, engine: ShardEngine, shards: readonly number[]) {
    this.#deps = deps
    this.#engine = engine
    this.#shards = new Set(shards)
  }

  receive (msg: Message, ctx: ActorContext): void {
    this.#deps.metrics.messagesReceived.inc({ role: 'executor', type: msg.type })
    if (msg.type === 'shard.step') {
      void this.#step(msg as ShardStepMsg, ctx.self)
      return
    }
    if (msg.type === 'sys.rejected') {
      const r = msg as SysRejectedMessage
      for (const [session, hop] of this.#nextHop) {
        if (hop.target !== r.target) continue
        this.#nextHop.delete(session)
        this.#fail(session, hop.replyTo, hop.stage, VerimeshError.fromWire(r.error as never, { next: r.target }))
      }
      return
    }
    ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `executor does not handle '${msg.type}'`, { type: msg.type }))
  }

  async postStop (): Promise<void> {
    this.#nextHop.clear()
  }

  async #step (m: ShardStepMsg, self: ActorRef): Promise<void> {
    const { system, metrics, config } = this.#deps
    const shard = m.stage
    const started = performance.now()
    try {
      if (m.model !== config.model.id) throw new VerimeshError('REQUEST_INVALID', `executor serves '${config.model.id}', not '${m.model}'`, { model: m.model })
      if (!this.#shards.has(shard)) throw new VerimeshError('REQUEST_INVALID', `this executor does not hold shard ${shard}`, { shard, held: [...this.#shards] })
      if (m.route.length !== this.#engine.model.shards.length) throw new VerimeshError('REQUEST_INVALID', `route has ${m.route.length} hops, model has ${this.#engine.model.shards.length} shards`)
      let input: ShardInput
      if (m.input.kind === 'activations') {
        const data = m.input.data
        const got = sha256Hex(data)
        if (got !== m.input.hash) throw new VerimeshError('REQUEST_INVALID', 'activations do not match their hash', { expected: m.input.hash, got, shard })
        input = { kind: 'activations', data }
      } else {
        input = { kind: 'tokens', tokens: m.input.tokens }
      }

      const out = await this.#engine.step({ session: m.session, shard, step: m.step, input, sampling: m.sampling })
      metrics.shardSteps.inc({ shard: String(shard) })
      metrics.shardStepSeconds.observe({ shard: String(shard) }, (performance.now() - started) / 1000)
      const trace = extendTrace(m.trace, m.step, shard, out.activationsHash)
      const replyTo = system.ref(m.replyTo)
      replyTo.tell({ type: 'shard.progress', session: m.session, step: m.step, stage: shard, peer: system.peerId })

      if (out.token === undefined) {
        this.#forward(m, self, {
          ...m, stage: shard + 1, trace,
          input: { kind: 'activations', data: out.activations, hash: out.activationsHash }
        })
        return
      }
      // Test-only fault injection: an executor that lies about its output.
      const token = config.faults?.tamperOutput === true ? (out.token + 1) % this.#engine.model.vocab : out.token
      const tokens = [...m.tokens, token]
      if (tokens.length >= m.maxTokens) {
        this.#nextHop.delete(m.session)
        this.#engine.endSession(m.session)
        replyTo.tell({ type: 'shard.done', session: m.session, tokens, outputHash: hashTokens(tokens), traceHash: trace, backend: this.#engine.backend })
        return
      }
      this.#forward(m, self, { ...m, step: m.step + 1, stage: 0, trace, tokens, input: { kind: 'tokens', tokens: [token] } })
    } catch (err) {
      this.#fail(m.session, m.replyTo, shard, VerimeshError.from(err, 'EXECUTION_FAILED', { shard, step: m.step }))
    }
  }

  #forward (m: ShardStepMsg, self: ActorRef, next: ShardStepMsg): void {
    const target = m.route[next.stage]!
    this.#nextHop.set(m.session, { target, replyTo: m.replyTo, stage: next.stage })
    this.#deps.system.ref(target).tell(next, self)
  }

  #fail (session: string, replyTo: string, stage: number, e: VerimeshError): void {
    this.#engine.endSession(session)
    this.#deps.logger.warn({ session, stage, code: e.code, err: e.message }, 'shard step failed')
    try {
      this.#deps.system.ref(replyTo).tell({ type: 'shard.failed', session, stage, peer: this.#deps.system.peerId, error: { code: e.code, message: e.message, context: plainContext(e.context) } })
    } catch (err) {
      this.#deps.logger.error({ session, err: (err as Error).message }, 'could not report a failed step to the router')
    }
  }
}

function plainContext (ctx: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(ctx, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)) as Record<string, unknown>
}

export const pipelineExecutor: RoleModule = {
  role: 'executor',
  name: 'pipeline',
  async create (deps: RoleDeps): Promise<RoleInstance> {
    const section = deps.config.roles.executor
    if (section === undefined) throw new VerimeshError('CONFIG_INVALID', 'executor role needs roles.executor.shards')
    const { model } = deps
    for (const s of section.shards) {
      if (s >= model.shards.length) throw new VerimeshError('CONFIG_INVALID', `roles.executor.shards names shard ${s}, model '${model.id}' has ${model.shards.length}`, { shard: s })
    }
    if (await assertModelRegistered(deps.config.chain, model.root) === 'registered') deps.logger.info({ modelRoot: model.root }, 'model root registered in ModelRegistry')
    const engine = new IntShardEngine(model, {
      backend: section.backend,
      ...(section.kernel === undefined ? {} : { kernel: section.kernel }),
      ...(section.threads === undefined ? {} : { threads: section.threads }),
      onBackend: (shard, name, fallback) => {
        if (fallback === undefined) deps.logger.info({ shard, backend: name }, 'shard loaded')
        else deps.logger.warn({ shard, backend: name, reason: fallback }, 'shard loaded on the JS fallback: the native addon is unavailable')
      }
    })
    // Load (and verify) every held shard now, so a corrupt package fails the node at start.
    for (const s of section.shards) await engine.preload(s)
    return {
      factory: () => new PipelineExecutor(deps, engine, section.shards),
      close: async () => await engine.close()
    }
  }
}
