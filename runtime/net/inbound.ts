// The reading side of one stream: bytes → frames → envelopes, with every failure
// turned into a precise VerimeshError instead of an exception that could take the
// node down. What to do with a good envelope or an error is the transport's call.

import { VerimeshError } from '../errors.js'
import { EnvelopeDecodeError, type EnvelopeCodec } from '../protocol/codec.js'
import { FrameDecoder, splitEnvelopes } from '../protocol/frame.js'
import type { EnvelopeHead, WireEnvelope } from '../protocol/envelope.js'
import type { TransportCounters } from './stats.js'

/** What the reader needs from a libp2p Stream. */
export interface ReadableMessageStream {
  addEventListener: (type: 'message', listener: (evt: Event & { data: Uint8Array | Iterable<Uint8Array> }) => void) => void
  removeEventListener: (type: 'message', listener: (evt: Event & { data: Uint8Array | Iterable<Uint8Array> }) => void) => void
}

export interface InboundReaderInit {
  maxFrameBytes: number
  codec: EnvelopeCodec
  counters: TransportCounters
  /** A well-formed envelope (shape checked; schema not yet). */
  onEnvelope: (wire: WireEnvelope) => void
  /**
   * A refusal. `head` is whatever routing fields could be read (undefined when none);
   * `fatal` means the byte stream is out of sync and must be closed: nothing more
   * will be read from it.
   */
  onError: (err: VerimeshError, head: EnvelopeHead | undefined, fatal: boolean) => void
}

export class InboundReader {
  readonly #init: InboundReaderInit
  readonly #decoder: FrameDecoder
  #stream: ReadableMessageStream | undefined
  #failed = false

  constructor (init: InboundReaderInit) {
    this.#init = init
    this.#decoder = new FrameDecoder({ maxFrameBytes: init.maxFrameBytes })
  }

  /** Start reading a stream's 'message' events. */
  attach (stream: ReadableMessageStream): this {
    this.#stream = stream
    stream.addEventListener('message', this.#onMessage)
    return this
  }

  detach (): void {
    this.#stream?.removeEventListener('message', this.#onMessage)
    this.#stream = undefined
  }

  get failed (): boolean {
    return this.#failed
  }

  readonly #onMessage = (evt: Event & { data: Uint8Array | Iterable<Uint8Array> }): void => {
    const data = evt.data
    if (data instanceof Uint8Array) this.push(data)
    else for (const chunk of data) this.push(chunk)
  }

  /** Feed bytes (exposed for tests; streams feed it through attach()). */
  push (chunk: Uint8Array): void {
    if (this.#failed) return
    const c = this.#init.counters
    c.bytesIn += chunk.byteLength
    let bodies: Uint8Array[]
    try {
      bodies = this.#decoder.push(chunk)
    } catch (err) {
      this.#failed = true
      this.detach()
      this.#init.onError(VerimeshError.from(err, 'MALFORMED_FRAME'), undefined, true)
      return
    }
    for (const body of bodies) {
      c.framesIn++
      try {
        for (const bytes of splitEnvelopes(body)) this.#envelope(bytes)
      } catch (err) {
        // A bad envelope length: the rest of this frame is lost, the next frame
        // still starts where the header said.
        this.#init.onError(VerimeshError.from(err, 'MALFORMED_FRAME'), undefined, false)
      }
    }
  }

  #envelope (bytes: Uint8Array): void {
    this.#init.counters.envelopesIn++
    let wire: WireEnvelope
    try {
      wire = this.#init.codec.decode(bytes)
    } catch (err) {
      const head = err instanceof EnvelopeDecodeError ? err.head : undefined
      this.#init.onError(VerimeshError.from(err, 'MALFORMED_FRAME'), head, false)
      return
    }
    try {
      this.#init.onEnvelope(wire)
    } catch (err) {
      // onEnvelope is not supposed to throw; if it does, it is our bug, not a bad frame.
      this.#init.onError(VerimeshError.from(err, 'INTERNAL'), wire, false)
    }
  }
}
