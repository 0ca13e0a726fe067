// msgpack encoding of single envelopes (see envelope.ts for the layout).
//
// Decoding is where hostile input arrives, so it checks the shape of everything it
// returns and says precisely what was wrong. It reports two levels of failure:
// the bytes are not msgpack, or not an envelope (MALFORMED_FRAME); or the envelope
// is well formed but uses a layout this node does not speak (UNSUPPORTED_VERSION).
// Whatever head fields could be read are attached to the error (`head`), so the
// caller can still send the error back to the sender.
//
// Speed (measured, see bench/actors): the head of an envelope is a handful of
// strings that repeat from one message to the next (type, target, sender), and
// generic msgpack coding of them cost more than the rest of a 1 KB message. So the
// head is written and read here by hand: encoded strings are cached, and a decoded
// string is reused when its bytes equal the previous one in the same position.
// msgpackr only codes the payload. The bytes are the same msgpack either way; any
// head this fast path does not expect goes through the generic decoder, which
// produces the precise errors.

import { Packr, RESERVE_START_SPACE } from 'msgpackr'
import { VerimeshError } from '../errors.js'
import { KIND_CODES, KINDS, WIRE_VERSION, type EnvelopeHead, type EnvelopeKind, type WireEnvelope } from './envelope.js'
import type { OutboundEnvelope } from '../actors/types.js'

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

const ARRAY8 = 0x98
const NIL = 0xc0
/** Entries per generation of the encoded-string cache (correlation ids are never cached). */
const STRING_CACHE_MAX = 4096
const SLAB_BYTES = 256 * 1024
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

interface DecodedString {
  bytes: Uint8Array
  view: DataView
  value: string
}

interface Cursor {
  pos: number
  /** Over the whole envelope, for word-at-a-time comparisons. */
  view: DataView
}

/** bytes[p, p+len) of `view` equal `last.bytes`? Four bytes at a time (3x a byte loop, measured). */
function sameBytes (last: DecodedString, view: DataView, p: number, len: number): boolean {
  const lv = last.view
  let i = 0
  for (; i + 4 <= len; i += 4) if (lv.getUint32(i) !== view.getUint32(p + i)) return false
  for (; i < len; i++) if (last.bytes[i] !== view.getUint8(p + i)) return false
  return true
}

/**
 * One instance per transport: a Packr keeps an output buffer that it reuses between
 * calls, and the string caches belong to the streams this transport reads, which
 * is why none of this is module-level state.
 */
export class EnvelopeCodec {
  readonly #packr: Packr
  #encoded = new Map<string, Uint8Array>()
  #encodedOld = new Map<string, Uint8Array>()
  /** Last decoded string per head position: type, target, sender. */
  readonly #lastDecoded: Array<DecodedString | undefined> = [undefined, undefined, undefined]
  #lastPrefix: { kind: EnvelopeKind, type: string, version: number, target: string, sender: string | undefined, bytes: Uint8Array } | undefined

  constructor (opts: EnvelopeCodecOptions = {}) {
    // useRecords:false keeps plain msgpack (any peer can decode it, no shared
    // structure table to synchronise); moreTypes keeps typed arrays, Map, Set...
    this.#packr = new Packr({ useRecords: false, moreTypes: true, copyBuffers: opts.copyBuffers === true })
    // msgpackr packs into a slab and allocates the next one at the current one's size
    // (8 KiB by default: a new allocation every ~6 messages of 1 KB). Encoded
    // envelopes are views into their slab until framed, so a slab lives as long as
    // its last queued envelope; 256 KiB keeps allocations rare at a small cost.
    this.#packr.useBuffer(Buffer.allocUnsafe(SLAB_BYTES))
  }

  /**
   * Encode one envelope. The result stays valid after later calls (msgpackr only
   * appends to its buffer and starts a fresh one when full). Throws SCHEMA_INVALID
   * when the payload holds something msgpack cannot carry (e.g. a symbol).
   */
  encode (env: WireEnvelope): Uint8Array {
    return this.#encode(env.kind, env.type, env.version, env.target, env.sender, env.correlationId, binaryFields(env.payload, undefined))
  }

  /**
   * Encode straight from what the actor system hands the transport: the payload is
   * the message minus `type`, built in one pass.
   */
  encodeOutbound (env: OutboundEnvelope, version: number): Uint8Array {
    const msg = env.message
    return this.#encode(env.kind, msg.type, version, env.target, env.sender, env.correlationId, binaryFields(msg, 'type'))
  }

