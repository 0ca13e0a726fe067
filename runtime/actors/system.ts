// The public face of the runtime: options, the /user guardian, and the ActorSystemApi
// calls, delegating routing to the Router and actor life to cells. Everything lives on
// the instance, so several systems in one process are independent.

import { VerimeshError } from '../errors.js'
import { Cell } from './cell.js'
import { systemStopped } from './failures.js'
import { describe, type Logger } from './internal.js'
import { parseAddress } from './ref.js'
import { Router } from './router.js'
import { DEFAULT_SUPERVISOR, resolveSpec } from './supervisor.js'
import type {
  ActorFactory, ActorRef, ActorSystemApi, Address, DeadLetter, Escalation, OutboundEnvelope,
  RemoteTransport, SpawnOptions, SupervisorSpec
} from './types.js'

export interface ActorSystemOptions {
  /** This node's peer id; addresses are `<peerId>/<path>`. Default 'local'. */
  peerId?: string
  /** Default ask timeout. Default 5000. */
  askTimeoutMs?: number
  /** Mailbox capacity of actors spawned without one. Default 10 000. */
  defaultMailboxCapacity?: number
  /** How the /user guardian supervises top-level actors (over DEFAULT_SUPERVISOR). */
  rootSupervisor?: Partial<SupervisorSpec>
  /** How an actor supervises its children when its spawn options do not say (over DEFAULT_SUPERVISOR). */
  defaultSupervisor?: Partial<SupervisorSpec>
  /** Messages one actor handles before yielding to the event loop. Default 1024. */
  throughput?: number
  /** Default: warn and error as JSON lines on stderr, the rest dropped. */
  logger?: Logger
}

const defaultLogger: Logger = (level, msg, fields) => {
  if (level === 'warn' || level === 'error') process.stderr.write(JSON.stringify({ level, msg, ...fields }) + '\n')
}

function positiveInt (name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new VerimeshError('CONFIG_INVALID', `${name} must be a positive integer, got ${String(value)}`, { [name]: value })
  return value
}

export class ActorSystem implements ActorSystemApi {
  readonly peerId: string
  readonly #router: Router
  readonly #root: Cell
  #stopping: Promise<void> | undefined

  constructor (opts: ActorSystemOptions = {}) {
    const peerId = opts.peerId ?? 'local'
    if (peerId.length === 0 || peerId.includes('/')) throw new VerimeshError('CONFIG_INVALID', `invalid peerId '${peerId}'`, { peerId })
    const askTimeoutMs = opts.askTimeoutMs ?? 5000
    if (!(askTimeoutMs > 0)) throw new VerimeshError('CONFIG_INVALID', 'askTimeoutMs must be > 0', { askTimeoutMs })
    const defaultSupervisor = resolveSpec(DEFAULT_SUPERVISOR, opts.defaultSupervisor)
    this.peerId = peerId
    this.#router = new Router({
      peerId,
      api: this,
      askTimeoutMs,
      throughput: positiveInt('throughput', opts.throughput ?? 1024),
      defaultMailboxCapacity: positiveInt('defaultMailboxCapacity', opts.defaultMailboxCapacity ?? 10_000),
      defaultSupervisor,
      log: opts.logger ?? defaultLogger
    })
    this.#root = Cell.root(this.#router, resolveSpec(DEFAULT_SUPERVISOR, opts.rootSupervisor))
  }

  /** The /user guardian. */
  get root (): ActorRef {
    return this.#root.ref
  }

  /** Dead letters so far (also emitted one by one as 'deadLetter'). */
  get deadLetterCount (): number {
    return this.#router.deadLetters
  }

  ref (addressOrPath: Address): ActorRef {
    return this.#router.ref(addressOrPath)
  }

  /** A top-level actor at `/user/<name>`. Throws NAME_TAKEN, CONFIG_INVALID, SYSTEM_STOPPED, or what the factory throws. */
  spawn (name: string, factory: ActorFactory, opts?: SpawnOptions): ActorRef {
    if (this.#stopping !== undefined) throw systemStopped(this.peerId)
    return this.#root.spawnChild(name, factory, opts)
  }

  lookup (pathOrAddress: string): ActorRef | undefined {
    let path = pathOrAddress
    if (!pathOrAddress.startsWith('/')) {
      try {
        const parsed = parseAddress(pathOrAddress, this.peerId)
        if (parsed.peer !== this.peerId) return undefined
        path = parsed.path
      } catch {
        return undefined
      }
    }
    const cell = this.#router.lookupCell(path)
    return cell === undefined || cell.isStopping ? undefined : cell.ref
  }

  /** Stop a local actor and its subtree (resolves once postStop hooks have run). */
  stopActor (ref: ActorRef): Promise<void> {
    if (ref.peer !== this.peerId) return Promise.reject(new VerimeshError('NO_SUCH_ACTOR', `${ref.address} is not local`, { target: ref.address }))
    const cell = this.#router.lookupCell(ref.path)
    if (cell === undefined) return Promise.resolve()
    if (cell.parent === undefined) return this.stop()
    return cell.stop()
  }

  deliverRemote (envelope: OutboundEnvelope): void {
    this.#router.deliverRemote(envelope)
  }

  /** The system owns the transport from here on: stop() stops it after the actors. */
  setTransport (transport: RemoteTransport): void {
    this.#router.transport = transport
  }

  on (event: 'deadLetter', listener: (letter: DeadLetter) => void): () => void
  on (event: 'escalated', listener: (escalation: Escalation) => void): () => void
  /** Returns a function that removes the listener. */
  on (event: 'deadLetter' | 'escalated', listener: (arg: never) => void): () => void {
    if (event !== 'deadLetter' && event !== 'escalated') throw new VerimeshError('CONFIG_INVALID', `unknown event '${String(event)}'`, { event })
    return this.#router.events.on(event, listener as (arg: DeadLetter | Escalation) => void)
  }

  /**
   * Stop every actor (children before parents, postStop hooks awaited), fail what is
   * still pending with SYSTEM_STOPPED, then stop the transport. Idempotent.
   */
  stop (): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop (): Promise<void> {
    await this.#root.stop()
    const router = this.#router
    router.closed = true
    router.asks.rejectAll(systemStopped(this.peerId))
    const transport = router.transport
    if (transport !== undefined) {
      try {
        await transport.stop()
      } catch (err) {
        router.log('warn', 'transport stop failed', { error: describe(err) })
      }
    }
  }
}
