// The score-based router: checks the client's signature, picks a cluster of executors
// covering every shard (scoring.ts), drives the pipeline with a stall watchdog and
// retries on another cluster when an executor fails, then has a sampled quorum
// re-execute and attest, and hands the attested receipt to a settler.
//
// Requests are served concurrently: each runs as its own async flow, and the pipeline's
// messages (shard.progress/done/failed) reach it through the actor's mailbox.

import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, ActorRef, Message } from '../../runtime/actors/types.js'
import { sysError, type SysRejectedMessage } from '../../runtime/protocol/system-messages.js'
import type { Attestation, InferSubmitMsg, InferResultMsg, ProverProofMsg, QuorumAttestationMsg, Receipt, RouterStatusReplyMsg, SettleRecordedMsg, SettlementRecord, ShardDoneMsg, ShardFailedMsg, ShardProgressMsg, ShardStepMsg } from '../../runtime/protocol/messages.js'
import type { ProofBundle, VerificationReport } from '../prover/types.js'
import { modelIdOf, receiptHash, requestId, verifyAttestation, verifyRequest } from '../../runtime/protocol/request.js'
import { requestChainId } from '../../runtime/node/config.js'
import { EMPTY_TRACE } from '../engine/commitments.js'
import { rolePath, type RoleDeps, type RoleInstance, type RoleModule } from '../roles.js'
import { sampleQuorum, scorePeers, selectCluster, type Hop } from './scoring.js'
import { StakeBook } from './stake-book.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { connectNodeRegistry } from '../../runtime/chain/types/index.js'

interface RouterOptions {
  quorumSize: number
  maxAttempts: number
  stallMs: number
  pricePerTokenWei: bigint
}

interface Attempt {
  route: string[]
  lastStage: number
  watchdog: NodeJS.Timeout | undefined
  resolve: (done: ShardDoneMsg) => void
  reject: (err: VerimeshError) => void
}

export class ScoreRouter implements Actor {
  readonly #deps: RoleDeps
  readonly #opts: RouterOptions
  readonly #stakes: StakeBook
  readonly #attempts = new Map<string, Attempt>()
  readonly #chainId: number

  constructor (deps: RoleDeps, opts: RouterOptions, stakes: StakeBook) {
    this.#deps = deps
    this.#opts = opts
    this.#stakes = stakes
    this.#chainId = requestChainId(deps.config)
  }

