import test from 'ava'
import { isVerimeshError, type VerimeshError } from '../runtime/errors.js'
import {
  DEFAULT_MAX_FRAME_BYTES, ENVELOPE_PREFIX_BYTES, FRAME_HEADER_BYTES, FrameDecoder,
  encodeFrame, frameBytes, maxEnvelopeBytes, splitEnvelopes
} from '../runtime/protocol/frame.js'

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)

function header (bodyLength: number, magic = [0x56, 0x4d], version = 1, flags = 0): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES)
  h.set(magic, 0)
  h[2] = version
  h[3] = flags
  new DataView(h.buffer).setUint32(4, bodyLength)
  return h
}

test('encodeFrame lays out header, length prefixes and envelopes', (t) => {
  const frame = encodeFrame([bytes(1, 2, 3), bytes(9)])
  t.is(frame.byteLength, frameBytes(4, 2))
  t.deepEqual([...frame], [0x56, 0x4d, 1, 0, 0, 0, 0, 12, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 9])
  t.is(DEFAULT_MAX_FRAME_BYTES, 4 * 1024 * 1024)
  t.is(maxEnvelopeBytes(100), 100 - FRAME_HEADER_BYTES - ENVELOPE_PREFIX_BYTES)
})

test('encodeFrame with a range encodes only that slice', (t) => {
  const frame = encodeFrame([bytes(1), bytes(2), bytes(3)], 1, 2)
  const d = new FrameDecoder()
  const [body] = d.push(frame)
  t.deepEqual([...splitEnvelopes(body)].map(e => [...e]), [[2]])
})

test('decoder reassembles frames split at every byte boundary', (t) => {
  const envs = [bytes(1), bytes(2, 2), new Uint8Array(300).fill(7)]
  const stream = new Uint8Array([...encodeFrame(envs), ...encodeFrame([bytes(5)])])
  for (let cut = 1; cut < stream.byteLength; cut += 7) {
    const d = new FrameDecoder()
    const bodies = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))]
    t.is(bodies.length, 2)
    t.deepEqual([...splitEnvelopes(bodies[0])].map(e => e.byteLength), [1, 2, 300])
    t.deepEqual([...splitEnvelopes(bodies[1])].map(e => [...e]), [[5]])
    t.is(d.bufferedBytes, 0)
  }
})

test('decoder handles one byte at a time and many frames per chunk', (t) => {
  const one = encodeFrame([bytes(42)])
  const many = new Uint8Array(one.byteLength * 50)
  for (let i = 0; i < 50; i++) many.set(one, i * one.byteLength)
  const d = new FrameDecoder()
  t.is(d.push(many).length, 50)
  let n = 0
  for (const b of one) n += d.push(bytes(b)).length
  t.is(n, 1)
})

test('bad magic is MALFORMED_FRAME and poisons the decoder', (t) => {
  const d = new FrameDecoder()
  const err = t.throws(() => d.push(new TextEncoder().encode('GET / HTTP/1.1\r\n')))
  t.true(isVerimeshError(err, 'MALFORMED_FRAME'))
  t.regex(err!.message, /magic/)
  // After a failure the stream cannot be trusted: every later push fails the same way.
  const again = t.throws(() => d.push(encodeFrame([bytes(1)])))
  t.is(again, err)
})

test('zero or too-short body length is MALFORMED_FRAME (bad length prefix)', (t) => {
  for (const len of [0, 1, 4]) {
    const err = t.throws(() => new FrameDecoder().push(header(len)))
    t.true(isVerimeshError(err, 'MALFORMED_FRAME'), `len ${len}`)
    t.regex(err!.message, /length prefix/)
  }
})

test('oversized frame is FRAME_TOO_LARGE from the header alone', (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 1024 })
  // Only the header arrives: the decision must not wait for (or buffer) the body.
  const err = t.throws(() => d.push(header(2000))) as VerimeshError
  t.true(isVerimeshError(err, 'FRAME_TOO_LARGE'))
  t.is(err!.context.frameBytes, 2008)
  t.is(err!.context.maxFrameBytes, 1024)
  // Exactly at the limit is fine.
  const ok = new FrameDecoder({ maxFrameBytes: 1024 })
  const body = new Uint8Array(1024 - FRAME_HEADER_BYTES)
  new DataView(body.buffer).setUint32(0, body.byteLength - 4)
  t.is(ok.push(new Uint8Array([...header(body.byteLength), ...body])).length, 1)
  // A length near 4 GiB is refused as too large, not allocated.
  t.true(isVerimeshError(t.throws(() => new FrameDecoder().push(header(0xffffffff))), 'FRAME_TOO_LARGE'))
})

test('unknown frame version is UNSUPPORTED_VERSION, unknown flags MALFORMED_FRAME', (t) => {
  t.true(isVerimeshError(t.throws(() => new FrameDecoder().push(header(8, undefined, 2))), 'UNSUPPORTED_VERSION'))
  t.true(isVerimeshError(t.throws(() => new FrameDecoder().push(header(8, undefined, 1, 0x80))), 'MALFORMED_FRAME'))
})

test('splitEnvelopes yields the good prefix, then MALFORMED_FRAME on an overrun', (t) => {
  const body = new Uint8Array([0, 0, 0, 1, 7, 0, 0, 0, 9, 1, 2])
  const seen: number[][] = []
  const err = t.throws(() => { for (const e of splitEnvelopes(body)) seen.push([...e]) }) as VerimeshError
  t.deepEqual(seen, [[7]])
  t.true(isVerimeshError(err, 'MALFORMED_FRAME'))
  t.is(err!.context.offset, 5)
})

test('splitEnvelopes refuses a truncated length and a zero length', (t) => {
  t.true(isVerimeshError(t.throws(() => [...splitEnvelopes(bytes(0, 0, 0, 1, 7, 0, 0))]), 'MALFORMED_FRAME'))
  t.true(isVerimeshError(t.throws(() => [...splitEnvelopes(bytes(0, 0, 0, 0))]), 'MALFORMED_FRAME'))
})

test('a tiny maxFrameBytes is a configuration error', (t) => {
  t.true(isVerimeshError(t.throws(() => new FrameDecoder({ maxFrameBytes: 8 })), 'CONFIG_INVALID'))
})
