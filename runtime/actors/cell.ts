// An actor's home: mailbox, current incarnation, children, and the supervision of those
// children. The cell outlives restarts (same path, same mailbox, same place among its
// siblings); only the actor object and its Context are replaced.
//
// Processing: one drain at a time per cell, started by a microtask when a message
// arrives at an idle running cell, handling up to `throughput` messages synchronously
// before yielding with setImmediate so timers and I/O still run under load. A receive
// that returns a thenable parks the drain until it settles.
//
// Staleness: `#token` changes whenever the cell leaves RUNNING, so a drain or async
// continuation scheduled before a crash, restart or stop does nothing; `#seq` changes on
// every restart decision and on stop, so a superseded (re)start does not finish;
// `#epoch` changes when this cell's children are torn down, so a pending restart of
// them is abandoned.

import { VerimeshError } from '../errors.js'
import { Context } from './context.js'
import { actorCrashed, actorStopped } from './failures.js'
import { OFFER_CLOSED, OFFER_FULL, OFFER_OK, describe, isThenable, type Host, type LogLevel, type OfferResult } from './internal.js'
import { Mailbox } from './mailbox.js'
import { Ref, tempIdOf } from './ref.js'
import { backoffDelay, pruneWindow, resolveSpec, restartGroup } from './supervisor.js'
import type { Actor, ActorFactory, ActorRef, Message, SpawnOptions, SupervisorSpec } from './types.js'

const STARTING = 0 // preStart/postRestart running: messages queue
const RUNNING = 1
const SUSPENDED = 2 // crashed, waiting for or undergoing a restart: messages queue
const STOPPING = 3 // refuses new messages
const STOPPED = 4

export class Cell {
  readonly host: Host
  readonly parent: Cell | undefined
  readonly name: string
  readonly path: string
  readonly ref: Ref
  readonly mailbox: Mailbox
  /** How this cell supervises its children. */
  readonly spec: SupervisorSpec
  /** In start order: a Map keeps insertion order, and a restart keeps the cell in place. */
  readonly children = new Map<string, Cell>()
  readonly #factory: ActorFactory
  #state = STARTING
  #inc: Context | undefined
  #scheduled = false
  #token = 0
  #seq = 0
  #epoch = 0
  #stopped: Promise<void> | undefined
  /** Restarts this cell made of its children inside the period (intensity). */
  #childRestarts: number[] = []
  /** Times this cell was restarted inside its parent's period (backoff exponent). */
  #ownRestarts: number[] = []
  #givingUp = false
  readonly #sleeps = new Set<() => void>()

  constructor (host: Host, parent: Cell | undefined, name: string, factory: ActorFactory, mailboxCapacity: number, spec: SupervisorSpec) {
    this.host = host
    this.parent = parent
    this.name = name
    this.path = (parent === undefined ? '' : parent.path) + '/' + name
    this.#factory = factory
    this.mailbox = new Mailbox(mailboxCapacity)
    this.spec = spec
    this.ref = new Ref(host, host.peerId, this.path, this)
  }

  /** The /user guardian: supervises top-level actors and handles no messages itself. */
  static root (host: Host, spec: SupervisorSpec): Cell {
    const guardian = (): Actor => ({
      receive: (msg, ctx) => {
        host.deadLetter({ target: ctx.self.address, message: msg, sender: ctx.sender?.address, reason: 'the /user guardian handles no messages' })
      }
    })
    const cell = new Cell(host, undefined, 'user', guardian, host.defaultMailboxCapacity, spec)
    host.register(cell)
    cell.#start(cell.#createActor())
    return cell
  }

  get isStopping (): boolean {
    return this.#state >= STOPPING
  }

  // ---- messages ------------------------------------------------------------------------

