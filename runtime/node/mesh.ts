// What a node knows about the mesh: peers announced by gossipsub heartbeats, their
// liveness and uptime from heartbeat arrivals, and p95 latency from libp2p pings.
// The router scores peers from this view; nothing here decides anything.

import type { MeshHeartbeatMsg } from '../protocol/messages.js'

export interface PeerInfo {
  readonly peer: string
  readonly operator: string
  readonly addrs: readonly string[]
  readonly roles: readonly string[]
  readonly model: string
  readonly shards: readonly number[]
  readonly startedAt: number
  readonly lastSeen: number
  /** Fraction of expected heartbeats received over the recent window, in [0, 1]. */
  readonly uptime: number
  /** p95 of recent ping round trips; null until the first sample. */
  readonly p95LatencyMs: number | null
  readonly live: boolean
}

export interface MeshView {
  /** Every peer heard from (including this node), live or not. */
  peers: () => PeerInfo[]
  peer: (peerId: string) => PeerInfo | undefined
}

const WINDOW = 60
const LATENCY_SAMPLES = 64

interface PeerRecord {
  heartbeat: MeshHeartbeatMsg
  firstSeen: number
  lastSeen: number
  arrivals: number[]
  latencies: number[]
}

export class MeshTable implements MeshView {
  readonly #records = new Map<string, PeerRecord>()
  readonly #heartbeatMs: number
  readonly #livenessMs: number
  readonly #now: () => number

  constructor (opts: { heartbeatMs: number, livenessMs: number, now?: () => number }) {
    this.#heartbeatMs = opts.heartbeatMs
    this.#livenessMs = opts.livenessMs
    this.#now = opts.now ?? Date.now
  }

  observeHeartbeat (hb: MeshHeartbeatMsg): void {
    const now = this.#now()
    let rec = this.#records.get(hb.peer)
    // A restarted peer announces a new startedAt: its history starts over.
    if (rec === undefined || rec.heartbeat.startedAt !== hb.startedAt) {
      rec = { heartbeat: hb, firstSeen: now, lastSeen: now, arrivals: [], latencies: rec?.latencies ?? [] }
      this.#records.set(hb.peer, rec)
    } else if (hb.seq < rec.heartbeat.seq) {
      return // reordered or replayed
    }
    rec.heartbeat = hb
    rec.lastSeen = now
    rec.arrivals.push(now)
    if (rec.arrivals.length > WINDOW) rec.arrivals.splice(0, rec.arrivals.length - WINDOW)
  }

  observeLatency (peer: string, ms: number): void {
    const rec = this.#records.get(peer)
    if (rec === undefined) return
    rec.latencies.push(ms)
    if (rec.latencies.length > LATENCY_SAMPLES) rec.latencies.splice(0, rec.latencies.length - LATENCY_SAMPLES)
  }

  peers (): PeerInfo[] {
    return [...this.#records.keys()].map((p) => this.peer(p)!).sort((a, b) => a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0)
  }

  peer (peerId: string): PeerInfo | undefined {
    const rec = this.#records.get(peerId)
    if (rec === undefined) return undefined
    const now = this.#now()
    const hb = rec.heartbeat
    return {
      peer: hb.peer,
      operator: hb.operator,
      addrs: hb.addrs,
      roles: hb.roles,
      model: hb.model,
      shards: hb.shards,
      startedAt: hb.startedAt,
      lastSeen: rec.lastSeen,
      uptime: this.#uptime(rec, now),
      p95LatencyMs: percentile(rec.latencies, 0.95),
      live: now - rec.lastSeen <= this.#livenessMs
    }
  }

  #uptime (rec: PeerRecord, now: number): number {
    const windowStart = Math.max(rec.firstSeen, now - WINDOW * this.#heartbeatMs)
    const expected = Math.floor((now - windowStart) / this.#heartbeatMs) + 1
    const got = rec.arrivals.filter((t) => t >= windowStart).length
    return Math.min(1, got / expected)
  }
}

export function percentile (samples: readonly number[], q: number): number | null {
  if (samples.length === 0) return null
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}