  receive (msg: Message, ctx: ActorContext): void {
    this.#deps.metrics.messagesReceived.inc({ role: 'router', type: msg.type })
    switch (msg.type) {
      case 'infer.submit': {
        const replyTo = ctx.sender
        if (replyTo === undefined) {
          this.#deps.logger.warn({ type: msg.type }, 'infer.submit without a sender: nowhere to reply, dropped')
          return
        }
        void this.#serve(msg as InferSubmitMsg, replyTo, ctx.self)
        return
      }
      case 'router.status':
        ctx.reply(this.#status())
        return
      case 'shard.progress': {
        const p = msg as ShardProgressMsg
        const a = this.#attempts.get(p.session)
        if (a !== undefined) {
          a.lastStage = p.stage
          this.#arm(p.session, a)
        }
        return
      }
      case 'shard.done': {
        const d = msg as ShardDoneMsg
        this.#attempts.get(d.session)?.resolve(d)
        return
      }
      case 'shard.failed': {
        const f = msg as ShardFailedMsg
        this.#attempts.get(f.session)?.reject(VerimeshError.fromWire(f.error as never, { stage: f.stage, peer: f.peer }))
        return
      }
      case 'sys.rejected': {
        // Our first shard.step was refused by the executor's node: fail that attempt now
        // instead of waiting for the watchdog.
        const r = msg as SysRejectedMessage
        for (const a of this.#attempts.values()) {
          if (a.route[0] === r.target) a.reject(VerimeshError.fromWire(r.error as never, { target: r.target }))
        }
        return
      }
      default:
        ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `router does not handle '${msg.type}'`, { type: msg.type }))
    }
  }

  postStop (): void {
    for (const a of this.#attempts.values()) a.reject(new VerimeshError('ACTOR_STOPPED', 'router stopped'))
  }

  async #serve (msg: InferSubmitMsg, replyTo: ActorRef, self: ActorRef): Promise<void> {
    const { logger, metrics, config } = this.#deps
    const started = performance.now()
    const { request, signature } = msg
    let id = '0x'
    try {
      verifyRequest(request, signature, this.#chainId)
      id = requestId(request, this.#chainId)
      if (request.model !== config.model.id) {
        throw new VerimeshError('REQUEST_INVALID', `this mesh serves model '${config.model.id}', not '${request.model}'`, { model: request.model })
      }
      const now = Date.now()
      if (request.deadline <= now) throw new VerimeshError('REQUEST_INVALID', 'request deadline has passed', { deadline: request.deadline, now })
      const { model } = this.#deps
      // Checked on the text: a tokenizer that adds BOS never returns an empty prompt.
      if (request.prompt.length === 0) throw new VerimeshError('REQUEST_INVALID', 'prompt is empty')
      const prompt = model.encode(request.prompt)
      if (prompt.length + request.maxTokens > model.config.dims.context) {
        throw new VerimeshError('REQUEST_INVALID', `prompt (${prompt.length} tokens) plus maxTokens (${request.maxTokens}) exceeds the model's context of ${model.config.dims.context}`, { promptTokens: prompt.length, maxTokens: request.maxTokens })
      }
      const deadlineAt = Math.min(request.deadline, now + request.latencyBoundMs)
      logger.info({ requestId: id, client: request.client, maxTokens: request.maxTokens }, 'request accepted')

      const { done, hops, attempts } = await this.#execute(id, msg, prompt, deadlineAt, self)
      const executeMs = performance.now() - started

      const fee = this.#opts.pricePerTokenWei * BigInt(done.tokens.length)
      const receipt: Receipt = {
        requestId: id,
        // The model root binds the receipt to the exact weights that ran.
        modelId: this.#deps.model.root,
        client: request.client,
        outputHash: done.outputHash,
        traceHash: done.traceHash,
        executors: hops.map((h) => h.peer.info.operator),
        fee: (fee < BigInt(request.feeCap) ? fee : BigInt(request.feeCap)).toString()
      }
      const hash = receiptHash(receipt)

      // 'proof': a prover proves the receipt first, then the quorum checks that proof as
      // well as re-executing. 'quorum' is unchanged; 'none' skips both.
      let proof: ProofBundle | undefined
      let proveMs: number | undefined
      if (request.verification === 'proof') {
        const proveStart = performance.now()
        proof = await this.#prove(receipt, deadlineAt)
        proveMs = performance.now() - proveStart
      }
      let attestations: Attestation[] = []
      let proofReports: Array<{ validator: string, report: VerificationReport }> | undefined
      const verifyStart = performance.now()
      if (request.verification === 'quorum' || request.verification === 'proof') {
        const verified = await this.#verify(msg, done, receipt, hops, deadlineAt, proof)
        attestations = verified.attestations
        if (proof !== undefined) proofReports = verified.proofReports
      }
      const verifyMs = performance.now() - verifyStart

      const settleStart = performance.now()
      const settlement = attestations.length > 0 ? await this.#settle(receipt, attestations, deadlineAt, proof?.publicSignals[0]) : null
      const settleMs = performance.now() - settleStart

      const result: InferResultMsg = {
        type: 'infer.result',
        requestId: id,
        tokens: done.tokens,
        text: this.#deps.model.decode(done.tokens),
        outputHash: done.outputHash,
        traceHash: done.traceHash,
        route: hops.map((h) => ({ shard: h.shard, address: `${h.peer.info.peer}${rolePath('executor')}`, peer: h.peer.info.peer, operator: h.peer.info.operator })),
        backend: done.backend,
        attempts,
        verification: request.verification,
        attestations,
        ...(proof === undefined ? {} : { proof }),
        ...(proofReports === undefined ? {} : { proofReports }),
        receipt,
        receiptHash: hash,
        settlement: settlement === null ? null : settlementRecord(settlement),
        timings: { executeMs, verifyMs, settleMs, totalMs: performance.now() - started, ...(proveMs === undefined ? {} : { proveMs }) }
      }
      metrics.requests.inc({ outcome: 'ok' })
      metrics.requestSeconds.observe({ phase: 'execute' }, executeMs / 1000)
      if (proveMs !== undefined) metrics.requestSeconds.observe({ phase: 'prove' }, proveMs / 1000)
      metrics.requestSeconds.observe({ phase: 'verify' }, verifyMs / 1000)
      metrics.requestSeconds.observe({ phase: 'settle' }, settleMs / 1000)
      metrics.requestSeconds.observe({ phase: 'total' }, result.timings.totalMs / 1000)
      logger.info({ requestId: id, tokens: done.tokens.length, attempts, txHash: settlement?.txHash, totalMs: Math.round(result.timings.totalMs) }, 'request served')
      replyTo.tell(result)
    } catch (err) {
      const e = VerimeshError.from(err, 'INTERNAL', { requestId: id })
      metrics.requests.inc({ outcome: e.code })
      logger.warn({ requestId: id, code: e.code, err: e.message, context: e.context }, 'request failed')
      replyTo.tell(sysError(e))
    }
  }

  /** Run the pipeline, retrying on a fresh cluster (without the suspect) until success or deadline. */
  async #execute (id: string, msg: InferSubmitMsg, prompt: number[], deadlineAt: number, self: ActorRef): Promise<{ done: ShardDoneMsg, hops: Hop[], attempts: number }> {
    const { config, mesh, system, logger } = this.#deps
    const exclude = new Set<string>()
    const failures: Array<{ attempt: number, peer?: string, code: string, message: string }> = []
    for (let attempt = 1; attempt <= this.#opts.maxAttempts; attempt++) {
      if (Date.now() >= deadlineAt) break
      const scored = scorePeers(mesh.peers(), this.#stakes.stakes())
      const hops = selectCluster(scored, config.model.id, this.#deps.model.shards.length, exclude)
      const route = hops.map((h) => `${h.peer.info.peer}${rolePath('executor')}`)
      const session = `${id}:${attempt}`
      const step: ShardStepMsg = {
        type: 'shard.step',
        session,
        requestId: id,
        model: config.model.id,
        step: 0,
        stage: 0,
        route,
        input: { kind: 'tokens', tokens: prompt },
        maxTokens: msg.request.maxTokens,
        sampling: { temperatureMilli: msg.request.temperatureMilli, topK: msg.request.topK, topPMilli: msg.request.topPMilli, seed: msg.request.seed },
        trace: EMPTY_TRACE,
        tokens: [],
        replyTo: self.address
      }
      const outcome = this.#awaitAttempt(session, route, deadlineAt)
      try {
        system.ref(route[0]!).tell(step, self)
      } catch (err) {
        this.#attempts.get(session)?.reject(VerimeshError.from(err, 'PEER_UNREACHABLE', { target: route[0] }))
      }
      try {
        return { done: await outcome, hops, attempts: attempt }
      } catch (err) {
        const e = VerimeshError.from(err, 'EXECUTION_FAILED')
        const suspect = this.#suspect(e, hops)
        if (suspect !== undefined) exclude.add(suspect)
        failures.push({ attempt, ...(suspect === undefined ? {} : { peer: suspect }), code: e.code, message: e.message })
        logger.warn({ requestId: id, attempt, suspect, code: e.code, err: e.message }, 'pipeline attempt failed')
        if (e.code === 'REQUEST_INVALID') throw e
      }
    }
    if (Date.now() >= deadlineAt) {
      throw new VerimeshError('DEADLINE_EXCEEDED', `request not completed within its latency bound after ${failures.length} attempt(s)`, { requestId: id, failures })
    }
    throw new VerimeshError('EXECUTION_FAILED', `all ${failures.length} pipeline attempt(s) failed; last: ${failures.at(-1)?.message ?? 'unknown'}`, { requestId: id, failures })
  }

  #awaitAttempt (session: string, route: string[], deadlineAt: number): Promise<ShardDoneMsg> {
    return new Promise<ShardDoneMsg>((resolve, reject) => {
      const deadline = setTimeout(() => attempt.reject(new VerimeshError('DEADLINE_EXCEEDED', 'latency bound reached while the pipeline was running', { session, lastStage: attempt.lastStage })), Math.max(0, deadlineAt - Date.now()))
      const settle = (): void => {
        clearTimeout(deadline)
        clearTimeout(attempt.watchdog)
        this.#attempts.delete(session)
      }
      const attempt: Attempt = {
        route,
        lastStage: -1,
        watchdog: undefined,
        resolve: (d) => { settle(); resolve(d) },
        reject: (e) => { settle(); reject(e) }
      }
      this.#attempts.set(session, attempt)
      this.#arm(session, attempt)
    })
  }

  /** (Re)start the stall watchdog: no progress for stallMs fails the attempt. */
  #arm (session: string, a: Attempt): void {
    clearTimeout(a.watchdog)
    a.watchdog = setTimeout(() => {
      const next = (a.lastStage + 1) % a.route.length
      a.reject(new VerimeshError('EXECUTION_FAILED', `pipeline stalled: no progress for ${this.#opts.stallMs} ms after stage ${a.lastStage}`, { session, stalledAt: a.route[next], stage: next }))
    }, this.#opts.stallMs)
  }

  /** The peer most likely at fault for a failed attempt. */
  #suspect (e: VerimeshError, hops: Hop[]): string | undefined {
    const ctx = e.context
    const addr = (ctx.stalledAt ?? ctx.target ?? ctx.next) as string | undefined
    if (typeof addr === 'string') return addr.split('/')[0]
    if (typeof ctx.peer === 'string') return ctx.peer
    if (typeof ctx.stage === 'number') return hops[ctx.stage]?.peer.info.peer
    return undefined
  }

  /** A receipt proof from this node's prover, or else the best-scoring live one in the mesh. */
  async #prove (receipt: Receipt, deadlineAt: number): Promise<ProofBundle> {
    const { mesh, system, config, logger } = this.#deps
    const self = mesh.peer(system.peerId)
    const prover = self?.roles.includes('prover') === true
      ? self
      : scorePeers(mesh.peers().filter((p) => p.live && p.roles.includes('prover')), this.#stakes.stakes())
        .sort((a, b) => (b.score - a.score) || (a.info.peer < b.info.peer ? -1 : 1))[0]?.info
    if (prover === undefined) {
      throw new VerimeshError('PROVER_UNAVAILABLE', "verification 'proof' needs a prover, and no live node in the mesh runs the prover role", { requestId: receipt.requestId })
    }
    try {
      const reply = await system.ref(`${prover.peer}${rolePath('prover')}`).ask<ProverProofMsg>(
        { type: 'prover.prove', job: { kind: 'receipt', receipt }, requestId: receipt.requestId },
        { timeoutMs: Math.max(1, deadlineAt - Date.now()) }
      )
      const bundle = reply.bundle as ProofBundle
      logger.info({ requestId: receipt.requestId, prover: prover.peer.slice(-8), backend: bundle.backend, proveMs: Math.round(bundle.timings.proveMs), totalMs: Math.round(bundle.timings.totalMs) }, 'receipt proved')
      return bundle
    } catch (err) {
      const e = VerimeshError.from(err, 'PROOF_FAILED')
      throw new VerimeshError(e.code, `receipt proof from ${prover.peer.slice(-8)} failed: ${e.message}`, { ...e.context, requestId: receipt.requestId, prover: prover.peer })
    }
  }

  async #verify (msg: InferSubmitMsg, done: ShardDoneMsg, receipt: Receipt, hops: Hop[], deadlineAt: number, proof?: ProofBundle): Promise<{ attestations: Attestation[], proofReports: Array<{ validator: string, report: VerificationReport }> }> {
    const { mesh, system, metrics } = this.#deps
    const executors = new Set(hops.map((h) => h.peer.info.peer))
    const members = sampleQuorum(receipt.requestId, mesh.peers(), this.#opts.quorumSize, executors)
    if (members.length < this.#opts.quorumSize) {
      throw new VerimeshError('VERIFICATION_FAILED', `quorum needs ${this.#opts.quorumSize} live validators, only ${members.length} available`, { requestId: receipt.requestId })
    }
    const timeoutMs = Math.max(1, deadlineAt - Date.now())
    const results = await Promise.allSettled(members.map(async (m) => {
      const reply = await system.ref(`${m.peer}${rolePath('quorum')}`).ask<QuorumAttestationMsg>({
        type: 'quorum.verify', request: msg.request, signature: msg.signature, tokens: done.tokens, receipt, ...(proof === undefined ? {} : { proof })
      }, { timeoutMs })
      verifyAttestation(reply.attestation, receipt)
      if (reply.attestation.validator.toLowerCase() !== m.operator.toLowerCase()) {
        throw new VerimeshError('BAD_SIGNATURE', `attestation from ${m.peer} is signed by ${reply.attestation.validator}, its operator is ${m.operator}`)
      }
      // A member asked to check a proof must say it did, and that it holds.
      if (proof !== undefined && reply.proofReport?.valid !== true) {
        throw new VerimeshError('VERIFICATION_FAILED', `validator did not confirm the receipt proof${reply.proofReport?.error === undefined ? '' : `: ${reply.proofReport.error}`}`, { validator: m.peer })
      }
      return { attestation: reply.attestation, report: reply.proofReport as VerificationReport | undefined }
    }))
    const refusals = results.flatMap((r, i) => r.status === 'rejected'
      ? [{ validator: members[i]!.peer, code: VerimeshError.from(r.reason).code, message: VerimeshError.from(r.reason).message }]
      : [])
    if (refusals.length > 0) {
      metrics.verifications.inc({ outcome: 'refused' })
      throw new VerimeshError('VERIFICATION_FAILED', `quorum did not attest: ${refusals.map((r) => `${r.validator.slice(-8)}: ${r.message}`).join('; ')}`, { requestId: receipt.requestId, refusals })
    }
    metrics.verifications.inc({ outcome: 'attested' })
    const values = results.map((r) => (r as PromiseFulfilledResult<{ attestation: Attestation, report: VerificationReport | undefined }>).value)
    return {
      attestations: values.map((v) => v.attestation),
      proofReports: values.flatMap((v) => v.report === undefined ? [] : [{ validator: v.attestation.validator, report: v.report }])
    }
  }

  async #settle (receipt: Receipt, attestations: Attestation[], deadlineAt: number, proofStatement: string | undefined): Promise<SettleRecordedMsg> {
    const { mesh, system, config } = this.#deps
    const self = mesh.peer(system.peerId)
    const settler = self?.roles.includes('settler') === true
      ? self
      : scorePeers(mesh.peers().filter((p) => p.live && p.roles.includes('settler')), this.#stakes.stakes())
        .sort((a, b) => (b.score - a.score) || (a.info.peer < b.info.peer ? -1 : 1))[0]?.info
    if (settler === undefined) throw new VerimeshError('SETTLEMENT_FAILED', 'no live settler in the mesh', { requestId: receipt.requestId })
    return await system.ref(`${settler.peer}${rolePath('settler')}`).ask<SettleRecordedMsg>(
      { type: 'settle.submit', receipt, attestations, ...(proofStatement === undefined ? {} : { proofStatement }) },
      { timeoutMs: Math.max(5_000, deadlineAt - Date.now()) }
    )
  }

  #status (): RouterStatusReplyMsg {
    const { mesh, config, system } = this.#deps
    const scored = scorePeers(mesh.peers(), this.#stakes.stakes())
    const covered = new Set<number>()
    for (const s of scored) {
      if (s.info.live && s.info.model === config.model.id && s.info.roles.includes('executor')) s.info.shards.forEach((x) => covered.add(x))
    }
    return {
      type: 'router.status.reply',
      peer: system.peerId,
      peers: scored.map((s) => ({
        peer: s.info.peer,
        operator: s.info.operator,
        roles: [...s.info.roles],
        shards: [...s.info.shards],
        stake: s.stake.toString(),
        uptime: s.info.uptime,
        p95LatencyMs: s.info.p95LatencyMs,
        score: s.score,
        lastSeenMs: Date.now() - s.info.lastSeen
      })),
      coveredShards: [...covered].sort((a, b) => a - b),
      shardCount: this.#deps.model.shards.length
    }
  }
}

