// The runtime's errors in one place, so every path that refuses or fails a message
// words it the same way and names the same context fields (target, messageType, ...).

import { VerimeshError } from '../errors.js'
import { describe } from './internal.js'
import type { Address } from './types.js'

export function noSuchActor (target: Address, messageType: string): VerimeshError {
  return new VerimeshError('NO_SUCH_ACTOR', `no actor at ${target} (message '${messageType}')`, { target, messageType })
}

export function actorStopped (target: Address, messageType: string): VerimeshError {
  return new VerimeshError('ACTOR_STOPPED', `actor ${target} stopped before handling '${messageType}'`, { target, messageType })
}

export function mailboxFull (target: Address, capacity: number, messageType: string): VerimeshError {
  return new VerimeshError('MAILBOX_FULL', `mailbox of ${target} is full (capacity ${capacity}); '${messageType}' refused`, { target, capacity, messageType })
}

export function askTimeout (target: Address, messageType: string, timeoutMs: number): VerimeshError {
  return new VerimeshError('ASK_TIMEOUT', `ask '${messageType}' to ${target} timed out after ${timeoutMs} ms`, { target, messageType, timeoutMs })
}

export function actorCrashed (target: Address, messageType: string, cause: unknown): VerimeshError {
  return new VerimeshError('ACTOR_CRASHED', `actor ${target} crashed handling '${messageType}': ${describe(cause)}`, { target, messageType, reason: describe(cause) }, { cause })
}

export function systemStopped (peerId: string): VerimeshError {
  return new VerimeshError('SYSTEM_STOPPED', `actor system ${peerId} is stopped`, { peerId })
}

export function peerUnreachable (target: Address, cause?: unknown): VerimeshError {
  const why = cause === undefined ? 'no transport is set' : describe(cause)
  return new VerimeshError('PEER_UNREACHABLE', `cannot reach ${target}: ${why}`, { target }, { cause })
}

/** True for refusals that mean "nobody is there": those also become dead letters. */
export function isGone (err: VerimeshError): boolean {
  return err.code === 'NO_SUCH_ACTOR' || err.code === 'ACTOR_STOPPED' || err.code === 'SYSTEM_STOPPED'
}
