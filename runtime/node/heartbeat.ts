// Keeps a MeshTable current: announces this node on gossipsub every heartbeat interval,
// records every valid announcement it hears, and pings live peers for latency samples.

import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.js'
import type { MeshTable } from './mesh.js'
import type { MeshHeartbeatMsg } from '../protocol/messages.js'
import { MeshHeartbeat } from '../protocol/messages.js'
import { MessageRegistry } from '../protocol/registry.js'
import { Packr } from 'msgpackr'
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
  readonly #registry = new MessageRegistry([MeshHeartbeat])
  readonly #packr = new Packr({ useRecords: false, moreTypes: true })
  #seq = 0
  /** Last address list merged into the peer store, per peer: merge only on change. */
  readonly #known = new Map<string, string>()
  #timers: NodeJS.Timeout[] = []
  #invalid = 0
  readonly #onMessage = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    if (evt.detail.topic !== HEARTBEAT_TOPIC) return
    try {
      const raw = this.#packr.unpack(evt.detail.data) as unknown
      const msg = this.#registry.validate(MeshHeartbeat.type, MeshHeartbeat.version, raw) as MeshHeartbeatMsg
      this.#o.mesh.observeHeartbeat(msg)
      this.#learnAddrs(msg)
    } catch (err) {
      // A bad announcement is the sender's problem; count it and keep listening.
      this.#invalid++
      this.#o.logger.debug({ err: (err as Error).message }, 'invalid heartbeat ignored')
    }
  }

  constructor (opts: HeartbeatOptions) {
    this.#o = opts
  }

  get invalidHeartbeats (): number {
    return this.#invalid
  }

  start (): void {
    const pubsub = this.#o.libp2p.services.pubsub
    pubsub.addEventListener('message', this.#onMessage as never)
    pubsub.subscribe(HEARTBEAT_TOPIC)
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
    const pubsub = this.#o.libp2p.services.pubsub
    if (pubsub.getSubscribers(HEARTBEAT_TOPIC).length === 0) return
    pubsub.publish(HEARTBEAT_TOPIC, this.#packr.pack(hb)).catch((err: unknown) => {
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
    const pubsub = this.#o.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.#onMessage as never)
    try { pubsub.unsubscribe(HEARTBEAT_TOPIC) } catch {}
  }
}
