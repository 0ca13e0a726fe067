// The outbound side of one peer: a queue of encoded envelopes, batched into frames
// and written to one long-lived stream with real backpressure.
//
// - Batching: sends are queued and flushed together, up to maxBatchBytes per frame
//   (one stream write, one noise frame), so many small messages cost a few writes,
//   not one each. The first flush of an event-loop turn is a microtask (latency);
//   later ones wait for setImmediate (coalescing) — see #schedule.
// - Backpressure: when stream.send() returns false, nothing more is written until
//   that stream emits 'drain' (each time; libp2p's onDrain() caches one promise and
//   would let later writers through), and never while more than a frame is still
//   inside the stream: a yamux stream emits 'drain' for every window update, even
//   one that covers only part of its buffer, and writing on each let that buffer
//   grow to 3 MB (measured). Writes resume from a microtask, never from inside the
//   event (see #onDrain). Envelopes wait in this queue meanwhile; the queue itself
//   is capped (maxQueuedBytes) and producers that want to wait instead of being
//   refused use whenWritable().
// - Failure: a dial that fails refuses everything queued with PEER_UNREACHABLE; a
//   stream that closes fails the asks already written on it with TRANSPORT_CLOSED
//   (their replies can no longer be trusted to come), keeps what is still queued
//   and redials for it.

import { VerimeshError } from '../errors.js'
import { encodeFrame, FRAME_HEADER_BYTES, ENVELOPE_PREFIX_BYTES } from '../protocol/frame.js'
import type { OutboundEnvelope } from '../actors/types.js'
import type { TransportCounters } from './stats.js'

/** The part of a libp2p Stream the writer uses; a structural type so tests can fake it. */
export interface LinkStream {
  send: (data: Uint8Array) => boolean
  readonly writeBufferLength: number
  readonly writeStatus: string
  addEventListener: (type: 'drain' | 'idle' | 'close', listener: (evt: Event) => void, opts?: { once?: boolean }) => void
  removeEventListener: (type: 'drain' | 'idle' | 'close', listener: (evt: Event) => void) => void
  abort: (err: Error) => void
  close: (opts?: { signal?: AbortSignal }) => Promise<void>
}

export interface QueuedEnvelope {
  env: OutboundEnvelope
  bytes: Uint8Array
}

export interface PeerLinkInit {
  peer: string
  /** Dial the peer and open a protocol stream. */
  open: () => Promise<LinkStream>
  /** Hand back an envelope this link could not deliver. */
  refuse: (env: OutboundEnvelope, err: VerimeshError) => void
  counters: TransportCounters
  maxBatchBytes: number
  maxQueuedBytes: number
  /** whenWritable() waits while more than this is queued. */
  highWaterBytes: number
  /** Total queued bytes across links changed by delta (for the transport-wide gauge). */
  onQueued: (delta: number) => void
  /** A stream was opened for this link (the transport reads notices from it). */
  onStream?: (stream: LinkStream) => void
}

interface InFlightAsk {
  env: OutboundEnvelope
  at: number
}

export class PeerLink {
  readonly peer: string
  readonly #init: PeerLinkInit
  #queue: QueuedEnvelope[] = []
  /** Index of the first unsent entry in #queue (avoids O(n) shift per message). */
  #head = 0
  #queuedBytes = 0
  #stream: LinkStream | undefined
  #dialing = false
  #scheduled = false
  /** A microtask flush already ran in this turn of the event loop (see #schedule). */
  #turnFlushed = false
  #awaitingDrain = false
  /** Inside #writeFrames (guards against re-entry from events dispatched by send()). */
  #pumping = false
  #closed = false
  /** Asks written to the current stream and not yet answered, by correlation id. */
  readonly #inFlight = new Map<string, InFlightAsk>()
  #writableWaiters: Array<() => void> = []

  constructor (init: PeerLinkInit) {
    this.peer = init.peer
    this.#init = init
  }

  get queuedBytes (): number {
    return this.#queuedBytes
  }

  get pendingAsks (): number {
    return this.#inFlight.size
  }

  get hasStream (): boolean {
    return this.#stream !== undefined
  }

  get idle (): boolean {
    return this.#stream === undefined && !this.#dialing && this.#queue.length === this.#head && this.#inFlight.size === 0
  }

  isWritable (): boolean {
    return this.#queuedBytes <= this.#init.highWaterBytes
  }

