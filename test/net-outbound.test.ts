// PeerLink against a fake stream: coalescing, backpressure, failure handling.
import test from 'ava'
import { VerimeshError } from '../runtime/errors.js'
import { EnvelopeCodec } from '../runtime/protocol/codec.js'
import { toWireEnvelope } from '../runtime/protocol/envelope.js'
import { FrameDecoder, splitEnvelopes } from '../runtime/protocol/frame.js'
import { PeerLink, type LinkStream } from '../runtime/net/outbound.js'
import { TransportCounters } from '../runtime/net/stats.js'
import type { OutboundEnvelope } from '../runtime/actors/types.js'

/**
 * A stream whose "network" takes `capacity` bytes, then needs drain() to take more.
 * What the network has not taken stays in writeBufferLength (like libp2p's buffer).
 */
class FakeStream extends EventTarget implements LinkStream {
  writeBufferLength = 0
  writeStatus = 'writable'
  status = 'open'
  frames: Uint8Array[] = []
  sends = 0
  /** Bytes handed to the network since the last drain, plus what waits in the buffer. */
  inFlight = 0
  peakBuffered = 0
  constructor (readonly capacity = Infinity) { super() }
  send (data: Uint8Array): boolean {
    if (this.writeStatus !== 'writable') throw new Error('stream closed')
    this.sends++
    this.frames.push(data)
    this.inFlight += data.byteLength
    this.writeBufferLength = Math.max(0, this.inFlight - this.capacity)
    this.peakBuffered = Math.max(this.peakBuffered, this.inFlight)
    return this.inFlight <= this.capacity
  }

  /** The network took everything. */
  drain (): void {
    this.inFlight = 0
    this.writeBufferLength = 0
    this.dispatchEvent(new Event('drain'))
  }

  abort (err: Error): void { this.closeWith(err) }
  async close (): Promise<void> { this.closeWith() }
  closeWith (error?: Error): void {
    if (this.writeStatus === 'closed') return
    this.writeStatus = 'closed'
    this.status = 'closed'
    this.dispatchEvent(Object.assign(new Event('close'), { error }))
  }
}

const codec = new EnvelopeCodec()
const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

function env (i: number, extra: Partial<OutboundEnvelope> = {}): OutboundEnvelope {
  return { kind: 'msg', target: 'peerB/user/sink', sender: 'peerA/user/src', message: { type: 'blob', seq: i, data: new Uint8Array(1000) }, ...extra }
}

function setup (opts: { streams?: FakeStream[], open?: () => Promise<LinkStream>, maxQueuedBytes?: number, highWaterBytes?: number } = {}) {
  const refused: Array<{ env: OutboundEnvelope, err: VerimeshError }> = []
  const counters = new TransportCounters()
  const streams = opts.streams ?? [new FakeStream()]
  let dials = 0
  const link = new PeerLink({
    peer: 'peerB',
    open: opts.open ?? (async () => {
      const s = streams[dials++]
      if (s === undefined) throw new VerimeshError('PEER_UNREACHABLE', 'no more streams')
      return s
    }),
    refuse: (e, err) => { refused.push({ env: e, err }) },
    counters,
    maxBatchBytes: 64 * 1024,
    maxQueuedBytes: opts.maxQueuedBytes ?? 64 * 1024 * 1024,
    highWaterBytes: opts.highWaterBytes ?? 1024 * 1024,
    onQueued: () => {}
  })
  const send = (e: OutboundEnvelope): void => { link.enqueue(e, codec.encode(toWireEnvelope(e, 1))) }
  return { link, refused, counters, streams, send, dials: () => dials }
}

function decodeAll (frames: Uint8Array[]): number[] {
  const d = new FrameDecoder()
  const seqs: number[] = []
  for (const f of frames) for (const body of d.push(f)) for (const e of splitEnvelopes(body)) seqs.push(codec.decode(e).payload.seq as number)
  return seqs
}

test('sends of one turn are coalesced into few frames, in order', async (t) => {
  const { send, streams, counters } = setup()
  for (let i = 0; i < 1000; i++) send(env(i))
  await tick(); await tick()
  const s = streams[0]
  // ~1 KB envelopes, 64 KiB frames: 16 frames, not 1000 writes.
  t.true(s.sends <= 17, `sends ${s.sends}`)
  t.deepEqual(decodeAll(s.frames), Array.from({ length: 1000 }, (_, i) => i))
  t.is(counters.envelopesOut, 1000)
})

test('backpressure: nothing is written between a false send() and drain', async (t) => {
  const s = new FakeStream(100 * 1024)
  const { send, counters, link } = setup({ streams: [s] })
  for (let i = 0; i < 5000; i++) send(env(i))
  await tick(); await tick()
  // The stream said "full" once its buffer passed 100 KiB: the link must stop there.
  t.true(s.peakBuffered <= 100 * 1024 + 64 * 1024, `peak ${s.peakBuffered}`)
  const before = s.sends
  await tick(); await tick()
  t.is(s.sends, before, 'no writes without drain')
  t.true(link.queuedBytes > 0)
  let drains = 0
  while (link.queuedBytes > 0 && drains < 1000) { s.drain(); drains++; await tick() }
  t.is(link.queuedBytes, 0)
  t.true(s.peakBuffered <= 100 * 1024 + 64 * 1024, `peak ${s.peakBuffered}`)
  t.true(counters.drainWaits >= 30)
  t.deepEqual(decodeAll(s.frames), Array.from({ length: 5000 }, (_, i) => i))
})

