// The prover role: takes prover.prove jobs (a receipt, or one tile step of another
// circuit) and answers each with a prover.proof carrying a ProofBundle, or an error
// (PROVER_BUSY when its queue is full, PROVER_UNAVAILABLE when the circuit is not
// built, PROOF_INPUT_INVALID when the witness does not satisfy the circuit, PROOF_FAILED
// when the backend failed or its worker died). The actor only admits jobs; the work
// runs in ProverService, so the mailbox stays responsive while proofs are made.

import { VerimeshError } from '../../runtime/errors.js'
import type { Actor, ActorContext, Message } from '../../runtime/actors/types.js'
import { sysError } from '../../runtime/protocol/system-messages.js'
import type { ProverProofMsg, ProverProveMsg } from '../../runtime/protocol/messages.js'
import type { Logger } from '../../runtime/node/logger.js'
import type { NodeMetrics } from '../../runtime/node/metrics.js'
import type { RoleDeps, RoleInstance, RoleModule } from '../roles.js'
import { BUILD_HINT, RECEIPT_CIRCUIT, defaultCircuitsDir, locateCircuit } from './circuits.js'
import { CudaBackend } from './backends/cuda-backend.js'
import { NativeCpuBackend } from './backends/native-cpu-backend.js'
import { SnarkjsPiscinaBackend } from './backends/snarkjs-backend.js'
import type { ProverBackend } from './backends/backend.js'
import type { ProverPool } from './backends/pool.js'
import type { BackendPreference } from './backends/select.js'
import { proverMetrics } from './metrics.js'
import { defaultReceiptEncoding } from './receipt-encoding.js'
import { ProverService, type ProverServiceOptions } from './service.js'
import type { ProverJob } from './types.js'

export class Groth16ProverActor implements Actor {
  readonly #service: ProverService
  readonly #logger: Logger
  readonly #metrics: NodeMetrics

  constructor (service: ProverService, deps: { logger: Logger, metrics: NodeMetrics }) {
    this.#service = service
    this.#logger = deps.logger
    this.#metrics = deps.metrics
  }

  receive (msg: Message, ctx: ActorContext): void {
    this.#metrics.messagesReceived.inc({ role: 'prover', type: msg.type })
    if (msg.type !== 'prover.prove') {
      ctx.replyError(new VerimeshError('UNKNOWN_MESSAGE_TYPE', `prover does not handle '${msg.type}'`, { type: msg.type }))
      return
    }
    const replyTo = ctx.sender
    if (replyTo === undefined) {
      this.#logger.warn({ type: msg.type }, 'prover.prove without a sender: nowhere to send the proof, refused')
      return
    }
    const m = msg as ProverProveMsg
    const send = (reply: Message): void => {
      // The asker may be gone (timed out, its node stopped): a reply that cannot be
      // delivered is logged, never thrown into a promise nobody awaits.
      try {
        replyTo.tell(reply)
      } catch (err) {
        this.#logger.warn({ to: replyTo.address, type: reply.type, err: (err as Error).message }, 'prover reply undeliverable')
      }
    }
    this.#service.submit(m.job as ProverJob, m.requestId === undefined ? {} : { requestId: m.requestId }).then(
      (bundle) => { send({ type: 'prover.proof', bundle } satisfies ProverProofMsg) },
      (err: unknown) => { send(sysError(VerimeshError.from(err, 'PROOF_FAILED'))) }
    )
  }
}

/** The prover role's config section (roles.prover), defaults applied. */
export interface ProverRoleOptions {
  backend: BackendPreference
  threads: number | undefined
  maxQueued: number
  concurrency: number
  circuitsDir: string
}

export function proverRoleOptions (section: Readonly<Record<string, unknown>> | undefined): ProverRoleOptions {
  const s = section ?? {}
  return {
    backend: (s.backend as BackendPreference | undefined) ?? 'auto',
    threads: s.threads as number | undefined,
    maxQueued: (s.maxQueued as number | undefined) ?? 16,
    concurrency: (s.concurrency as number | undefined) ?? 1,
    circuitsDir: (s.circuitsDir as string | undefined) ?? defaultCircuitsDir()
  }
}

export function defaultBackends (threads: number | undefined): (pool: ProverPool) => ProverBackend[] {
  const t = threads === undefined ? {} : { threads }
  return (pool) => [new CudaBackend(), new NativeCpuBackend(t), new SnarkjsPiscinaBackend(pool, t)]
}

export const groth16Prover: RoleModule = {
  role: 'prover',
  name: 'groth16',
  create (deps: RoleDeps): RoleInstance {
    const o = proverRoleOptions(deps.config.roles.prover)
    const opts: ProverServiceOptions = {
      circuitsDir: o.circuitsDir,
      backend: o.backend,
      maxQueued: o.maxQueued,
      concurrency: o.concurrency,
      receipt: defaultReceiptEncoding(),
      logger: deps.logger,
      metrics: proverMetrics(deps.metrics.registry)
    }
    const service = new ProverService(opts, defaultBackends(o.threads))
    deps.logger.info({ backend: service.choice.backend.name, reason: service.choice.reason, considered: service.choice.considered }, `prover backend: ${service.choice.reason}`)
    // Say at start, not at the first request, that proofs cannot be made here yet.
    try {
      locateCircuit(o.circuitsDir, RECEIPT_CIRCUIT)
      // The receipt key loads in the background while the node starts; a proof asked
      // for meanwhile waits for the same load rather than starting another.
      const started = performance.now()
      service.warm(RECEIPT_CIRCUIT).then(
        () => { deps.logger.info({ circuit: RECEIPT_CIRCUIT, ms: Math.round(performance.now() - started) }, 'proving key loaded') },
        (err: unknown) => { deps.logger.warn({ circuit: RECEIPT_CIRCUIT, err: (err as Error).message }, 'proving key failed to load; the first proof will try again') }
      )
    } catch (err) {
      deps.logger.warn({ circuitsDir: o.circuitsDir, err: (err as Error).message }, `the receipt circuit is not built, so this node cannot prove receipts ('proof' requests will fail with PROVER_UNAVAILABLE): ${BUILD_HINT}`)
    }
    return {
      factory: () => new Groth16ProverActor(service, deps),
      close: async () => await service.close()
    }
  }
}
