// Messages the runtime itself puts on the wire. A node always knows these two,
// whatever else its registry holds: they are how refusals and failures travel back
// to the peer that caused them, so a receiver that did not know them could not
// report anything.
//
//   kind 'error'  + sys.error    — answers an ask (same correlation id): the asker's
//                                  promise rejects with VerimeshError.fromWire(error).
//   kind 'reject' + sys.rejected — answers a refused tell that named a sender.

import { Type } from '@sinclair/typebox'
import { VerimeshError, type WireError } from '../errors.js'
import { defineMessage, type MessageOf, type MessageRegistry } from './registry.js'
import type { Address } from '../actors/types.js'

/** Wire shape of a VerimeshError; `code` is checked against ErrorCodes by fromWire, not here, so a newer peer's codes still parse. */
export const WireErrorSchema = Type.Object({
  code: Type.String({ minLength: 1 }),
  message: Type.String(),
  context: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})

export const SysError = defineMessage('sys.error', 1, {
  error: WireErrorSchema
})
export type SysErrorMessage = MessageOf<typeof SysError>

export const SysRejected = defineMessage('sys.rejected', 1, {
  /** The address the refused message was sent to. */
  target: Type.String(),
  /** The `type` of the refused message. */
  messageType: Type.String(),
  error: WireErrorSchema
})
export type SysRejectedMessage = MessageOf<typeof SysRejected>

export const SystemMessages = [SysError, SysRejected] as const

/** Register the system messages (idempotent: registering the same definition twice is allowed). */
export function registerSystemMessages (registry: MessageRegistry): MessageRegistry {
  for (const def of SystemMessages) registry.register(def)
  return registry
}

export function sysError (err: VerimeshError): SysErrorMessage {
  return { type: 'sys.error', error: wireErrorOf(err) }
}

export function sysRejected (target: Address, messageType: string, err: VerimeshError): SysRejectedMessage {
  return { type: 'sys.rejected', target, messageType, error: wireErrorOf(err) }
}

/** Turn a received sys.error back into the error the asker sees. */
export function errorFromSysError (msg: SysErrorMessage, extra: Record<string, unknown> = {}): VerimeshError {
  return VerimeshError.fromWire(msg.error as WireError, extra)
}

/**
 * toWire() with the context reduced to what msgpack and the schema accept: a context
 * holding a function, a class instance or a cycle must not make the error itself
 * undeliverable.
 */
function wireErrorOf (err: VerimeshError): WireError {
  const wire = err.toWire()
  const context = wire.context === undefined ? undefined : plainContext(wire.context)
  return context === undefined ? { code: wire.code, message: wire.message } : { code: wire.code, message: wire.message, context }
}

function plainContext (ctx: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {}
  let n = 0
  for (const [k, v] of Object.entries(ctx)) {
    const p = plain(v, 0)
    if (p !== undefined) { out[k] = p; n++ }
  }
  return n === 0 ? undefined : out
}

function plain (v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  if (typeof v === 'bigint') return v.toString()
  if (depth > 4) return undefined
  if (Array.isArray(v)) return v.slice(0, 64).map(x => plain(x, depth + 1) ?? null)
  if (v instanceof Error) return v.message
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = plain(x, depth + 1)
      if (p !== undefined) out[k] = p
    }
    return out
  }
  return undefined
}
