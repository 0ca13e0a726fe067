// Mesh-wide announcements (heartbeats and the like) over gossipsub: msgpack
// messages checked against the MessageRegistry on the way in, exactly like actor
// messages. A topic message is `[wireVersion, type, version, payload]`.
//
// Gossipsub signs every message (StrictSign) and reports the originating peer, so
// a subscriber learns who announced something without trusting the payload.

import { VerimeshError } from '../errors.js'
import { EnvelopeCodec } from '../protocol/codec.js'
import { WIRE_VERSION } from '../protocol/envelope.js'
import type { Message } from '../actors/types.js'
import type { MessageRegistry } from '../protocol/registry.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { CountByCode } from './stats.js'

export type TopicHandler<M extends Message = Message> = (msg: M, from: string) => void

export interface TopicPubSubInit {
  pubsub: Pick<GossipSub, 'publish' | 'subscribe' | 'unsubscribe' | 'addEventListener' | 'removeEventListener' | 'getSubscribers'>
  registry: MessageRegistry
  /** Told about each refused topic message (after counting). */
  onInvalid?: (err: VerimeshError, topic: string, from: string | undefined) => void
}

export class TopicPubSub {
  readonly #pubsub: TopicPubSubInit['pubsub']
  readonly #registry: MessageRegistry
  readonly #codec = new EnvelopeCodec({ copyBuffers: true })
  readonly #handlers = new Map<string, Set<TopicHandler>>()
  readonly #onInvalid: TopicPubSubInit['onInvalid']
  readonly #invalid: CountByCode = {}
  #received = 0
  #listening = false

  constructor (init: TopicPubSubInit) {
    this.#pubsub = init.pubsub
    this.#registry = init.registry
    this.#onInvalid = init.onInvalid
  }

  /** Publish a registered message type; resolves with how many peers it was sent to. */
  async publish (topic: string, msg: Message): Promise<number> {
    const version = this.#registry.version(msg.type)
    if (version === undefined) {
      throw new VerimeshError('UNKNOWN_MESSAGE_TYPE', `cannot publish unregistered message type '${msg.type}'`, { type: msg.type, topic })
    }
    const { type, ...payload } = msg
    const bytes = this.#codec.encodeValue([WIRE_VERSION, type, version, payload])
    const result = await this.#pubsub.publish(topic, bytes)
    return result.recipients.length
  }

  /** Subscribe; returns the unsubscribe function. */
  subscribe<M extends Message = Message> (topic: string, handler: TopicHandler<M>): () => void {
    if (!this.#listening) {
      this.#pubsub.addEventListener('message', this.#onMessage)
      this.#listening = true
    }
    let set = this.#handlers.get(topic)
    if (set === undefined) {
      set = new Set()
      this.#handlers.set(topic, set)
      this.#pubsub.subscribe(topic)
    }
    const h = handler as TopicHandler
    set.add(h)
    return () => {
      const s = this.#handlers.get(topic)
      if (s === undefined || !s.delete(h) || s.size > 0) return
      this.#handlers.delete(topic)
      this.#pubsub.unsubscribe(topic)
    }
  }

  /** Peers currently known to subscribe to a topic. */
  subscribers (topic: string): string[] {
    return this.#pubsub.getSubscribers(topic).map(p => p.toString())
  }

  stats (): { received: number, invalid: CountByCode } {
    return { received: this.#received, invalid: { ...this.#invalid } }
  }

  close (): void {
    if (this.#listening) this.#pubsub.removeEventListener('message', this.#onMessage)
    this.#listening = false
    for (const topic of this.#handlers.keys()) this.#pubsub.unsubscribe(topic)
    this.#handlers.clear()
  }

  readonly #onMessage = (evt: CustomEvent<{ topic: string, data: Uint8Array, type: 'signed' | 'unsigned', from?: { toString: () => string } }>): void => {
    const m = evt.detail
    const handlers = this.#handlers.get(m.topic)
    if (handlers === undefined) return
    const from = m.type === 'signed' ? m.from?.toString() : undefined
    let msg: Message
    try {
      msg = this.#decode(m.data)
    } catch (err) {
      const e = VerimeshError.from(err, 'MALFORMED_FRAME')
      this.#invalid[e.code] = (this.#invalid[e.code] ?? 0) + 1
      this.#onInvalid?.(e, m.topic, from)
      return
    }
    this.#received++
    for (const h of handlers) {
      try {
        h(msg, from ?? '')
      } catch { /* a subscriber's bug must not stop the others */ }
    }
  }

  #decode (data: Uint8Array): Message {
    let raw: unknown
    try {
      raw = this.#codec.decodeValue(data)
    } catch (err) {
      throw new VerimeshError('MALFORMED_FRAME', `undecodable topic message: ${(err as Error).message}`)
    }
    if (!Array.isArray(raw) || raw.length !== 4) throw new VerimeshError('MALFORMED_FRAME', 'topic message is not [wire, type, version, payload]')
    const [wire, type, version, payload] = raw as unknown[]
    if (wire !== WIRE_VERSION) throw new VerimeshError('UNSUPPORTED_VERSION', `topic message wire version ${String(wire)} is not supported`, { wireVersion: wire })
    if (typeof type !== 'string' || typeof version !== 'number' || payload === null || typeof payload !== 'object' || Array.isArray(payload) || Object.hasOwn(payload, 'type')) {
      throw new VerimeshError('MALFORMED_FRAME', 'topic message has a bad type, version or payload')
    }
    const msg = payload as { type: string, [k: string]: unknown }
    msg.type = type
    return this.#registry.validate(type, version, msg)
  }
}