  offer (msg: Message, sender: ActorRef | undefined, correlationId: string | undefined): OfferResult {
    if (this.#state >= STOPPING) return OFFER_CLOSED
    if (!this.mailbox.push(msg, sender, correlationId)) return OFFER_FULL
    if (!this.#scheduled && this.#state === RUNNING) this.#schedule()
    return OFFER_OK
  }

  #schedule (): void {
    this.#scheduled = true
    const token = this.#token
    queueMicrotask(() => { this.#drain(token) })
  }

  #drain (token: number): void {
    if (token !== this.#token) return
    const inc = this.#inc as Context
    const actor = inc.actor
    const mailbox = this.mailbox
    let budget = this.host.throughput
    for (;;) {
      // Whoever moved the cell out of RUNNING (crash, restart, stop) also reset #scheduled.
      if (token !== this.#token) return
      if (mailbox.size === 0) { this.#scheduled = false; return }
      if (budget-- === 0) { setImmediate(() => { this.#drain(token) }); return }
      const msg = mailbox.shift() as Message
      inc.sender = mailbox.sender
      inc.correlationId = mailbox.correlationId
      inc.message = msg
      inc.replied = false
      inc.busy = true
      let result: unknown
      try {
        result = actor.receive(msg, inc)
      } catch (err) {
        this.#settle(inc, token, true, err)
        return
      }
      if (isThenable(result)) {
        this.#awaitReceive(result, inc, token)
        return
      }
      inc.busy = false
      if (inc.closing) { this.#detached(inc, false, undefined); return }
    }
  }

  /**
   * Park the drain until an async receive settles. Guards against thenables that are not
   * real promises: settling twice, settling synchronously (which would recurse into the
   * drain), or a `then` that throws.
   */
  #awaitReceive (result: PromiseLike<unknown>, inc: Context, token: number): void {
    let sync = true
    let done = false
    const finish = (failed: boolean, err: unknown): void => {
      if (done) return
      done = true
      if (sync) queueMicrotask(() => { this.#settle(inc, token, failed, err) })
      else this.#settle(inc, token, failed, err)
    }
    try {
      result.then(() => { finish(false, undefined) }, (err: unknown) => { finish(true, err) })
    } catch (err) {
      finish(true, err)
    }
    sync = false
  }

  /** A receive finished: go on, crash, or settle a message whose incarnation is gone. */
  #settle (inc: Context, token: number, failed: boolean, err: unknown): void {
    inc.busy = false
    if (inc.closing || token !== this.#token) {
      this.#detached(inc, failed, err)
    } else if (failed) {
      inc.fail(actorCrashed(this.ref.address, inc.message?.type ?? '?', err))
      this.#fail(err, `receive '${inc.message?.type ?? '?'}'`)
    } else {
      this.#drain(token)
    }
  }

  /** Its incarnation was stopped or restarted while the message was in flight. */
  #detached (inc: Context, failed: boolean, err: unknown): void {
    const type = inc.message?.type ?? '?'
    if (failed) this.#log('warn', 'receive failed after its incarnation was stopped or restarted', { messageType: type, error: describe(err) })
    inc.fail(failed ? actorCrashed(this.ref.address, type, err) : actorStopped(this.ref.address, type))
  }

  // ---- lifecycle -----------------------------------------------------------------------

  #createActor (): Actor {
    const actor = this.#factory()
    if (actor === null || typeof actor !== 'object' || typeof actor.receive !== 'function') {
      throw new VerimeshError('CONFIG_INVALID', `the factory of ${this.path} did not return an actor (an object with receive())`, { path: this.path })
    }
    return actor
  }

  #start (actor: Actor): void {
    this.#startIncarnation(actor, undefined, this.#seq, false).catch((err: unknown) => { this.#log('error', 'start failed unexpectedly', { error: describe(err) }) })
  }

  async #startIncarnation (given: Actor | undefined, reason: unknown, seq: number, isRestart: boolean): Promise<void> {
    let actor = given
    if (actor === undefined) {
      try {
        actor = this.#createActor()
      } catch (err) {
        this.#fail(err, 'factory')
        return
      }
    }
    const inc = new Context(this, actor)
    this.#inc = inc
    this.#state = STARTING
    this.#givingUp = false
    try {
      if (actor.preStart !== undefined) {
        const r = actor.preStart(inc)
        if (isThenable(r)) await r
      }
      // Superseded (restart decision, stop) or failed meanwhile (a child escalated into us).
      if (seq !== this.#seq || this.#state !== STARTING) return
      inc.started = true
      if (isRestart && actor.postRestart !== undefined) {
        const r = actor.postRestart(reason, inc)
        if (isThenable(r)) await r
        if (seq !== this.#seq || this.#state !== STARTING) return
      }
    } catch (err) {
      if (seq === this.#seq && this.#state === STARTING) this.#fail(err, inc.started ? 'postRestart' : 'preStart')
      return
    }
    this.#state = RUNNING
    if (this.mailbox.size > 0) this.#schedule()
  }

  /** Leave RUNNING without stopping: queued messages wait (the mailbox is kept). */
  #suspend (): void {
    this.#state = SUSPENDED
    this.#token++
    this.#scheduled = false
  }

  /** This cell failed (a crash, or a start that threw): its parent decides. */
  #fail (err: unknown, phase: string): void {
    if (this.#state >= STOPPING) return
    this.#suspend()
    if (this.#inc !== undefined) this.#inc.alive = false
    this.#log('error', `actor failed in ${phase}`, { error: describe(err) })
    if (this.parent === undefined) return // the guardian has no failing code of its own
    this.parent.childFailed(this, err)
  }

  stop (): Promise<void> {
    if (this.#stopped === undefined) {
      let done!: () => void
      this.#stopped = new Promise<void>(resolve => { done = resolve })
      this.#stop()
        .catch((err: unknown) => { this.#log('error', 'stop failed unexpectedly', { error: describe(err) }) })
        .finally(done)
    }
    return this.#stopped
  }

  async #stop (): Promise<void> {
    this.#state = STOPPING
    this.#token++
    this.#scheduled = false
    this.#seq++
    this.#epoch++
    const inc = this.#inc
    const live = inc !== undefined && !inc.terminated
    if (live) inc.close()
    this.#refuseQueued()
    await this.stopChildren()
    this.#cancelSleeps()
    if (inc !== undefined && live && inc.started && inc.actor.postStop !== undefined) {
      try {
        const r = inc.actor.postStop(inc)
        if (isThenable(r)) await r
      } catch (err) {
        this.#log('warn', 'postStop threw', { error: describe(err) })
      }
    }
    this.#state = STOPPED
    this.host.unregister(this)
    if (this.parent?.children.get(this.name) === this) this.parent.children.delete(this.name)
  }

  /** Accepted messages are never dropped silently: queued asks fail, queued tells become dead letters. */
  #refuseQueued (): void {
    const mailbox = this.mailbox
    while (mailbox.size > 0) {
      const msg = mailbox.shift() as Message
      const sender = mailbox.sender
      const correlationId = mailbox.correlationId
      if (correlationId !== undefined || (sender !== undefined && tempIdOf(sender.path) !== undefined)) {
        this.host.replyError(this.ref, sender, correlationId, actorStopped(this.ref.address, msg.type))
      } else {
        this.host.deadLetter({ target: this.ref.address, message: msg, sender: sender?.address, reason: 'actor stopped' })
      }
    }
  }

  async stopChildren (): Promise<void> {
    // Reverse start order, as OTP does: later children may depend on earlier ones.
    const children = [...this.children.values()]
    for (let i = children.length - 1; i >= 0; i--) await children[i].stop()
  }

  // ---- children ------------------------------------------------------------------------

  spawnChild (name: string, factory: ActorFactory, opts: SpawnOptions = {}): ActorRef {
    if (this.#state >= STOPPING) {
      throw new VerimeshError('ACTOR_STOPPED', `actor ${this.ref.address} is stopping and cannot spawn '${String(name)}'`, { target: this.ref.address, name })
    }
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
      throw new VerimeshError('CONFIG_INVALID', `invalid actor name '${String(name)}' (non-empty, no '/')`, { parent: this.path, name })
    }
    if (this.children.has(name)) {
      throw new VerimeshError('NAME_TAKEN', `an actor named '${name}' already exists under ${this.path}`, { path: `${this.path}/${name}` })
    }
    if (typeof factory !== 'function') {
      throw new VerimeshError('CONFIG_INVALID', `spawn '${name}': factory must be a function`, { path: `${this.path}/${name}` })
    }
    const capacity = opts.mailboxCapacity ?? this.host.defaultMailboxCapacity
    const child = new Cell(this.host, this, name, factory, capacity, resolveSpec(this.host.defaultSupervisor, opts.supervisor))
    // Called here, not in the cell's start, so a factory that throws fails the spawn itself.
    const actor = child.#createActor()
    this.children.set(name, child)
    this.host.register(child)
    child.#start(actor)
    return child.ref
  }

  stopChild (child?: ActorRef): Promise<void> {
    if (child === undefined) return this.stop()
    if (child.peer === this.host.peerId) {
      const prefix = this.path + '/'
      const cell = child.path.startsWith(prefix) ? this.children.get(child.path.slice(prefix.length)) : undefined
      if (cell !== undefined) return cell.stop()
      // Already gone: stopping is idempotent.
      if (this.host.lookupCell(child.path) === undefined) return Promise.resolve()
    }
    return Promise.reject(new VerimeshError('NO_SUCH_ACTOR', `${child.address} is not a child of ${this.ref.address}`, { target: child.address, parent: this.ref.address }))
  }

  childRefs (): ActorRef[] {
    const refs: ActorRef[] = []
    for (const child of this.children.values()) if (child.#state < STOPPING) refs.push(child.ref)
    return refs
  }

  // ---- supervision ---------------------------------------------------------------------

  childFailed (child: Cell, err: unknown): void {
    if (this.#state >= STOPPING || this.#givingUp || child.#state >= STOPPING) return
    if (this.children.get(child.name) !== child) return
    const spec = this.spec
    const now = performance.now()
    pruneWindow(this.#childRestarts, now, spec.periodMs)
    if (this.#childRestarts.length >= spec.intensity) {
      if (this.parent === undefined) this.#escalateFromRoot(child, err)
      else this.#giveUp(child, err)
      return
    }
    this.#childRestarts.push(now)
    pruneWindow(child.#ownRestarts, now, spec.periodMs)
    const delayMs = backoffDelay(spec.backoff, child.#ownRestarts.length)
    child.#ownRestarts.push(now)
    const live = [...this.children.values()].filter(c => c.#state < STOPPING)
    const group = restartGroup(spec.strategy, live, child)
    this.#log('warn', 'restarting after failure', { child: child.path, strategy: spec.strategy, restarting: group.map(c => c.path), delayMs, error: describe(err) })
    this.#restart(group, err, delayMs).catch((e: unknown) => { this.#log('error', 'restart failed unexpectedly', { error: describe(e) }) })
  }

  async #restart (group: Cell[], reason: unknown, delayMs: number): Promise<void> {
    const epoch = this.#epoch
    const seqs = group.map(child => child.#suspendForRestart())
    // Terminate in reverse start order, start again in start order (OTP).
    for (let i = group.length - 1; i >= 0; i--) await group[i].#terminateForRestart(reason)
    if (delayMs > 0 && epoch === this.#epoch) await this.#sleep(delayMs)
    for (let i = 0; i < group.length; i++) {
      if (epoch !== this.#epoch) return
      const child = group[i]
      if (seqs[i] === child.#seq && child.#state === SUSPENDED) await child.#startIncarnation(undefined, reason, seqs[i], true)
    }
  }

  #suspendForRestart (): number {
    this.#suspend()
    return ++this.#seq
  }

  async #terminateForRestart (reason: unknown): Promise<void> {
    const inc = this.#inc
    if (inc === undefined || inc.terminated) return
    inc.terminated = true
    inc.close()
    // A restarted supervisor starts with a clean history, as a restarted OTP supervisor does.
    this.#epoch++
    this.#childRestarts = []
    if (inc.actor.preRestart !== undefined) {
      try {
        const r = inc.actor.preRestart(reason, inc)
        if (isThenable(r)) await r
      } catch (err) {
        this.#log('warn', 'preRestart threw', { error: describe(err) })
      }
    }
    // Children are part of the old incarnation's state; the new one's preStart spawns its own.
    await this.stopChildren()
    this.#cancelSleeps()
  }

  /** Too many restarts: stop every child, then fail so the parent's strategy applies to us. */
  #giveUp (failed: Cell, err: unknown): void {
    const { intensity, periodMs } = this.spec
    const reason = new VerimeshError('ACTOR_CRASHED',
      `supervisor ${this.ref.address} gave up: more than ${intensity} restarts in ${periodMs} ms (last failure in ${failed.path}: ${describe(err)})`,
      { target: this.ref.address, child: failed.path, intensity, periodMs, reason: describe(err) }, { cause: err })
    this.#log('error', 'restart intensity exceeded, escalating', { child: failed.path, intensity, periodMs })
    this.#givingUp = true
    this.#epoch++
    this.#suspend()
    if (this.#inc !== undefined) this.#inc.alive = false
    this.stopChildren().then(() => {
      this.#cancelSleeps()
      if (this.#state !== SUSPENDED || !this.#givingUp) return // stopped or restarted meanwhile
      this.#fail(reason, 'supervision')
    }).catch((e: unknown) => { this.#log('error', 'escalation failed unexpectedly', { error: describe(e) }) })
  }

  /**
   * The guardian has no parent to escalate to, and a failing subtree must not take the
   * process down: stop that subtree and tell the node through the 'escalated' event.
   */
  #escalateFromRoot (failed: Cell, err: unknown): void {
    const { intensity, periodMs } = this.spec
    const restarts = this.#childRestarts.length
    // The other top-level actors keep a fresh budget.
    this.#childRestarts = []
    this.#log('error', 'root restart intensity exceeded, stopping the failed subtree', { child: failed.path, intensity, periodMs, error: describe(err) })
    failed.stop().then(() => {
      this.host.escalated({ path: failed.path, address: failed.ref.address, reason: err, restarts, intensity, periodMs })
    }).catch((e: unknown) => { this.#log('error', 'escalation failed unexpectedly', { error: describe(e) }) })
  }

  #sleep (ms: number): Promise<void> {
    return new Promise(resolve => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#sleeps.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#sleeps.add(wake)
    })
  }

  #cancelSleeps (): void {
    for (const wake of [...this.#sleeps]) wake()
  }

  #log (level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    this.host.log(level, msg, { path: this.path, ...fields })
  }
}