  /** Resolves once the queue is at or below the high-water mark (or the link failed). */
  async whenWritable (): Promise<void> {
    if (this.isWritable() || this.#closed) return
    await new Promise<void>((resolve) => { this.#writableWaiters.push(resolve) })
  }

  enqueue (env: OutboundEnvelope, bytes: Uint8Array): void {
    if (this.#closed) {
      this.#init.refuse(env, new VerimeshError('TRANSPORT_CLOSED', 'transport is stopped', { peer: this.peer }))
      return
    }
    const size = bytes.byteLength + ENVELOPE_PREFIX_BYTES
    if (this.#queuedBytes + size > this.#init.maxQueuedBytes) {
      this.#init.refuse(env, new VerimeshError('MAILBOX_FULL', `outbound queue to ${this.peer} is full (${this.#queuedBytes} bytes queued, limit ${this.#init.maxQueuedBytes})`, { peer: this.peer, queuedBytes: this.#queuedBytes, maxQueuedBytes: this.#init.maxQueuedBytes, reason: 'outbound queue full' }))
      return
    }
    this.#queue.push({ env, bytes })
    this.#addQueued(size)
    this.#schedule()
  }

  /** A reply or error for one of our asks arrived: stop tracking it. */
  settle (correlationId: string): boolean {
    return this.#inFlight.delete(correlationId)
  }

  /** Forget asks older than ttlMs (their askers have long timed out). Returns how many. */
  sweep (ttlMs: number, now = Date.now()): number {
    let n = 0
    for (const [cid, ask] of this.#inFlight) {
      if (now - ask.at < ttlMs) break // insertion order is send order
      this.#inFlight.delete(cid)
      n++
    }
    return n
  }

  /** Refuse everything queued and in flight, close the stream. */
  async close (err: VerimeshError, gracefulMs = 1000): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#failQueued(err)
    this.#failInFlight(err)
    this.#wakeWriters()
    const stream = this.#stream
    this.#stream = undefined
    if (stream !== undefined) {
      try {
        await stream.close({ signal: AbortSignal.timeout(gracefulMs) })
      } catch (e) {
        stream.abort(e as Error)
      }
    }
  }

  /**
   * When to flush. The first flush of an event-loop turn runs as a microtask: a
   * reply or a lone ask leaves as soon as the current callback is done (measured:
   * waiting for the check phase added ~40 µs per hop on loopback). Any further
   * flush in the same turn waits for setImmediate, so a producer that awaits
   * between sends (one microtask per message) still gets its messages coalesced
   * into a few frames rather than one frame each.
   */
  #schedule (): void {
    if (this.#scheduled) return
    this.#scheduled = true
    if (this.#turnFlushed) {
      setImmediate(this.#pump)
      return
    }
    this.#turnFlushed = true
    setImmediate(this.#endTurn)
    queueMicrotask(this.#pump)
  }

  readonly #endTurn = (): void => {
    this.#turnFlushed = false
  }

  readonly #pump = (): void => {
    this.#scheduled = false
    // libp2p can dispatch 'drain' synchronously from inside stream.send(); the loop
    // that made that call is still running and will carry on.
    if (this.#pumping) return
    if (this.#closed || this.#queue.length === this.#head) return
    const stream = this.#stream
    if (stream === undefined) {
      if (!this.#dialing) void this.#dial()
      return
    }
    if (this.#awaitingDrain) return
    this.#pumping = true
    try {
      this.#writeFrames(stream)
    } finally {
      this.#pumping = false
    }
    if (this.isWritable()) this.#wakeWriters()
  }

  #writeFrames (stream: LinkStream): void {
    const max = this.#init.maxBatchBytes
    const c = this.#init.counters
    while (this.#head < this.#queue.length) {
      if (stream.writeBufferLength > max) {
        // send() said yes but kept it (a re-entrant call, or a window update that
        // covered only part of its buffer): no more until the stream has handed it on.
        this.#park(stream)
        return
      }
      // Take as many envelopes as fit in one frame; always at least one (a single
      // envelope above maxBatchBytes, but within the frame limit, goes alone).
      const parts: Uint8Array[] = []
      let end = this.#head
      let bytes = FRAME_HEADER_BYTES
      while (end < this.#queue.length) {
        const part = this.#queue[end].bytes
        const next = ENVELOPE_PREFIX_BYTES + part.byteLength
        if (end > this.#head && bytes + next > max) break
        parts.push(part)
        bytes += next
        end++
      }
      const frame = encodeFrame(parts)
      let ok: boolean
      try {
        ok = stream.send(frame)
      } catch (err) {
        // The stream closed under us: nothing of this batch was taken. Its close
        // event (now or soon) drops it; the batch goes out on the next stream.
        stream.abort(err as Error)
        return
      }
      c.framesOut++
      c.bytesOut += frame.byteLength
      c.envelopesOut += end - this.#head
      const now = Date.now()
      let sent = 0
      for (let i = this.#head; i < end; i++) {
        const q = this.#queue[i]
        sent += ENVELOPE_PREFIX_BYTES + q.bytes.byteLength
        const { env } = q
        if (env.kind === 'msg' && env.correlationId !== undefined) this.#inFlight.set(env.correlationId, { env: slim(env), at: now })
      }
      this.#head = end
      this.#compact()
      this.#addQueued(-sent)
      if (stream.writeBufferLength > c.peakStreamBufferedBytes) c.peakStreamBufferedBytes = stream.writeBufferLength
      if (!ok) {
        this.#park(stream)
        return
      }
    }
  }

  /** Stop writing until the stream emits 'drain' or 'idle'. */
  #park (stream: LinkStream): void {
    this.#init.counters.drainWaits++
    this.#awaitingDrain = true
    stream.addEventListener('drain', this.#onDrain)
    stream.addEventListener('idle', this.#onDrain)
  }

  readonly #onDrain = (): void => {
    // Never write from inside the event: libp2p can dispatch it while the stream is
    // in the middle of sending, and a send() then only appends to its buffer (seen
    // to leave data stranded there). Its own resume runs as a microtask queued
    // before this one, so by the time ours runs the stream has sent what it can.
    queueMicrotask(this.#resume)
  }

  readonly #resume = (): void => {
    const stream = this.#stream
    if (stream === undefined || !this.#awaitingDrain) return
    // Still more than a frame inside the stream (a window update that covered only
    // part of it): keep waiting; 'idle' comes when it is all handed on.
    if (stream.writeBufferLength > this.#init.maxBatchBytes) return
    stream.removeEventListener('drain', this.#onDrain)
    stream.removeEventListener('idle', this.#onDrain)
    this.#awaitingDrain = false
    this.#pump()
  }



  async #dial (): Promise<void> {
    this.#dialing = true
    this.#init.counters.dials++
    let stream: LinkStream
    try {
      stream = await this.#init.open()
    } catch (err) {
      this.#dialing = false
      this.#init.counters.dialFailures++
      const e = err instanceof VerimeshError
        ? err
        : new VerimeshError('PEER_UNREACHABLE', `cannot reach peer ${this.peer}: ${(err as Error).message}`, { peer: this.peer }, { cause: err })
      this.#failQueued(e)
      this.#wakeWriters()
      return
    }
    this.#dialing = false
    if (this.#closed) {
      stream.abort(new Error('transport stopped'))
      return
    }
    this.#stream = stream
    const onClose = (evt: Event): void => {
      stream.removeEventListener('close', onClose)
      stream.removeEventListener('drain', this.#onDrain)
      stream.removeEventListener('idle', this.#onDrain)
      if (this.#stream !== stream) return
      this.#stream = undefined
      this.#awaitingDrain = false
      const cause = (evt as Event & { error?: Error }).error
      this.#failInFlight(new VerimeshError('TRANSPORT_CLOSED', `stream to ${this.peer} closed${cause === undefined ? '' : `: ${cause.message}`}`, { peer: this.peer }, cause === undefined ? undefined : { cause }))
      // What is still queued was never written: send it on a new stream.
      if (this.#queue.length > this.#head) this.#schedule()
    }
    stream.addEventListener('close', onClose)
    this.#init.onStream?.(stream)
    this.#pump()
  }

  #failQueued (err: VerimeshError): void {
    const items = this.#queue
    const head = this.#head
    this.#queue = []
    this.#head = 0
    let bytes = 0
    for (let i = head; i < items.length; i++) {
      bytes += ENVELOPE_PREFIX_BYTES + items[i].bytes.byteLength
      this.#init.refuse(items[i].env, err)
    }
    this.#addQueued(-bytes)
  }

  #failInFlight (err: VerimeshError): void {
    const asks = [...this.#inFlight.values()]
    this.#inFlight.clear()
    for (const ask of asks) this.#init.refuse(ask.env, err)
  }

  #addQueued (delta: number): void {
    this.#queuedBytes += delta
    this.#init.onQueued(delta)
  }

  /** Drop sent entries from the front once they are a good share of the array. */
  #compact (): void {
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }

  #wakeWriters (): void {
    if (this.#writableWaiters.length === 0) return
    const waiters = this.#writableWaiters
    this.#writableWaiters = []
    for (const w of waiters) w()
  }
}

/** What refusing an ask needs, without keeping its (possibly large) payload alive. */
function slim (env: OutboundEnvelope): OutboundEnvelope {
  const out: OutboundEnvelope = { kind: env.kind, target: env.target, message: { type: env.message.type } }
  if (env.sender !== undefined) out.sender = env.sender
  if (env.correlationId !== undefined) out.correlationId = env.correlationId
  return out
}
