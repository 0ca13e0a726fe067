// RemoteTransport over libp2p: one protocol, one long-lived outbound stream per
// peer (dialed on demand, reused, redialed after a failure), frames of coalesced
// envelopes, inbound validation against the MessageRegistry.
//
// Who hears about a failure:
// - An envelope this node refuses (malformed, unknown type, wrong version, invalid
//   schema, no such actor...) goes back to its sender when the sender can be read:
//   an ask gets kind 'error' (its promise rejects with the code), a tell that named
//   a sender gets kind 'reject' (sys.rejected). With nobody to answer, the error is
//   written back on the stream it came from as a notice (kind 'error' without a
//   correlation id), and the stream is closed when the byte stream itself is broken.
// - An envelope this node cannot send (too large, peer unreachable, stream closed,
//   queue full) is refused locally the same way, through system.deliverRemote, so
//   an ask rejects promptly instead of waiting for its timeout.
// - Everything is counted (stats()) and logged (throttled).

import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { VerimeshError, type ErrorCode } from '../errors.js'
import { EnvelopeCodec } from '../protocol/codec.js'
import { peerOf, toOutboundEnvelope, type EnvelopeHead, type WireEnvelope } from '../protocol/envelope.js'
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, maxEnvelopeBytes } from '../protocol/frame.js'
import { registerSystemMessages, sysError, sysRejected, SysError, type SysErrorMessage } from '../protocol/system-messages.js'
import { InboundReader } from './inbound.js'
import { PeerLink, type LinkStream } from './outbound.js'
import { LogThrottle, TransportCounters, type TransportStats } from './stats.js'
import type { ActorSystemApi, OutboundEnvelope, RemoteTransport } from '../actors/types.js'
import type { MessageRegistry } from '../protocol/registry.js'
import type { Libp2p, Stream, Connection } from '@libp2p/interface'

export const VERIMESH_ACTOR_PROTOCOL = '/verimesh/actor/1.0.0'

/** Path used as sender/target of transport-level notices (no actor lives there). */
const NOTICE_PATH = '/sys/transport'

/** Structural subset of a pino logger. */
export interface TransportLogger {
  warn: (obj: Record<string, unknown>, msg: string) => void
  debug: (obj: Record<string, unknown>, msg: string) => void
}

export interface Libp2pTransportInit {
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'peerStore'>
  system: ActorSystemApi
  /** Inbound messages are validated against this; the system messages are added to it. */
  registry: MessageRegistry
  protocol?: string
  /** Largest frame sent or accepted, header included. Default 4 MiB. */
  maxFrameBytes?: number
  /** Coalescing target: frames are cut at about this size. Default 64 KiB. */
  maxBatchBytes?: number
  /** Per-peer queue cap; sends beyond it are refused with MAILBOX_FULL. Default 64 MiB. */
  maxQueuedBytes?: number
  /** Per-peer level above which isWritable() is false. Default 4 MiB. */
  highWaterBytes?: number
  /** Dial + protocol negotiation budget. Default 5000 ms. */
  dialTimeoutMs?: number
  /** Asks unanswered this long are forgotten by the transport (their askers timed out long ago). Default 5 min. */
  pendingAskTtlMs?: number
  /** Max inbound streams per connection for the protocol. Default 8. */
  maxInboundStreams?: number
  logger?: TransportLogger
  /** Call system.setTransport(transport) once started. Default true. */
  attach?: boolean
}

interface InboundSource {
  remotePeer: string
  stream: Stream
  targetCheck: PeerCheck
}

/**
 * "Is this address on peer P?", remembering the last address that passed. The
 * codec hands back the same string instance while the bytes repeat, so a stream
 * of messages pays one comparison, not one per message (String#startsWith on a
 * 52-character peer id measured ~150-300 ns here).
 */
class PeerCheck {
  readonly #peer: string
  #last: string | undefined

  constructor (peer: string) {
    this.#peer = peer
  }