  #encode (kind: EnvelopeKind, type: string, version: number, target: string, sender: string | undefined, correlationId: string | undefined, payload: Record<string, unknown>): Uint8Array {
    const prefix = this.#prefix(kind, type, version, target, sender)
    const cidBytes = correlationId === undefined ? undefined : encodeStr(correlationId)
    const headLen = prefix.byteLength + (cidBytes?.byteLength ?? 1)
    let out: Uint8Array
    try {
      if (headLen <= 0xff) {
        // msgpackr leaves headLen bytes free in front of the payload: one buffer, no copy.
        out = this.#packr.pack(payload, RESERVE_START_SPACE | headLen)
      } else {
        const body = this.#packr.pack(payload)
        out = new Uint8Array(headLen + body.byteLength)
        out.set(body, headLen)
      }
    } catch (err) {
      throw new VerimeshError('SCHEMA_INVALID', `message '${type}' cannot be encoded: ${(err as Error).message}`, { type, target }, { cause: err })
    }
    out.set(prefix, 0)
    if (cidBytes === undefined) out[prefix.byteLength] = NIL
    else out.set(cidBytes, prefix.byteLength)
    return out
  }

  /**
   * The head up to (not including) the correlation id. Consecutive messages
   * usually share it (same kind, type, target, sender), so the last one is kept:
   * one copy per message instead of five small ones.
   */
  #prefix (kind: EnvelopeKind, type: string, version: number, target: string, sender: string | undefined): Uint8Array {
    const last = this.#lastPrefix
    if (last !== undefined && last.kind === kind && last.type === type && last.version === version && last.target === target && last.sender === sender) return last.bytes
    const typeBytes = this.#str(type)
    const targetBytes = this.#str(target)
    const senderBytes = sender === undefined ? undefined : this.#str(sender)
    const bytes = new Uint8Array(3 + typeBytes.byteLength + uintLength(version) + targetBytes.byteLength + (senderBytes?.byteLength ?? 1))
    let pos = 0
    bytes[pos++] = ARRAY8
    bytes[pos++] = WIRE_VERSION
    bytes[pos++] = KIND_CODES[kind]
    bytes.set(typeBytes, pos); pos += typeBytes.byteLength
    pos = writeUint(bytes, pos, version)
    bytes.set(targetBytes, pos); pos += targetBytes.byteLength
    if (senderBytes === undefined) bytes[pos++] = NIL
    else bytes.set(senderBytes, pos)
    this.#lastPrefix = { kind, type, version, target, sender, bytes }
    return bytes
  }

  /**
   * A msgpack str, cached: types and addresses repeat. Two generations, so that a
   * flood of one-off strings (ask reply addresses, `<peer>/temp/<id>`) ages out
   * instead of flushing the addresses that do repeat.
   */
  #str (s: string): Uint8Array {
    let bytes = this.#encoded.get(s)
    if (bytes !== undefined) return bytes
    bytes = this.#encodedOld.get(s) ?? encodeStr(s)
    if (this.#encoded.size >= STRING_CACHE_MAX) {
      this.#encodedOld = this.#encoded
      this.#encoded = new Map()
    }
    this.#encoded.set(s, bytes)
    return bytes
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
    return this.#decodeFast(bytes) ?? this.#decodeGeneric(bytes)
  }

  /**
   * The common case, read by hand. Returns undefined for anything unexpected in the
   * head, leaving the diagnosis to the generic path.
   */
  #decodeFast (b: Uint8Array): WireEnvelope | undefined {
    if (b.byteLength < 9 || b[0] !== ARRAY8 || b[1] !== WIRE_VERSION || b[2] > 3) return undefined
    const cursor = { pos: 3, view: new DataView(b.buffer, b.byteOffset, b.byteLength) }
    const type = this.#readStr(b, cursor, 0)
    if (type === undefined || type.length === 0) return undefined
    const version = readUint(b, cursor)
    if (version === undefined) return undefined
    const target = this.#readStr(b, cursor, 1)
    if (target === undefined || !isAddress(target)) return undefined
    let sender: string | undefined
    if (b[cursor.pos] === NIL) cursor.pos++
    else {
      sender = this.#readStr(b, cursor, 2)
      if (sender === undefined || !isAddress(sender)) return undefined
    }
    let correlationId: string | undefined
    if (b[cursor.pos] === NIL) cursor.pos++
    else {
      correlationId = this.#readStr(b, cursor, -1)
      if (correlationId === undefined || correlationId.length === 0) return undefined
    }
    if (cursor.pos >= b.byteLength) return undefined
    const kind = KINDS[b[2]]
    const head: EnvelopeHead = { kind, type, target }
    if (sender !== undefined) head.sender = sender
    if (correlationId !== undefined) head.correlationId = correlationId
    let payload: unknown
    try {
      payload = this.#packr.unpack(b.subarray(cursor.pos))
    } catch (err) {
      throw new EnvelopeDecodeError('MALFORMED_FRAME', `undecodable payload of '${type}': ${(err as Error).message}`, head, { field: 'payload' }, err)
    }
    if (!isPlainObject(payload)) {
      throw new EnvelopeDecodeError('MALFORMED_FRAME', `not an envelope: payload must be a map, got ${describe(payload)}`, head, { field: 'payload' })
    }
    if (Object.hasOwn(payload, 'type')) {
      throw new EnvelopeDecodeError('MALFORMED_FRAME', 'not an envelope: payload must not repeat `type`', head, { field: 'payload' })
    }
    const env: WireEnvelope = { kind, type, version, target, payload }
    if (sender !== undefined) env.sender = sender
    if (correlationId !== undefined) env.correlationId = correlationId
    return env
  }

  /** Read a msgpack str; reuse the previous string of this head position when the bytes match. */
  #readStr (b: Uint8Array, cursor: Cursor, slot: number): string | undefined {
    let p = cursor.pos
    if (p + 3 > b.byteLength) return undefined
    const tag = b[p++]
    let len: number
    if ((tag & 0xe0) === 0xa0) len = tag & 0x1f
    else if (tag === 0xd9) len = b[p++]
    else if (tag === 0xda) { len = (b[p] << 8) | b[p + 1]; p += 2 } else return undefined
    const end = p + len
    if (end > b.byteLength) return undefined
    cursor.pos = end
    const last = slot >= 0 ? this.#lastDecoded[slot] : undefined
    if (last !== undefined && last.bytes.byteLength === len && sameBytes(last, cursor.view, p, len)) return last.value
    const value = utf8Decoder.decode(b.subarray(p, end))
    if (slot >= 0) {
      // A copy (not b.slice: on a Buffer that is a view into the whole frame).
      const bytes = new Uint8Array(len)
      bytes.set(b.subarray(p, end))
      this.#lastDecoded[slot] = { bytes, view: new DataView(bytes.buffer), value }
    }
    return value
  }

  #decodeGeneric (bytes: Uint8Array): WireEnvelope {
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
  if (!isPlainObject(payload)) bad('payload', `must be a map, got ${describe(payload)}`)
  if (Object.hasOwn(payload as object, 'type')) bad('payload', 'must not repeat `type`')

  const env: WireEnvelope = { kind: kind!, type: type as string, version: version as number, target: target as string, payload: payload as Record<string, unknown> }
  if (head.sender !== undefined) env.sender = head.sender
  if (head.correlationId !== undefined) env.correlationId = head.correlationId
  return env
}

