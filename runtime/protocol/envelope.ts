// The wire envelope: one message plus the routing facts a receiver needs to deliver
// it and, if it must refuse it, to tell the sender why.
//
// On the wire an envelope is a msgpack array (positional, so no field names are
// repeated in every message):
//
//   [ wireVersion, kind, type, version, target, sender | null, correlationId | null, payload ]
//
//   wireVersion   u8      layout of this array; a receiver refuses versions it does not know
//   kind          u8      0 msg, 1 reply, 2 error, 3 reject
//   type          string  message type, e.g. 'echo' (the payload's `type`, hoisted)
//   version       uint    version of that message type's schema (MessageDef.version)
//   target        string  `<peerId>/<path>` of the receiving actor
//   sender        string  `<peerId>/<path>` of the sending actor, or null
//   correlationId string  set on asks and on the reply/error that answers one
//   payload       map     the message minus its `type`
//
// The order puts the fields needed to answer with an error (sender, correlationId)
// before the payload, the only part whose shape depends on the type.

import type { Address, OutboundEnvelope } from '../actors/types.js'

/** Layout version of the envelope array. */
export const WIRE_VERSION = 1

export type EnvelopeKind = OutboundEnvelope['kind']

export const KIND_CODES: Readonly<Record<EnvelopeKind, number>> = { msg: 0, reply: 1, error: 2, reject: 3 }
export const KINDS: readonly EnvelopeKind[] = ['msg', 'reply', 'error', 'reject']

/** An envelope as it travels: the message is split into its type and the rest. */
export interface WireEnvelope {
  kind: EnvelopeKind
  type: string
  /** Version of the message type's schema. */
  version: number
  target: Address
  sender?: Address
  correlationId?: string
  /** The message minus its `type`. */
  payload: Record<string, unknown>
}

/** The parts of an envelope that can be read before (or without) its payload: what an error reply needs. */
export interface EnvelopeHead {
  kind?: EnvelopeKind
  type?: string
  target?: Address
  sender?: Address
  correlationId?: string
}

/**
 * An address is `<peerId>/<path>`; the path keeps its leading '/'. Returns undefined
 * for anything else (no peer part, no path).
 */
export function splitAddress (address: string): { peer: string, path: string } | undefined {
  const slash = address.indexOf('/')
  if (slash <= 0 || slash === address.length - 1) return undefined
  return { peer: address.slice(0, slash), path: address.slice(slash) }
}

/** The peer part of an address, or undefined when the address has none. */
export function peerOf (address: string): string | undefined {
  const slash = address.indexOf('/')
  return slash <= 0 ? undefined : address.slice(0, slash)
}

/** Split a message into the wire form. */
export function toWireEnvelope (env: OutboundEnvelope, version: number): WireEnvelope {
  const { type, ...payload } = env.message
  const out: WireEnvelope = { kind: env.kind, type, version, target: env.target, payload }
  if (env.sender !== undefined) out.sender = env.sender
  if (env.correlationId !== undefined) out.correlationId = env.correlationId
  return out
}

/**
 * Rebuild the message the receiving actor sees. Reuses the decoded payload object
 * (it is owned by the receiver, nothing else holds it) instead of copying it.
 */
export function toOutboundEnvelope (wire: WireEnvelope): OutboundEnvelope {
  const message = wire.payload as { type: string, [k: string]: unknown }
  message.type = wire.type
  const env: OutboundEnvelope = { target: wire.target, kind: wire.kind, message }
  if (wire.sender !== undefined) env.sender = wire.sender
  if (wire.correlationId !== undefined) env.correlationId = wire.correlationId
  return env
}