  test (address: string): boolean {
    if (address === this.#last) return true
    const peer = this.#peer
    const ok = address.length > peer.length + 1 && address.charCodeAt(peer.length) === 47 && address.slice(0, peer.length) === peer
    if (ok) this.#last = address
    return ok
  }
}

export class Libp2pTransport implements RemoteTransport {
  readonly protocol: string
  readonly peerId: string
  readonly #node: Libp2pTransportInit['libp2p']
  readonly #system: ActorSystemApi
  readonly #registry: MessageRegistry
  readonly #codec = new EnvelopeCodec()
  readonly #counters = new TransportCounters()
  readonly #links = new Map<string, PeerLink>()
  readonly #streams = new Set<Stream>()
  readonly #log: TransportLogger
  readonly #throttle = new LogThrottle()
  readonly #maxFrameBytes: number
  readonly #maxEnvelopeBytes: number
  readonly #maxBatchBytes: number
  readonly #maxQueuedBytes: number
  readonly #highWaterBytes: number
  readonly #dialTimeoutMs: number
  readonly #pendingAskTtlMs: number
  readonly #maxInboundStreams: number
  #queuedBytes = 0
  #lastTarget: string | undefined
  #lastLink: PeerLink | undefined
  #sweeper: NodeJS.Timeout | undefined
  #started = false
  #stopped = false

  /** Create, register the protocol handler and (by default) attach to the system. */
  static async create (init: Libp2pTransportInit): Promise<Libp2pTransport> {
    const t = new Libp2pTransport(init)
    await t.start()
    if (init.attach !== false) init.system.setTransport(t)
    return t
  }