/**
 * A shallow copy of `obj` without `skip`, with top-level plain Uint8Array fields
 * re-viewed as Buffers (no copy). msgpackr (moreTypes) writes a plain Uint8Array as
 * its own typed-array extension, which the receiver must copy into a fresh,
 * aligned ArrayBuffer (~1 µs per field, measured); a Buffer it writes as standard
 * msgpack bin, which any msgpack decoder reads and the receiver gets as a view.
 * The receiver sees a Buffer: still a Uint8Array. Nested typed arrays keep the
 * extension.
 */
function binaryFields (obj: Record<string, unknown>, skip: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k in obj) {
    if (k === skip || !Object.hasOwn(obj, k)) continue
    const v = obj[k]
    out[k] = v instanceof Uint8Array && v.constructor === Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v
  }
  return out
}

function encodeStr (s: string): Uint8Array {
  const body = utf8.encode(s)
  const n = body.byteLength
  let out: Uint8Array
  if (n < 32) { out = new Uint8Array(1 + n); out[0] = 0xa0 | n; out.set(body, 1) } else if (n < 0x100) { out = new Uint8Array(2 + n); out[0] = 0xd9; out[1] = n; out.set(body, 2) } else if (n < 0x10000) { out = new Uint8Array(3 + n); out[0] = 0xda; out[1] = n >> 8; out[2] = n & 0xff; out.set(body, 3) } else { out = new Uint8Array(5 + n); out[0] = 0xdb; new DataView(out.buffer).setUint32(1, n); out.set(body, 5) }
  return out
}

function uintLength (n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

function writeUint (out: Uint8Array, pos: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new VerimeshError('SCHEMA_INVALID', `message version ${n} is not a u32`, { version: n })
  if (n < 0x80) { out[pos] = n; return pos + 1 }
  if (n < 0x100) { out[pos] = 0xcc; out[pos + 1] = n; return pos + 2 }
  if (n < 0x10000) { out[pos] = 0xcd; out[pos + 1] = n >> 8; out[pos + 2] = n & 0xff; return pos + 3 }
  out[pos] = 0xce; out[pos + 1] = n >>> 24; out[pos + 2] = (n >> 16) & 0xff; out[pos + 3] = (n >> 8) & 0xff; out[pos + 4] = n & 0xff
  return pos + 5
}

function readUint (b: Uint8Array, cursor: Cursor): number | undefined {
  const p = cursor.pos
  if (p + 5 > b.byteLength) return undefined // an envelope always has more after the version
  const tag = b[p]
  if (tag < 0x80) { cursor.pos = p + 1; return tag }
  if (tag === 0xcc) { cursor.pos = p + 2; return b[p + 1] }
  if (tag === 0xcd) { cursor.pos = p + 3; return (b[p + 1] << 8) | b[p + 2] }
  if (tag === 0xce) { cursor.pos = p + 5; return ((b[p + 1] << 24) >>> 0) + ((b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4]) }
  return undefined
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
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
