import test from 'ava'
import { Type } from '@sinclair/typebox'
import { Packr } from 'msgpackr'
import { isVerimeshError, VerimeshError } from '../runtime/errors.js'
import { EnvelopeCodec, EnvelopeDecodeError, checkEnvelope } from '../runtime/protocol/codec.js'
import { KIND_CODES, splitAddress, toOutboundEnvelope, toWireEnvelope, WIRE_VERSION, type WireEnvelope } from '../runtime/protocol/envelope.js'
import { defineMessage, MessageRegistry } from '../runtime/protocol/registry.js'
import { errorFromSysError, registerSystemMessages, sysError, sysRejected, SysError, SysRejected } from '../runtime/protocol/system-messages.js'

const P = 'peerA'
const raw = new Packr({ useRecords: false, moreTypes: true })

const sample: WireEnvelope = {
  kind: 'msg',
  type: 'echo',
  version: 3,
  target: 'peerB/user/echo',
  sender: `${P}/temp/17`,
  correlationId: '17',
  payload: { text: 'hi', data: new Float32Array([1.5, -2]), bytes: new Uint8Array([1, 2]), n: 2n ** 70n, nested: { a: [1, null, 'x'] } }
}

test('round trip keeps every field and typed arrays', (t) => {
  const codec = new EnvelopeCodec()
  const back = codec.decode(codec.encode(sample))
  const { bytes, ...rest } = back.payload
  const { bytes: sentBytes, ...sentRest } = sample.payload
  t.deepEqual({ ...back, payload: rest }, { ...sample, payload: sentRest })
  t.true(back.payload.data instanceof Float32Array)
  // A top-level Uint8Array travels as msgpack bin and arrives as a Buffer (a Uint8Array).
  t.true(bytes instanceof Uint8Array)
  t.deepEqual([...(bytes as Uint8Array)], [...(sentBytes as Uint8Array)])
})

test('hand-written head and generic msgpack agree both ways', (t) => {
  const codec = new EnvelopeCodec()
  const long = `${'p'.repeat(40)}/${'x'.repeat(300)}` // str16 address, head over 255 bytes
  for (const env of [
    sample,
    { ...sample, version: 200, correlationId: undefined, sender: undefined },
    { ...sample, version: 70_000, target: long, sender: long, type: 'é-ünïcode' },
    { ...sample, kind: 'reply' as const, version: 0, payload: {} }
  ]) {
    const bytes = codec.encode(env)
    const generic = raw.unpack(bytes) as unknown[]
    t.deepEqual(generic.slice(0, 7), [WIRE_VERSION, ['msg', 'reply', 'error', 'reject'].indexOf(env.kind), env.type, env.version, env.target, env.sender ?? null, env.correlationId ?? null])
    const back = codec.decode(bytes)
    t.is(back.type, env.type)
    t.is(back.target, env.target)
    t.is(back.version, env.version)
    t.is(back.sender, env.sender)
    t.is(back.correlationId, env.correlationId)
    // And an envelope written by plain msgpackr decodes the same.
    const viaPackr = codec.decode(raw.pack([WIRE_VERSION, KIND_CODES[env.kind], env.type, env.version, env.target, env.sender ?? null, env.correlationId ?? null, { n: 1 }]))
    t.like(viaPackr, { type: env.type, target: env.target, version: env.version, payload: { n: 1 } })
  }
})

test('decoded head strings are reused when they repeat, and change when they do', (t) => {
  const codec = new EnvelopeCodec()
  const a = codec.decode(codec.encode(sample))
  const b = codec.decode(codec.encode({ ...sample, target: 'peerB/user/other' }))
  const c = codec.decode(codec.encode(sample))
  t.is(a.target, 'peerB/user/echo')
  t.is(b.target, 'peerB/user/other')
  t.is(c.target, 'peerB/user/echo')
})

test('truncated envelopes are MALFORMED_FRAME at every cut, never a crash', (t) => {
  const codec = new EnvelopeCodec()
  const bytes = codec.encode(sample)
  for (let cut = 0; cut < bytes.byteLength; cut++) {
    const err = t.throws(() => codec.decode(bytes.subarray(0, cut))) as VerimeshError
    t.is(err.code, 'MALFORMED_FRAME', `cut ${cut}`)
  }
})

test('optional sender and correlation id are absent, not undefined', (t) => {
  const codec = new EnvelopeCodec()
  const back = codec.decode(codec.encode({ kind: 'reject', type: 't', version: 1, target: 'p/x', payload: {} }))
  t.false('sender' in back)
  t.false('correlationId' in back)
  t.is(back.kind, 'reject')
})

test('encoded results stay valid after later encodes', (t) => {
  const codec = new EnvelopeCodec()
  const all = Array.from({ length: 200 }, (_, i) => codec.encode({ ...sample, payload: { i, pad: 'x'.repeat(i * 10) } }))
  all.forEach((b, i) => { t.is(codec.decode(b).payload.i, i) })
})

test('the wire layout is the documented array', (t) => {
  const codec = new EnvelopeCodec()
  const arr = raw.unpack(codec.encode(sample)) as unknown[]
  t.deepEqual(arr.slice(0, 7), [WIRE_VERSION, 0, 'echo', 3, 'peerB/user/echo', `${P}/temp/17`, '17'])
})