  constructor (init: Libp2pTransportInit) {
    this.#node = init.libp2p
    this.#system = init.system
    this.#registry = registerSystemMessages(init.registry)
    this.protocol = init.protocol ?? VERIMESH_ACTOR_PROTOCOL
    this.peerId = init.libp2p.peerId.toString()
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#maxEnvelopeBytes = maxEnvelopeBytes(this.#maxFrameBytes)
    this.#maxBatchBytes = Math.min(init.maxBatchBytes ?? 64 * 1024, this.#maxFrameBytes)
    this.#maxQueuedBytes = init.maxQueuedBytes ?? 64 * 1024 * 1024
    this.#highWaterBytes = init.highWaterBytes ?? 4 * 1024 * 1024
    this.#dialTimeoutMs = init.dialTimeoutMs ?? 5000
    this.#pendingAskTtlMs = init.pendingAskTtlMs ?? 5 * 60_000
    this.#maxInboundStreams = init.maxInboundStreams ?? 8
    this.#log = init.logger ?? stderrLogger()
    if (this.#system.peerId !== this.peerId) {
      throw new VerimeshError('CONFIG_INVALID', `actor system peer id ${this.#system.peerId} is not the libp2p node's ${this.peerId}`)
    }
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#node.handle(this.protocol, (stream, connection) => { this.#accept(stream, connection) }, {
      maxInboundStreams: this.#maxInboundStreams,
      runOnLimitedConnection: false
    })
    this.#sweeper = setInterval(() => { this.#sweep() }, Math.min(30_000, this.#pendingAskTtlMs))
    this.#sweeper.unref()
  }

  // ---- outbound -----------------------------------------------------------------

  send (env: OutboundEnvelope): void {
    // Streams of messages go to the same target string: skip re-parsing it and
    // re-hashing a fresh peer string for the link lookup.
    if (env.target === this.#lastTarget && this.#lastLink !== undefined && !this.#stopped) {
      this.#enqueue(this.#lastLink, env)
      return
    }
    const peer = peerOf(env.target)
    if (peer === undefined) {
      this.#refuse(env, new VerimeshError('NO_SUCH_ACTOR', `'${env.target}' is not an address <peerId>/<path>`, { target: env.target }))
      return
    }
    if (this.#stopped) {
      this.#refuse(env, new VerimeshError('TRANSPORT_CLOSED', 'transport is stopped', { target: env.target }))
      return
    }
    if (peer === this.peerId) {
      // Not ours to route, but harmless: hand it straight back, never onto the network.
      queueMicrotask(() => { this.#deliver(env) })
      return
    }
    const link = this.#link(peer)
    this.#lastTarget = env.target
    this.#lastLink = link
    this.#enqueue(link, env)
  }

  /**
   * Encode now (so the size is known, and errors and FRAME_TOO_LARGE surface before
   * anything is written) and queue on the peer's link.
   */
  #enqueue (link: PeerLink, env: OutboundEnvelope): void {
    let bytes: Uint8Array
    try {
      bytes = this.#codec.encodeOutbound(env, this.#registry.version(env.message.type) ?? 1)
    } catch (err) {
      this.#refuse(env, VerimeshError.from(err, 'SCHEMA_INVALID'))
      return
    }
    if (bytes.byteLength > this.#maxEnvelopeBytes) {
      this.#refuse(env, new VerimeshError('FRAME_TOO_LARGE', `message '${env.message.type}' encodes to ${bytes.byteLength} bytes, over the ${this.#maxFrameBytes}-byte frame limit`, { type: env.message.type, target: env.target, bytes: bytes.byteLength, maxFrameBytes: this.#maxFrameBytes }))
      return
    }
    link.enqueue(env, bytes)
  }

  /** False while more than highWaterBytes wait for this peer: a producer should await whenWritable(). */
  isWritable (peer: string): boolean {
    const link = this.#lastLink !== undefined && this.#lastLink.peer === peer ? this.#lastLink : this.#links.get(peer)
    return link?.isWritable() ?? true
  }

  /** Resolves when the peer's queue is back under the high-water mark (or its link failed). */
  async whenWritable (peer: string): Promise<void> {
    await this.#links.get(peer)?.whenWritable()
  }

  /** Teach the peer store where a peer listens (addresses may end in /p2p/<peerId>). */
  async addPeer (peerId: string, addrs: Array<string | Multiaddr>): Promise<void> {
    const id = peerIdFromString(peerId)
    const multiaddrs = addrs.map(a => {
      const ma = typeof a === 'string' ? multiaddr(a) : a
      return ma.getComponents().some(c => c.name === 'p2p') ? ma.decapsulateCode(421) : ma
    })
    await this.#node.peerStore.merge(id, { multiaddrs })
  }

  #link (peer: string): PeerLink {
    let link = this.#links.get(peer)
    if (link === undefined) {
      link = new PeerLink({
        peer,
        open: async () => await this.#open(peer),
        refuse: (env, err) => { this.#refuse(env, err) },
        counters: this.#counters,
        maxBatchBytes: this.#maxBatchBytes,
        maxQueuedBytes: this.#maxQueuedBytes,
        highWaterBytes: this.#highWaterBytes,
        onQueued: (delta) => {
          this.#queuedBytes += delta
          if (this.#queuedBytes > this.#counters.peakQueuedBytes) this.#counters.peakQueuedBytes = this.#queuedBytes
        }
      })
      this.#links.set(peer, link)
    }
    return link
  }

  async #open (peer: string): Promise<LinkStream> {
    let stream: Stream
    try {
      const id = peerIdFromString(peer)
      stream = await this.#node.dialProtocol(id, this.protocol, { signal: AbortSignal.timeout(this.#dialTimeoutMs) })
    } catch (err) {
      const e = err as Error
      throw new VerimeshError('PEER_UNREACHABLE', `cannot reach peer ${peer}: ${e.name === 'TimeoutError' || e.name === 'AbortError' ? `no stream within ${this.#dialTimeoutMs} ms` : e.message}`, { peer }, { cause: err })
    }
    // The remote writes notices (and may write anything) on our outbound stream too.
    this.#read(stream, peer)
    return stream
  }

  /**
   * Refuse an envelope locally: an ask's promise rejects, a tell's sender gets
   * sys.rejected. Always asynchronous, so a caller never sees its own refusal
   * before send() has returned.
   */
  #refuse (env: OutboundEnvelope, err: VerimeshError): void {
    TransportCounters.bump(this.#counters.outboundErrors, err.code)
    queueMicrotask(() => {
      const sender = env.sender
      if (env.kind === 'msg' && sender !== undefined && peerOf(sender) === this.peerId) {
        if (env.correlationId !== undefined) {
          this.#deliver({ kind: 'error', target: sender, correlationId: env.correlationId, message: sysError(err) })
        } else {
          this.#deliver({ kind: 'reject', target: sender, message: sysRejected(env.target, env.message.type, err) })
        }
        return
      }
      this.#counters.deadLetters++
      this.#warn(err.code, { err: err.toWire(), target: env.target, type: env.message.type, kind: env.kind }, `outbound ${env.kind} '${env.message.type}' to ${env.target} dropped: ${err.message}`)
    })
  }

  #deliver (env: OutboundEnvelope): void {
    try {
      this.#system.deliverRemote(env)
    } catch (err) {
      this.#counters.deadLetters++
      this.#warn('INTERNAL', { err: String(err), target: env.target }, 'system.deliverRemote threw')
    }
  }

  // ---- inbound ------------------------------------------------------------------

  #accept (stream: Stream, connection: Connection): void {
    if (this.#stopped) {
      stream.abort(new Error('transport stopped'))
      return
    }
    this.#read(stream, connection.remotePeer.toString())
  }

  #read (stream: Stream, remotePeer: string): void {
    const source: InboundSource = { remotePeer, stream, targetCheck: new PeerCheck(this.peerId) }
    this.#streams.add(stream)
    const reader = new InboundReader({
      maxFrameBytes: this.#maxFrameBytes,
      codec: this.#codec,
      counters: this.#counters,
      onEnvelope: (wire) => { this.#onEnvelope(wire, source) },
      onError: (err, head, fatal) => { this.#onInboundError(err, head, fatal, source) }
    })
    reader.attach(stream)
    stream.addEventListener('remoteCloseWrite', () => {
      // The peer is done with this stream: finish our half so it closes fully
      // (that 'close' is what fails asks in flight on an outbound stream).
      if (stream.writeStatus === 'writable') void stream.close().catch((err: Error) => { stream.abort(err) })
    })
    stream.addEventListener('close', () => {
      reader.detach()
      this.#streams.delete(stream)
    })
  }

  #onEnvelope (wire: WireEnvelope, src: InboundSource): void {
    // The sender may be on another peer than the connection's: the runtime forwards
    // asks with their original sender, and the final actor answers the asker
    // directly. So a sender address is a reply-to, not an identity: the connection
    // (noise) authenticates the peer, and authorization must rest on that or on
    // signed payloads, never on `sender`.
    if (!src.targetCheck.test(wire.target)) {
      this.#onInboundError(new VerimeshError('NO_SUCH_ACTOR', `target ${wire.target} is not on this peer (${this.peerId})`, { target: wire.target }), wire, false, src)
      return
    }
    if (wire.kind === 'error' && wire.correlationId === undefined) {
      this.#onNotice(wire, src)
      return
    }
    const env = toOutboundEnvelope(wire)
    try {
      this.#registry.validate(wire.type, wire.version, env.message)
    } catch (err) {
      this.#onInboundError(VerimeshError.from(err, 'SCHEMA_INVALID'), wire, false, src)
      return
    }
    if ((wire.kind === 'reply' || wire.kind === 'error') && wire.correlationId !== undefined) this.#settle(src.remotePeer, wire.correlationId)
    this.#deliver(env)
  }

  /**
   * Stop tracking an answered ask. Usually the answer comes from the peer that was
   * asked; an ask forwarded elsewhere is answered by another peer.
   */
  #settle (from: string, correlationId: string): void {
    if (this.#links.get(from)?.settle(correlationId) === true) return
    for (const link of this.#links.values()) if (link.settle(correlationId)) return
  }

  #onInboundError (err: VerimeshError, head: EnvelopeHead | undefined, fatal: boolean, src: InboundSource): void {
    TransportCounters.bump(this.#counters.inboundErrors, err.code)
    this.#warn(err.code, { err: err.toWire(), peer: src.remotePeer, type: head?.type, sender: head?.sender, fatal }, `refused inbound ${head?.type === undefined ? 'frame' : `'${head.type}'`} from ${src.remotePeer}: ${err.message}`)
    const sender = head?.sender
    const cid = head?.correlationId
    if (head?.kind === 'msg' && sender !== undefined) {
      // Answer the sender through the normal outbound path: its stream to us may be
      // one we only read, and a forwarded message's sender is on another peer.
      // An answer that cannot be delivered is a dead letter; errors are never answered.
      if (cid !== undefined) this.send({ kind: 'error', target: sender, correlationId: cid, message: sysError(err) })
      else this.send({ kind: 'reject', target: sender, message: sysRejected(head.target ?? '', head.type ?? '', err) })
    } else if ((head?.kind === 'reply' || head?.kind === 'error') && cid !== undefined && head.target !== undefined && peerOf(head.target) === this.peerId) {
      // A response we cannot accept: our asker learns why now instead of at its timeout.
      this.#settle(src.remotePeer, cid)
      this.#deliver({ kind: 'error', target: head.target, correlationId: cid, message: sysError(err) })
      this.#notice(src, err, false)
    } else {
      this.#notice(src, err, fatal)
    }
    if (fatal) {
      // The byte stream is out of sync: let the notice go out, then close; abort if
      // the peer does not finish its side soon.
      const { stream } = src
      stream.close({ signal: AbortSignal.timeout(2000) }).catch((e: Error) => { stream.abort(e) })
      setTimeout(() => { if (stream.status !== 'closed') stream.abort(err) }, 2000).unref()
    }
  }

  /** Write an error notice back on the stream a bad frame came from (best effort). */
  #notice (src: InboundSource, err: VerimeshError, fatal: boolean): void {
    const { stream } = src
    if (stream.writeStatus !== 'writable' || stream.writableNeedsDrain) return // never buffer for a peer that does not read
    const e = fatal ? new VerimeshError(err.code, err.message, { ...err.context, fatal: true }) : err
    const wire: WireEnvelope = {
      kind: 'error',
      type: SysError.type,
      version: SysError.version,
      target: `${src.remotePeer}${NOTICE_PATH}`,
      sender: `${this.peerId}${NOTICE_PATH}`,
      payload: { error: sysError(e).error }
    }
    try {
      stream.send(encodeFrame([this.#codec.encode(wire)]))
    } catch { /* stream already closing: nothing to tell */ }
  }

  #onNotice (wire: WireEnvelope, src: InboundSource): void {
    const msg = toOutboundEnvelope(wire).message
    try {
      this.#registry.validate(wire.type, wire.version, msg)
    } catch {
      TransportCounters.bump(this.#counters.inboundErrors, 'SCHEMA_INVALID')
      return
    }
    if (msg.type !== 'sys.error') return
    const { error } = msg as SysErrorMessage
    const code = VerimeshError.fromWire(error as { code: ErrorCode, message: string }).code
    TransportCounters.bump(this.#counters.remoteNotices, code)
    this.#warn(`notice:${code}`, { err: error, peer: src.remotePeer }, `peer ${src.remotePeer} refused a frame from this node: ${error.message}`)
    if (error.context?.fatal === true) src.stream.abort(VerimeshError.fromWire(error as { code: ErrorCode, message: string }))
  }

  // ---- housekeeping -------------------------------------------------------------

  #sweep (): void {
    for (const [peer, link] of this.#links) {
      link.sweep(this.#pendingAskTtlMs)
      if (link.idle) {
        this.#links.delete(peer)
        if (this.#lastLink === link) { this.#lastLink = undefined; this.#lastTarget = undefined }
      }
    }
  }

  #warn (key: string, obj: Record<string, unknown>, msg: string): void {
    const admitted = this.#throttle.admit(key)
    if (admitted === undefined) return
    this.#log.warn(admitted > 0 ? { ...obj, suppressed: admitted } : obj, msg)
  }

  stats (): TransportStats {
    let openStreams = 0
    let pendingAsks = 0
    for (const link of this.#links.values()) {
      if (link.hasStream) openStreams++
      pendingAsks += link.pendingAsks
    }
    const c = this.#counters
    return {
      links: this.#links.size,
      openStreams,
      framesOut: c.framesOut,
      envelopesOut: c.envelopesOut,
      bytesOut: c.bytesOut,
      framesIn: c.framesIn,
      envelopesIn: c.envelopesIn,
      bytesIn: c.bytesIn,
      dials: c.dials,
      dialFailures: c.dialFailures,
      drainWaits: c.drainWaits,
      queuedBytes: this.#queuedBytes,
      peakQueuedBytes: c.peakQueuedBytes,
      peakStreamBufferedBytes: c.peakStreamBufferedBytes,
      pendingAsks,
      inboundErrors: { ...c.inboundErrors },
      outboundErrors: { ...c.outboundErrors },
      remoteNotices: { ...c.remoteNotices },
      deadLetters: c.deadLetters
    }
  }

  /** Refuse what is queued and in flight (TRANSPORT_CLOSED), close every stream, unregister. */
  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    await this.#node.unhandle(this.protocol).catch(() => {})
    const err = new VerimeshError('TRANSPORT_CLOSED', 'transport is stopped')
    await Promise.all([...this.#links.values()].map(async link => { await link.close(err) }))
    this.#links.clear()
    this.#lastLink = undefined
    await Promise.all([...this.#streams].map(async s => {
      try {
        await s.close({ signal: AbortSignal.timeout(1000) })
      } catch (e) {
        s.abort(e as Error)
      }
    }))
    this.#streams.clear()
  }
}



function stderrLogger (): TransportLogger {
  const write = (level: string) => (obj: Record<string, unknown>, msg: string): void => {
    process.stderr.write(JSON.stringify({ level, time: new Date().toISOString(), component: 'transport', msg, ...obj }) + '\n')
  }
  return { warn: write('warn'), debug: () => {} }
}
