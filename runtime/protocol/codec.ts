// msgpack encoding of single envelopes (see envelope.ts for the layout).
//
// Decoding is where hostile input arrives, so it checks the shape of everything it
// returns and says precisely what was wrong. It reports two levels of failure:
// the bytes are not msgpack, or not an envelope (MALFORMED_FRAME); or the envelope
// is well formed but uses a layout this node does not speak (UNSUPPORTED_VERSION).
// Whatever head fields could be read are attached to the error (`head`), so the
// caller can still send the error back to the sender.

import { Packr } from 'msgpackr'
import { VerimeshError } from '../errors.js'
import { KIND_CODES, KINDS, WIRE_VERSION, type EnvelopeHead, type WireEnvelope } from './envelope.js'

/** A decode failure that may still know who sent the envelope. */
export class EnvelopeDecodeError extends VerimeshError {
  readonly head: EnvelopeHead

  constructor (code: 'MALFORMED_FRAME' | 'UNSUPPORTED_VERSION', message: string, head: EnvelopeHead, context: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, context, cause === undefined ? undefined : { cause })
    this.head = head
  }
}

export interface EnvelopeCodecOptions {
  /**
   * Copy binary fields out of the received buffer instead of returning views into
   * it. Views are cheaper; a copy lets the (up to frame-sized) receive buffer be
   * freed while a small binary field lives on. Default false.
   */
  copyBuffers?: boolean
}

/**
 * One instance per transport: a Packr keeps an output buffer that it reuses between
 * calls, which is why this is not module-level state.
 */
export class EnvelopeCodec {
  readonly #packr: Packr

  constructor (opts: EnvelopeCodecOptions = {}) {
    // useRecords:false keeps plain msgpack (any peer can decode it, no shared
    // structure table to synchronise); moreTypes keeps typed arrays, Map, Set...
    this.#packr = new Packr({ useRecords: false, moreTypes: true, copyBuffers: opts.copyBuffers === true })
  }

  /**
   * Encode one envelope. The result stays valid after later calls (msgpackr only
   * appends to its buffer and starts a fresh one when full). Throws SCHEMA_INVALID
   * when the payload holds something msgpack cannot carry (e.g. a symbol).
   */
  encode (env: WireEnvelope): Uint8Array {
    const tuple = [WIRE_VERSION, KIND_CODES[env.kind], env.type, env.version, env.target, env.sender ?? null, env.correlationId ?? null, env.payload]
    try {
      return this.#packr.pack(tuple)
    } catch (err) {
      throw new VerimeshError('SCHEMA_INVALID', `message '${env.type}' cannot be encoded: ${(err as Error).message}`, { type: env.type, target: env.target }, { cause: err })
    }
  }

  /** Encode any msgpack value with the same options (pubsub payloads, tests). */
  encodeValue (value: unknown): Uint8Array {
    return this.#packr.pack(value)
  }

  decodeValue (bytes: Uint8Array): unknown {
    return this.#packr.unpack(bytes)
  }

  /** Decode and shape-check one envelope. Throws EnvelopeDecodeError. */
  decode (bytes: Uint8Array): WireEnvelope {
    let raw: unknown
    try {
      raw = this.#packr.unpack(bytes)
    } catch (err) {
      // Includes RangeError from absurd nesting: all of it is the peer's fault.
      throw new EnvelopeDecodeError('MALFORMED_FRAME', `undecodable envelope: ${(err as Error).message}`, {}, { bytes: bytes.byteLength }, err)
    }
    return checkEnvelope(raw)
  }
}

/** Shape-check a decoded value as an envelope array. Exported for tests. */
export function checkEnvelope (raw: unknown): WireEnvelope {
  if (!Array.isArray(raw)) {
    throw new EnvelopeDecodeError('MALFORMED_FRAME', `not an envelope: expected an array, got ${describe(raw)}`, {})
  }
  // Read the head first, leniently, so that any later failure can still be answered.
  const head: EnvelopeHead = {}
  const [wire, kindCode, type, version, target, sender, correlationId, payload] = raw as unknown[]
  const kind = typeof kindCode === 'number' ? KINDS[kindCode] : undefined
  if (kind !== undefined) head.kind = kind
  if (typeof type === 'string') head.type = type
  if (typeof target === 'string') head.target = target
  if (typeof sender === 'string') head.sender = sender
  if (typeof correlationId === 'string') head.correlationId = correlationId

  if (wire !== WIRE_VERSION) {
    // A different layout: only trust the head if it at least looks like ours.
    throw new EnvelopeDecodeError('UNSUPPORTED_VERSION', `envelope wire version ${String(wire)} is not supported (this node speaks ${WIRE_VERSION})`, typeof wire === 'number' ? head : {}, { wireVersion: wire, supported: WIRE_VERSION })
  }
  const bad = (field: string, why: string): never => {
    throw new EnvelopeDecodeError('MALFORMED_FRAME', `not an envelope: ${field} ${why}`, head, { field })
  }
  if (raw.length !== 8) bad('length', `is ${raw.length}, expected 8`)
  if (kind === undefined) bad('kind', `is ${describe(kindCode)}`)
  if (typeof type !== 'string' || type.length === 0) bad('type', 'must be a non-empty string')
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) bad('version', 'must be a non-negative integer')
  if (typeof target !== 'string' || !isAddress(target)) bad('target', 'must be an address <peer>/<path>')
  if (sender !== null && (typeof sender !== 'string' || !isAddress(sender))) bad('sender', 'must be an address or null')
  if (correlationId !== null && (typeof correlationId !== 'string' || correlationId.length === 0)) bad('correlationId', 'must be a non-empty string or null')
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || Object.getPrototypeOf(payload) !== Object.prototype) bad('payload', `must be a map, got ${describe(payload)}`)
  if (Object.hasOwn(payload as object, 'type')) bad('payload', 'must not repeat `type`')

  const env: WireEnvelope = { kind: kind!, type: type as string, version: version as number, target: target as string, payload: payload as Record<string, unknown> }
  if (head.sender !== undefined) env.sender = head.sender
  if (head.correlationId !== undefined) env.correlationId = head.correlationId
  return env
}

function isAddress (s: string): boolean {
  const slash = s.indexOf('/')
  return slash > 0 && slash < s.length - 1
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object'
  return typeof v === 'string' ? `string '${v.slice(0, 32)}'` : `${typeof v} ${String(v)}`
}