export const scoreRouter: RoleModule = {
  role: 'router',
  name: 'score',
  create (deps: RoleDeps): RoleInstance {
    const o = deps.config.roles.router
    const opts: RouterOptions = {
      quorumSize: o?.quorumSize ?? 2,
      maxAttempts: o?.maxAttempts ?? 3,
      stallMs: o?.stallMs ?? 4000,
      pricePerTokenWei: BigInt(o?.pricePerTokenWei ?? '0')
    }
    const chain = deps.config.chain
    const provider = chain === null ? undefined : connectProvider(chain.rpcUrl, { chainId: chain.chainId })
    const registry = chain === null || provider === undefined ? undefined : connectNodeRegistry(chain.contracts.nodeRegistry, provider)
    const stakes = new StakeBook(deps.config.mesh.stakes, () => deps.mesh.peers().map((p) => p.operator), deps.logger,
      registry === undefined ? undefined : async (op) => await registry.bondedStakeOf(op))
    stakes.start(5_000)
    return {
      factory: () => new ScoreRouter(deps, opts, stakes),
      close: async () => {
        stakes.stop()
        provider?.destroy()
      }
    }
  }
}

/** The record inside a settle.recorded reply, without the message type. */
function settlementRecord (m: SettleRecordedMsg): SettlementRecord {
  const { type: _type, ...record } = m
  return record
}
