// The actor runtime's public contract. The local runtime (system.ts) and the
// libp2p transport (../net/transport.ts) both code against these types only.

import type { VerimeshError } from '../errors.js'

/** Every message is a plain, msgpack-encodable object with a string `type` discriminant. */
export interface Message {
  readonly type: string
  readonly [field: string]: unknown
}

/**
 * An address is `<peerId>/<path>`, e.g. `12D3KooW.../user/router`. Paths always start
 * with `/`. Addresses are what messages carry when they name an actor: plain strings
 * survive msgpack and schemas, and `system.ref(address)` turns one back into a ref.
 */
export type Address = string

export interface AskOptions {
  /** Reject with ASK_TIMEOUT after this long. Default: the system's askTimeoutMs. */
  timeoutMs?: number
}

/**
 * A location-transparent handle. `tell`/`ask` behave the same for local and remote
 * targets; the only difference a caller can see is latency and the error codes a
 * network adds (PEER_UNREACHABLE, TRANSPORT_CLOSED).
 */
export interface ActorRef {
  readonly peer: string
  readonly path: string
  readonly address: Address
  /**
   * Fire and forget. Throws synchronously (MAILBOX_FULL, NO_SUCH_ACTOR) when a local
   * target refuses the message, so overload is never silent. For a remote target a
   * refusal comes back asynchronously and is delivered to `sender` as a
   * `sys.rejected` message (or logged and counted as a dead letter without a sender).
   */
  tell: (msg: Message, sender?: ActorRef) => void
  /** Request/response. Rejects with a VerimeshError (ASK_TIMEOUT, MAILBOX_FULL, remote errors...). */
  ask: <R extends Message = Message>(msg: Message, opts?: AskOptions) => Promise<R>
  toString: () => string
}

/** Delivered to an actor whose remote tell was refused by the receiving node. */
export interface RejectedMessage extends Message {
  readonly type: 'sys.rejected'
  readonly target: Address
  readonly messageType: string
  readonly error: { code: string, message: string, context?: Record<string, unknown> }
}

export type SupervisionStrategy = 'one_for_one' | 'one_for_all' | 'rest_for_one'

export interface BackoffOptions {
  /** First restart delay. */
  minMs: number
  /** Cap on the delay. */
  maxMs: number
  /** Multiplier per consecutive restart inside the intensity period. */
  factor: number
}

export interface SupervisorSpec {
  strategy: SupervisionStrategy
  /** Max restarts allowed within `periodMs` before the supervisor gives up and escalates. */
  intensity: number
  periodMs: number
  backoff: BackoffOptions
}

export type OverloadPolicy = 'reject'

export interface SpawnOptions {
  /** Mailbox capacity; a tell beyond it is refused with MAILBOX_FULL. */
  mailboxCapacity?: number
  /** How this actor supervises its own children. */
  supervisor?: Partial<SupervisorSpec>
}

/** What an actor sees while it handles a message. */
export interface ActorContext {
  readonly self: ActorRef
  /** The sender of the current message, when it gave one (asks always do). */
  readonly sender: ActorRef | undefined
  readonly system: ActorSystemApi
  /** Reply to the current message's sender (the asker, for an ask). */
  reply: (msg: Message) => void
  /** Reply with an error: the asker's promise rejects with it. */
  replyError: (err: VerimeshError) => void
  spawn: (name: string, factory: ActorFactory, opts?: SpawnOptions) => ActorRef
  stop: (child?: ActorRef) => Promise<void>
  children: () => ActorRef[]
}

/**
 * An actor: private state lives in the object, messages arrive one at a time.
 * `receive` may be async; the next message is not delivered until it settles.
 * Throwing (or rejecting) is a crash handled by the parent's supervisor.
 */
export interface Actor {
  preStart?: (ctx: ActorContext) => void | Promise<void>
  receive: (msg: Message, ctx: ActorContext) => void | Promise<void>
  postStop?: (ctx: ActorContext) => void | Promise<void>
  preRestart?: (reason: unknown, ctx: ActorContext) => void | Promise<void>
  postRestart?: (reason: unknown, ctx: ActorContext) => void | Promise<void>
}

/** Restarts build a fresh actor from its factory: state is reset, the mailbox is kept. */
export type ActorFactory = () => Actor

export interface DeadLetter {
  target: Address
  message: Message
  sender?: Address
  reason: string
}

/**
 * Bridge to other peers. The actor system hands every envelope whose target peer is
 * not its own to this; the transport delivers inbound envelopes through
 * `ActorSystemApi.deliverRemote`.
 */
export interface RemoteTransport {
  /** Send to a remote actor. Resolves once the frame is queued (backpressure may delay it). */
  send: (envelope: OutboundEnvelope) => void
  stop: () => Promise<void>
}

export interface OutboundEnvelope {
  target: Address
  sender?: Address
  /** Set for asks and their replies. */
  correlationId?: string
  /** 'msg' for tell/ask, 'reply' and 'error' answer an ask, 'reject' answers a refused tell. */
  kind: 'msg' | 'reply' | 'error' | 'reject'
  message: Message
}

export interface ActorSystemApi {
  readonly peerId: string
  /** Address or (peer, path) to ref. A path without a peer means this node. */
  ref: (addressOrPath: Address) => ActorRef
  spawn: (name: string, factory: ActorFactory, opts?: SpawnOptions) => ActorRef
  /** Lookup a live local actor by path. */
  lookup: (path: string) => ActorRef | undefined
  /** Inbound from the transport. Errors in delivery go back to the sender as 'error'/'reject'. */
  deliverRemote: (envelope: OutboundEnvelope) => void
  setTransport: (transport: RemoteTransport) => void
  on: {
    (event: 'deadLetter', listener: (letter: DeadLetter) => void): void
    /** The root guardian gave up on a top-level actor; the node decides whether to shut down. */
    (event: 'escalated', listener: (escalation: Escalation) => void): void
  }
  stop: () => Promise<void>
}

/**
 * Emitted when a failure reaches the root (/user) guardian and exceeds its restart
 * intensity. The guardian has already stopped the failed top-level subtree; it never
 * takes the process down itself.
 */
export interface Escalation {
  /** Path of the top-level actor whose subtree was stopped, e.g. `/user/router`. */
  path: string
  address: Address
  /** The last failure (an ACTOR_CRASHED VerimeshError when a supervisor below gave up). */
  reason: unknown
  /** Restarts the guardian had made inside the period when it gave up. */
  restarts: number
  intensity: number
  periodMs: number
}