test('undecodable bytes are MALFORMED_FRAME without a head', (t) => {
  const codec = new EnvelopeCodec()
  for (const bad of [new Uint8Array([0x92, 1]), new Uint8Array([0xc1]), new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])]) {
    const err = t.throws(() => codec.decode(bad))
    t.true(err instanceof EnvelopeDecodeError)
    t.true(isVerimeshError(err, 'MALFORMED_FRAME'), String(err?.message))
  }
})

test('deep nesting is refused, not a crash', (t) => {
  const codec = new EnvelopeCodec()
  const depth = 200_000
  const bytes = new Uint8Array(depth + 1).fill(0x91) // fixarray(1) nested
  bytes[depth] = 0xc0
  t.true(isVerimeshError(t.throws(() => codec.decode(bytes)), 'MALFORMED_FRAME'))
})

test('not an envelope: each bad field is named, the readable head is kept', (t) => {
  const good = [WIRE_VERSION, 0, 'echo', 1, 'p/x', 'q/y', 'c1', {}]
  const cases: Array<[number, unknown, string]> = [
    [1, 9, 'kind'],
    [2, '', 'type'],
    [3, -1, 'version'],
    [3, 1.5, 'version'],
    [4, 'nopath', 'target'],
    [5, 42, 'sender'],
    [6, '', 'correlationId'],
    [7, [1], 'payload'],
    [7, null, 'payload'],
    [7, { type: 'sneaky' }, 'payload']
  ]
  for (const [i, v, field] of cases) {
    const arr: unknown[] = [...good]
    arr[i] = v
    const err = t.throws(() => checkEnvelope(arr)) as EnvelopeDecodeError
    t.is(err.code, 'MALFORMED_FRAME', field)
    t.is(err.context.field, field)
    if (field !== 'sender') t.is(err.head.sender, 'q/y')
    if (field !== 'correlationId') t.is(err.head.correlationId, 'c1')
  }
  t.is((t.throws(() => checkEnvelope({ a: 1 })) as VerimeshError).code, 'MALFORMED_FRAME')
  t.is((t.throws(() => checkEnvelope([...good, 'extra'])) as VerimeshError).code, 'MALFORMED_FRAME')
})

test('an unknown wire version is UNSUPPORTED_VERSION', (t) => {
  const err = t.throws(() => checkEnvelope([2, 0, 'echo', 1, 'p/x', 'q/y', 'c1', {}])) as EnvelopeDecodeError
  t.is(err.code, 'UNSUPPORTED_VERSION')
  t.is(err.head.sender, 'q/y')
  // Something that is not even a number there: no head is trusted.
  const err2 = t.throws(() => checkEnvelope(['x', 0, 'echo', 1, 'p/x', 'q/y', 'c1', {}])) as EnvelopeDecodeError
  t.is(err2.code, 'UNSUPPORTED_VERSION')
  t.deepEqual(err2.head, {})
})

test('a payload msgpack cannot carry is SCHEMA_INVALID at encode', (t) => {
  const codec = new EnvelopeCodec()
  t.true(isVerimeshError(t.throws(() => codec.encode({ ...sample, payload: { s: Symbol('x') } })), 'SCHEMA_INVALID'))
})

test('toWireEnvelope / toOutboundEnvelope split and rebuild the message', (t) => {
  const wire = toWireEnvelope({ kind: 'msg', target: 'p/a', sender: 'q/b', message: { type: 'echo', text: 'x' } }, 2)
  t.deepEqual(wire, { kind: 'msg', type: 'echo', version: 2, target: 'p/a', sender: 'q/b', payload: { text: 'x' } })
  const env = toOutboundEnvelope(wire)
  t.deepEqual(env, { kind: 'msg', target: 'p/a', sender: 'q/b', message: { text: 'x', type: 'echo' } })
})

test('splitAddress', (t) => {
  t.deepEqual(splitAddress('12D3Koo/user/a'), { peer: '12D3Koo', path: '/user/a' })
  t.is(splitAddress('/user/a'), undefined)
  t.is(splitAddress('peer/'), undefined)
  t.is(splitAddress('peer'), undefined)
})

test('system messages validate and carry errors both ways', (t) => {
  const reg = registerSystemMessages(new MessageRegistry())
  registerSystemMessages(reg) // idempotent
  const err = new VerimeshError('MAILBOX_FULL', 'full', { capacity: 10, fn: () => 1, nested: { big: 5n } })
  const e = sysError(err)
  reg.validate(SysError.type, SysError.version, e)
  t.deepEqual(e.error.context, { capacity: 10, nested: { big: '5' } })
  const back = errorFromSysError(e)
  t.is(back.code, 'MAILBOX_FULL')
  t.true(back.context.remote)
  const r = sysRejected('p/x', 'echo', err)
  reg.validate(SysRejected.type, SysRejected.version, r)
  t.is(r.messageType, 'echo')
})

test('registry errors the transport relies on', (t) => {
  const reg = new MessageRegistry([defineMessage('echo', 1, { text: Type.String() })])
  t.is((t.throws(() => reg.validate('nope', 1, { type: 'nope' })) as VerimeshError).code, 'UNKNOWN_MESSAGE_TYPE')
  t.is((t.throws(() => reg.validate('echo', 2, { type: 'echo', text: 'x' })) as VerimeshError).code, 'UNSUPPORTED_VERSION')
  const bad = t.throws(() => reg.validate('echo', 1, { type: 'echo', text: 5 })) as VerimeshError
  t.is(bad.code, 'SCHEMA_INVALID')
  t.is(bad.context.path, '/text')
})
