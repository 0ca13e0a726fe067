// Keeps a MeshTable current: announces this node on gossipsub every heartbeat interval,
// records every valid announcement it hears, and pings live peers for latency samples.

import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.js'
import type { MeshTable } from './mesh.js'
import type { MeshHeartbeatMsg } from '../protocol/messages.js'
import { MeshHeartbeat } from '../protocol/messages.js'
import { MessageRegistry } from '../protocol/registry.js'
import { TopicPubSub } from '../net/pubsub.js'
import type { VerimeshLibp2p } from '../net/libp2p.js'

export const HEARTBEAT_TOPIC = 'verimesh/heartbeat/1'

export interface HeartbeatOptions {
  libp2p: VerimeshLibp2p
  mesh: MeshTable
  logger: Logger
  heartbeatMs: number
  pingMs: number
  /** Everything but seq/sentAt, which the service fills in. */
  announce: () => Omit<MeshHeartbeatMsg, 'seq' | 'sentAt'>
}

export class HeartbeatService {
  readonly #o: HeartbeatOptions
  readonly #topic: TopicPubSub
  #unsubscribe: (() => void) | undefined
  /** Last address list merged into the peer store, per peer: merge only on change. */
  readonly #known = new Map<string, string>()
  #seq = 0
  #timers: NodeJS.Timeout[] = []
  #spoofed = 0

  constructor (opts: HeartbeatOptions) {
    this.#o = opts
    this.#topic = new TopicPubSub({
      pubsub: opts.libp2p.services.pubsub,
      registry: new MessageRegistry([MeshHeartbeat]),
      // A bad announcement is the sender's problem; it is counted, and we keep listening.
      onInvalid: (err, _topic, from) => { opts.logger.debug({ from, code: err.code, err: err.message }, 'invalid heartbeat ignored') }
    })
  }

  /** Heartbeats refused: undecodable, schema-invalid, or announcing another peer's id. */
  get invalidHeartbeats (): number {
    const invalid = Object.values(this.#topic.stats().invalid).reduce((a, b) => a + (b ?? 0), 0)
    return invalid + this.#spoofed
  }

  start (): void {
    this.#unsubscribe = this.#topic.subscribe<MeshHeartbeatMsg>(HEARTBEAT_TOPIC, (hb, from) => {
      // Gossipsub signs messages, so `from` is the real origin: a node may only announce itself.
      if (from !== hb.peer) {
        this.#spoofed++
        this.#o.logger.debug({ from, claimed: hb.peer }, 'heartbeat for another peer ignored')
        return
      }
      this.#o.mesh.observeHeartbeat(hb)
      this.#learnAddrs(hb)
    })
    this.beat()
    this.#timers.push(setInterval(() => this.beat(), this.#o.heartbeatMs))
    this.#timers.push(setInterval(() => { void this.#pingAll() }, this.#o.pingMs))
    for (const t of this.#timers) t.unref()
  }

  /** Announce now (also used right after start so peers learn of us without waiting). */
  beat (): void {
    const hb: MeshHeartbeatMsg = { ...this.#o.announce(), seq: this.#seq++, sentAt: Date.now() }
    // gossipsub does not deliver our own messages back to us.
    this.#o.mesh.observeHeartbeat(hb)
    if (this.#topic.subscribers(HEARTBEAT_TOPIC).length === 0) return
    this.#topic.publish(HEARTBEAT_TOPIC, hb).catch((err: unknown) => {
      this.#o.logger.debug({ err: (err as Error).message }, 'heartbeat publish failed')
    })
  }

  /**
   * Heartbeats double as peer discovery: peers that only share a bootstrap node learn
   * each other's addresses here, so executors can dial the next hop directly.
   */
  #learnAddrs (hb: MeshHeartbeatMsg): void {
    if (hb.peer === this.#o.libp2p.peerId.toString() || hb.addrs.length === 0) return
    const key = hb.addrs.join(' ')
    if (this.#known.get(hb.peer) === key) return
    this.#known.set(hb.peer, key)
    const addrs = hb.addrs.flatMap((a) => { try { return [multiaddr(a)] } catch { return [] } })
    this.#o.libp2p.peerStore.merge(peerIdFromString(hb.peer), { multiaddrs: addrs }).catch((err: unknown) => {
      this.#known.delete(hb.peer)
      this.#o.logger.debug({ peer: hb.peer, err: (err as Error).message }, 'could not record peer addresses')
    })
  }

  async #pingAll (): Promise<void> {
    const self = this.#o.libp2p.peerId.toString()
    await Promise.all(this.#o.mesh.peers().filter((p) => p.live && p.peer !== self).map(async (p) => {
      try {
        const ms = await this.#o.libp2p.services.ping.ping(peerIdFromString(p.peer), { signal: AbortSignal.timeout(this.#o.pingMs) })
        this.#o.mesh.observeLatency(p.peer, ms)
      } catch {
        // An unanswered ping is not a latency sample; liveness comes from heartbeats.
      }
    }))
  }

  stop (): void {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#topic.close()
  }
}
