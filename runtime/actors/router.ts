// Where messages go once they leave a ref or a context: local cells, pending asks, the
// transport, or the dead letters. Implements the Host seam for cells, refs and contexts.

import { VerimeshError, type WireError } from '../errors.js'
import { sysError, sysRejected } from '../protocol/system-messages.js'
import { PendingAsks } from './ask.js'
import type { Cell } from './cell.js'
import { Emitter } from './events.js'
import { actorStopped, isGone, mailboxFull, noSuchActor, peerUnreachable, systemStopped } from './failures.js'
import { OFFER_FULL, OFFER_OK, describe, type Host, type Logger } from './internal.js'
import { Ref, TEMP_PREFIX, parseAddress, tempIdOf } from './ref.js'
import type {
  ActorRef, ActorSystemApi, Address, AskOptions, DeadLetter, Escalation, Message,
  OutboundEnvelope, RemoteTransport, SupervisorSpec
} from './types.js'

export interface SystemEvents {
  deadLetter: DeadLetter
  escalated: Escalation
}

export interface RouterOptions {
  peerId: string
  api: ActorSystemApi
  askTimeoutMs: number
  throughput: number
  defaultMailboxCapacity: number
  defaultSupervisor: SupervisorSpec
  log: Logger
}

export class Router implements Host {
  readonly peerId: string
  readonly api: ActorSystemApi
  readonly throughput: number
  readonly defaultMailboxCapacity: number
  readonly defaultSupervisor: SupervisorSpec
  readonly log: Logger
  readonly askTimeoutMs: number
  readonly asks = new PendingAsks()
  readonly events: Emitter<SystemEvents>
  transport: RemoteTransport | undefined
  /** Set once the system has stopped: every new message is refused with SYSTEM_STOPPED. */
  closed = false
  deadLetters = 0
  readonly #cells = new Map<string, Cell>()

  constructor (opts: RouterOptions) {
    this.peerId = opts.peerId
    this.api = opts.api
    this.askTimeoutMs = opts.askTimeoutMs
    this.throughput = opts.throughput
    this.defaultMailboxCapacity = opts.defaultMailboxCapacity
    this.defaultSupervisor = opts.defaultSupervisor
    this.log = opts.log
    this.events = new Emitter<SystemEvents>(opts.log)
  }

  register (cell: Cell): void {
    this.#cells.set(cell.path, cell)
  }

