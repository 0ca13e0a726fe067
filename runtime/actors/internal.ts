// The seams between the runtime's modules. Cells, refs and contexts only see a Host, so
// they never import the system (no cycles) and two systems in one process share nothing.

import type { VerimeshError } from '../errors.js'
import type { Cell } from './cell.js'
import type { Ref } from './ref.js'
import type { ActorRef, ActorSystemApi, AskOptions, DeadLetter, Escalation, Message, SupervisorSpec } from './types.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type Logger = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void

// Mailbox offer results are small integers so the tell fast path allocates nothing;
// the caller builds the (rare) error.
export const OFFER_OK = 0
export const OFFER_FULL = 1
export const OFFER_CLOSED = 2
export type OfferResult = typeof OFFER_OK | typeof OFFER_FULL | typeof OFFER_CLOSED

export interface Host {
  readonly peerId: string
  readonly api: ActorSystemApi
  /** Messages a cell handles before its drain yields to the event loop. */
  readonly throughput: number
  readonly defaultMailboxCapacity: number
  readonly defaultSupervisor: SupervisorSpec
  readonly log: Logger
  register: (cell: Cell) => void
  unregister: (cell: Cell) => void
  lookupCell: (path: string) => Cell | undefined
  /** Everything a ref's tell fast path does not handle: resolution, remote, errors. Throws. */
  tell: (ref: Ref, msg: Message, sender: ActorRef | undefined) => void
  ask: (ref: Ref, msg: Message, opts: AskOptions | undefined) => Promise<Message>
  /** Answer `to` (an asker when `correlationId` is set or `to` is a temp ref). Never throws. */
  reply: (from: Ref, to: ActorRef | undefined, correlationId: string | undefined, msg: Message) => void
  replyError: (from: Ref, to: ActorRef | undefined, correlationId: string | undefined, err: VerimeshError) => void
  deadLetter: (letter: DeadLetter) => void
  escalated: (escalation: Escalation) => void
}

export function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

export function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