test("a 'drain' that leaves more than a frame inside the stream waits for 'idle'", async (t) => {
  const s = new FakeStream(0)
  const { send } = setup({ streams: [s] })
  for (let i = 0; i < 500; i++) send(env(i))
  await tick(); await tick()
  t.is(s.sends, 1)
  // A window update: libp2p says drain, but 200 KiB are still buffered in the stream.
  s.writeBufferLength = 200 * 1024
  s.dispatchEvent(new Event('drain'))
  await tick()
  t.is(s.sends, 1, 'no write while the stream still holds more than a frame')
  s.writeBufferLength = 0
  s.dispatchEvent(new Event('idle'))
  await tick()
  t.is(s.sends, 2, 'writes resume once the stream has handed its buffer on')
})

test("a 'drain' dispatched from inside send() never causes a nested send()", async (t) => {
  // libp2p can emit 'drain' while the stream is still inside send(); writing then
  // would only append to its buffer.
  class Reentrant extends FakeStream {
    depth = 0
    nested = 0
    override send (data: Uint8Array): boolean {
      if (this.depth > 0) this.nested++
      this.depth++
      try {
        super.send(data)
        this.inFlight = 0
        this.writeBufferLength = 0
        this.dispatchEvent(new Event('drain')) // while still inside send()
        if (this.sends % 3 !== 0) return true
        // Say "full" now and then; the real drain comes later.
        setImmediate(() => { this.dispatchEvent(new Event('drain')) })
        return false
      } finally {
        this.depth--
      }
    }
  }
  const s = new Reentrant()
  const { send, link } = setup({ streams: [s] })
  for (let i = 0; i < 2000; i++) send(env(i))
  for (let i = 0; i < 50 && link.queuedBytes > 0; i++) await tick()
  t.is(link.queuedBytes, 0)
  t.is(s.nested, 0)
  t.deepEqual(decodeAll(s.frames), Array.from({ length: 2000 }, (_, i) => i))
})

test('whenWritable waits above the high-water mark and resumes after drains', async (t) => {
  const s = new FakeStream(64 * 1024)
  const { send, link } = setup({ streams: [s], highWaterBytes: 256 * 1024 })
  for (let i = 0; i < 1000; i++) send(env(i))
  t.false(link.isWritable())
  let resolved = false
  const p = link.whenWritable().then(() => { resolved = true })
  await tick(); await tick()
  t.false(resolved)
  while (!resolved) { s.drain(); await tick() }
  await p
  t.true(link.queuedBytes <= 256 * 1024)
})

test('dial failure refuses everything queued with PEER_UNREACHABLE', async (t) => {
  const { send, refused, counters } = setup({ streams: [] })
  send(env(1, { correlationId: 'c1' }))
  send(env(2))
  await tick(); await tick()
  t.is(refused.length, 2)
  t.true(refused.every(r => r.err.code === 'PEER_UNREACHABLE'))
  t.is(counters.dialFailures, 1)
})

test('a closed stream fails asks in flight with TRANSPORT_CLOSED and redials for the rest', async (t) => {
  const s1 = new FakeStream(0) // every send "fills" it: only the first frame goes out
  const s2 = new FakeStream()
  const { send, refused, link, dials } = setup({ streams: [s1, s2] })
  send(env(0, { correlationId: 'ask-0' }))
  for (let i = 1; i < 200; i++) send(env(i))
  await tick(); await tick()
  t.is(link.pendingAsks, 1)
  const queued = link.queuedBytes
  t.true(queued > 0)
  s1.closeWith(new Error('connection reset'))
  await tick(); await tick()
  t.is(refused.length, 1)
  t.is(refused[0].env.correlationId, 'ask-0')
  t.is(refused[0].err.code, 'TRANSPORT_CLOSED')
  t.is(dials(), 2)
  t.is(link.queuedBytes, 0)
  // The second stream carries what the first never took, still in order.
  const firstSeqs = decodeAll(s1.frames)
  t.deepEqual([...firstSeqs, ...decodeAll(s2.frames)], Array.from({ length: 200 }, (_, i) => i))
})

test('a reply settles the ask; sweep forgets stale ones', async (t) => {
  const { send, link } = setup()
  send(env(0, { correlationId: 'a' }))
  send(env(1, { correlationId: 'b' }))
  await tick(); await tick()
  t.is(link.pendingAsks, 2)
  link.settle('a')
  t.is(link.pendingAsks, 1)
  t.is(link.sweep(60_000), 0)
  t.is(link.sweep(60_000, Date.now() + 61_000), 1)
  t.is(link.pendingAsks, 0)
})

test('a full queue refuses with MAILBOX_FULL instead of growing', async (t) => {
  const s = new FakeStream(0)
  const { send, refused } = setup({ streams: [s], maxQueuedBytes: 20 * 1024 })
  for (let i = 0; i < 100; i++) send(env(i))
  t.true(refused.length >= 75)
  t.true(refused.every(r => r.err.code === 'MAILBOX_FULL'))
})

test('close refuses queued and in-flight with the given error', async (t) => {
  const s = new FakeStream(0)
  const { send, refused, link } = setup({ streams: [s] })
  send(env(0, { correlationId: 'x' }))
  await tick(); await tick()
  send(env(1)) // stays queued: the stream wants a drain first
  await tick(); await tick()
  t.true(link.queuedBytes > 0)
  await link.close(new VerimeshError('TRANSPORT_CLOSED', 'stopping'))
  t.is(refused.length, 2)
  t.true(refused.every(r => r.err.code === 'TRANSPORT_CLOSED'))
  send(env(2))
  t.is(refused.length, 3)
})