  unregister (cell: Cell): void {
    if (this.#cells.get(cell.path) === cell) this.#cells.delete(cell.path)
  }

  lookupCell (path: string): Cell | undefined {
    return this.#cells.get(path)
  }

  ref (addressOrPath: Address): Ref {
    const { peer, path } = parseAddress(addressOrPath, this.peerId)
    if (peer !== this.peerId) return new Ref(this, peer, path)
    return this.#cells.get(path)?.ref ?? new Ref(this, peer, path)
  }

  deadLetter (letter: DeadLetter): void {
    this.deadLetters++
    this.log('debug', 'dead letter', { target: letter.target, messageType: letter.message?.type, sender: letter.sender, reason: letter.reason })
    this.events.emit('deadLetter', letter)
  }

  escalated (escalation: Escalation): void {
    this.events.emit('escalated', escalation)
  }

  // ---- outbound ------------------------------------------------------------------------

  tell (ref: Ref, msg: Message, sender: ActorRef | undefined): void {
    const err = ref.peer === this.peerId
      ? this.#offerLocal(ref, msg, sender, undefined)
      : this.#transmit({ target: ref.address, sender: sender?.address, kind: 'msg', message: msg })
    if (err === undefined) return
    if (isGone(err)) this.deadLetter({ target: ref.address, message: msg, sender: sender?.address, reason: err.message })
    throw err
  }

  ask (ref: Ref, msg: Message, opts: AskOptions | undefined): Promise<Message> {
    if (this.closed) return Promise.reject(systemStopped(this.peerId))
    const timeoutMs = opts?.timeoutMs ?? this.askTimeoutMs
    if (!(timeoutMs >= 0)) return Promise.reject(new VerimeshError('CONFIG_INVALID', `ask timeoutMs must be >= 0, got ${String(timeoutMs)}`, { target: ref.address, timeoutMs }))
    const { id, promise } = this.asks.open(ref.address, msg?.type, timeoutMs)
    const replyTo = this.peerId + TEMP_PREFIX + id
    let err: VerimeshError | undefined
    if (ref.peer === this.peerId) {
      err = this.#offerLocal(ref, msg, new Ref(this, this.peerId, TEMP_PREFIX + id), id)
      if (err !== undefined && isGone(err)) this.deadLetter({ target: ref.address, message: msg, sender: replyTo, reason: err.message })
    } else {
      err = this.#transmit({ target: ref.address, sender: replyTo, correlationId: id, kind: 'msg', message: msg })
    }
    if (err !== undefined) this.asks.reject(id, err)
    return promise
  }

  reply (from: Ref, to: ActorRef | undefined, correlationId: string | undefined, msg: Message): void {
    this.#answer(from, to, correlationId, msg, undefined)
  }

  replyError (from: Ref, to: ActorRef | undefined, correlationId: string | undefined, err: VerimeshError): void {
    this.#answer(from, to, correlationId, sysError(err), err)
  }

  /**
   * An answer to `to`: settles a local ask, travels as 'reply'/'error' to a remote asker,
   * or is a plain tell when the sender did not ask. Undeliverable answers become dead
   * letters (the answering actor is not at fault).
   */
  #answer (from: Ref, to: ActorRef | undefined, correlationId: string | undefined, msg: Message, err: VerimeshError | undefined): void {
    if (to === undefined) {
      this.deadLetter({ target: '(no sender)', message: msg, sender: from.address, reason: 'answer to a message that had no sender' })
      return
    }
    const target = to instanceof Ref ? to : this.ref(to.address)
    const id = correlationId ?? tempIdOf(target.path)
    let failure: VerimeshError | undefined
    if (target.peer !== this.peerId) {
      const kind = id === undefined ? 'msg' : err === undefined ? 'reply' : 'error'
      failure = this.#transmit({ target: target.address, sender: from.address, correlationId: id, kind, message: msg })
    } else if (id !== undefined && tempIdOf(target.path) !== undefined) {
      const settled = err === undefined ? this.asks.resolve(id, msg) : this.asks.reject(id, err)
      if (!settled) this.deadLetter({ target: target.address, message: msg, sender: from.address, reason: 'the ask was already answered or timed out' })
      return
    } else {
      failure = this.#offerLocal(target, msg, from, undefined)
    }
    if (failure !== undefined) this.deadLetter({ target: target.address, message: msg, sender: from.address, reason: failure.message })
  }

