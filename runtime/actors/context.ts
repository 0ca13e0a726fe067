// What an actor sees. There is one Context per incarnation: a restart builds a new one,
// so a handler still running in a terminated incarnation cannot spawn into its
// replacement. The per-message fields are rewritten by the cell before each receive;
// work that outlives its receive (a stray timer) and then calls ctx.reply answers
// whatever message came next, so capture ctx.sender first in that case.

import { VerimeshError } from '../errors.js'
import type { Cell } from './cell.js'
import { tempIdOf } from './ref.js'
import type { Actor, ActorContext, ActorFactory, ActorRef, ActorSystemApi, Message, SpawnOptions } from './types.js'

export class Context implements ActorContext {
  readonly actor: Actor
  readonly #cell: Cell
  // Per message.
  sender: ActorRef | undefined = undefined
  correlationId: string | undefined = undefined
  message: Message | undefined = undefined
  /** The current message was answered (reply, replyError, or the runtime's crash/stop notice). */
  replied = false
  /** A receive is running (sync or awaiting). */
  busy = false
  // Per incarnation.
  /** Terminated while busy: the in-flight message is settled when its receive returns. */
  closing = false
  alive = true
  started = false
  terminated = false

  constructor (cell: Cell, actor: Actor) {
    this.#cell = cell
    this.actor = actor
  }

  get self (): ActorRef {
    return this.#cell.ref
  }

  get system (): ActorSystemApi {
    return this.#cell.host.api
  }

  /** Whether the current message is an ask (its answer is owed to a pending promise). */
  isAsk (): boolean {
    return this.correlationId !== undefined || (this.sender !== undefined && tempIdOf(this.sender.path) !== undefined)
  }

  /** Stop accepting new work from this incarnation; an in-flight message settles later. */
  close (): void {
    this.alive = false
    if (this.busy) this.closing = true
  }

  readonly reply = (msg: Message): void => {
    this.replied = true
    this.#cell.host.reply(this.#cell.ref, this.sender, this.correlationId, msg)
  }

  readonly replyError = (err: VerimeshError): void => {
    this.replied = true
    this.#cell.host.replyError(this.#cell.ref, this.sender, this.correlationId, VerimeshError.from(err))
  }

  /** The runtime's own answer to an unanswered ask (crash, stop). */
  fail (err: VerimeshError): void {
    if (this.replied || !this.isAsk()) return
    this.replyError(err)
  }

  readonly spawn = (name: string, factory: ActorFactory, opts?: SpawnOptions): ActorRef => {
    if (!this.alive) {
      throw new VerimeshError('ACTOR_STOPPED', `actor ${this.#cell.ref.address} is stopped or restarting and cannot spawn '${name}'`, { target: this.#cell.ref.address, name })
    }
    return this.#cell.spawnChild(name, factory, opts)
  }

  readonly stop = (child?: ActorRef): Promise<void> => this.#cell.stopChild(child)

  readonly children = (): ActorRef[] => this.#cell.childRefs()
}