  /** Offer to a local cell or temp ask target, re-resolving a stale cached cell. Never throws. */
  #offerLocal (ref: Ref, msg: Message, sender: ActorRef | undefined, correlationId: string | undefined): VerimeshError | undefined {
    if (this.closed) return systemStopped(this.peerId)
    const id = tempIdOf(ref.path)
    if (id !== undefined) {
      // A tell to an ask's reply target (e.g. an ask forwarded with its sender) answers it.
      this.#settleAsk(id, msg, ref.address, sender)
      return undefined
    }
    let cell = ref.cell
    if (cell === undefined || cell.isStopping) {
      cell = this.#cells.get(ref.path)
      if (cell !== undefined) ref.cell = cell
    }
    const type = msg?.type
    if (cell === undefined) return noSuchActor(ref.address, type)
    const offered = cell.offer(msg, sender, correlationId)
    if (offered === OFFER_OK) return undefined
    return offered === OFFER_FULL ? mailboxFull(ref.address, cell.mailbox.capacity, type) : actorStopped(ref.address, type)
  }

  #settleAsk (id: string, msg: Message, target: Address, sender: ActorRef | undefined): void {
    const settled = msg?.type === 'sys.error'
      ? this.asks.reject(id, errorOf(msg))
      : this.asks.resolve(id, msg)
    if (!settled) this.deadLetter({ target, message: msg, sender: sender?.address, reason: 'the ask was already answered or timed out' })
  }

  #transmit (envelope: OutboundEnvelope): VerimeshError | undefined {
    if (this.closed) return systemStopped(this.peerId)
    const transport = this.transport
    if (transport === undefined) return peerUnreachable(envelope.target)
    if (envelope.sender === undefined) delete envelope.sender
    if (envelope.correlationId === undefined) delete envelope.correlationId
    try {
      transport.send(envelope)
    } catch (err) {
      return err instanceof VerimeshError ? err : peerUnreachable(envelope.target, err)
    }
    return undefined
  }

  // ---- inbound -------------------------------------------------------------------------

  deliverRemote (envelope: OutboundEnvelope): void {
    // Called by the transport: nothing may throw back into it.
    try {
      this.#inbound(envelope)
    } catch (err) {
      this.log('error', 'inbound envelope could not be handled', { target: envelope?.target, kind: envelope?.kind, error: describe(err) })
    }
  }

  #inbound (envelope: OutboundEnvelope): void {
    const msg = envelope.message
    if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
      this.#refuse(envelope, new VerimeshError('MALFORMED_FRAME', `inbound message to ${envelope.target} has no string 'type'`, { target: envelope.target }))
      return
    }
    let path: string
    try {
      const parsed = parseAddress(envelope.target, this.peerId)
      if (parsed.peer !== this.peerId) throw noSuchActor(envelope.target, msg.type)
      path = parsed.path
    } catch (err) {
      this.#refuse(envelope, VerimeshError.from(err, 'NO_SUCH_ACTOR'))
      return
    }
    const sender = envelope.sender === undefined ? undefined : this.#remoteRef(envelope.sender)
    switch (envelope.kind) {
      case 'msg': {
        const err = this.#offerLocal(this.#localRef(path), msg, sender, envelope.correlationId)
        if (err !== undefined) this.#refuse(envelope, err)
        return
      }
      case 'reply':
      case 'error': {
        const id = envelope.correlationId ?? tempIdOf(path)
        const settled = id !== undefined && (envelope.kind === 'reply'
          ? this.asks.resolve(id, msg)
          : this.asks.reject(id, errorOf(msg)))
        if (!settled) this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: 'the ask was already answered or timed out' })
        return
      }
      case 'reject': {
        const id = tempIdOf(path)
        if (id !== undefined) {
          // A refused ask should come back as 'error'; accept a reject for it all the same.
          if (!this.asks.reject(id, errorOf(msg))) this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: 'the ask was already answered or timed out' })
          return
        }
        const err = this.#offerLocal(this.#localRef(path), msg, sender, undefined)
        if (err !== undefined) this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: `sys.rejected undeliverable: ${err.message}` })
        return
      }
      default:
        this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: `unknown envelope kind '${String(envelope.kind)}'` })
    }
  }

  /** An inbound message could not be delivered: tell whoever can act on it. */
  #refuse (envelope: OutboundEnvelope, err: VerimeshError): void {
    const msg = envelope.message
    const type = typeof msg?.type === 'string' ? msg.type : '?'
    if (envelope.kind !== 'msg' || envelope.sender === undefined) {
      // Answers are never answered; a tell without a sender has nobody to tell.
      this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: err.message })
      return
    }
    const back: OutboundEnvelope = envelope.correlationId !== undefined
      ? { target: envelope.sender, sender: envelope.target, correlationId: envelope.correlationId, kind: 'error', message: sysError(err) }
      : { target: envelope.sender, sender: envelope.target, kind: 'reject', message: sysRejected(envelope.target, type, err) }
    const failure = this.#transmit(back)
    if (failure !== undefined) this.deadLetter({ target: envelope.target, message: msg, sender: envelope.sender, reason: `${err.message}; and the refusal could not be sent back: ${failure.message}` })
  }

  #localRef (path: string): Ref {
    return this.#cells.get(path)?.ref ?? new Ref(this, this.peerId, path)
  }

  #remoteRef (address: Address): Ref | undefined {
    try {
      return this.ref(address)
    } catch {
      return undefined
    }
  }
}

/**
 * The error a sys.error carries. The protocol shape nests it (`{ type, error: {...} }`);
 * a flat `{ type, code, message, context }` is accepted too.
 */
function errorOf (msg: Message): VerimeshError {
  const nested = msg.error
  const wire = (nested !== null && typeof nested === 'object' ? nested : msg) as Partial<WireError>
  return VerimeshError.fromWire({
    code: wire.code ?? 'INTERNAL',
    message: typeof wire.message === 'string' ? wire.message : `remote error (${String(msg.type)})`,
    context: wire.context !== null && typeof wire.context === 'object' ? wire.context : undefined
  })
}
