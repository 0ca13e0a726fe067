// Transport counters. Plain numbers updated on the hot path (no metric library
// calls per message); the node copies a snapshot into its Prometheus registry.

import type { ErrorCode } from '../errors.js'

export type CountByCode = Partial<Record<ErrorCode, number>>

export interface TransportStats {
  /** Peers with an outbound link (queue or stream). */
  links: number
  /** Outbound streams currently open. */
  openStreams: number
  framesOut: number
  envelopesOut: number
  bytesOut: number
  framesIn: number
  envelopesIn: number
  bytesIn: number
  dials: number
  dialFailures: number
  /** Times a send() returned false and the writer waited for 'drain'. */
  drainWaits: number
  /** Encoded bytes waiting in the per-peer queues now, and the highest value seen. */
  queuedBytes: number
  peakQueuedBytes: number
  /** Highest libp2p stream write buffer seen right after a send(): what backpressure bounds. */
  peakStreamBufferedBytes: number
  /** Asks sent and not yet answered. */
  pendingAsks: number
  /** Inbound frames/envelopes refused, by code. */
  inboundErrors: CountByCode
  /** Outbound envelopes refused or lost locally (too large, unreachable, closed...), by code. */
  outboundErrors: CountByCode
  /** Error notices received from peers about frames this node sent, by code. */
  remoteNotices: CountByCode
  /** Refusals that had nobody to go back to (no sender, or a reply that failed). */
  deadLetters: number
}

export class TransportCounters {
  framesOut = 0
  envelopesOut = 0
  bytesOut = 0
  framesIn = 0
  envelopesIn = 0
  bytesIn = 0
  dials = 0
  dialFailures = 0
  drainWaits = 0
  peakQueuedBytes = 0
  peakStreamBufferedBytes = 0
  deadLetters = 0
  readonly inboundErrors: CountByCode = {}
  readonly outboundErrors: CountByCode = {}
  readonly remoteNotices: CountByCode = {}

  static bump (counts: CountByCode, code: ErrorCode): void {
    counts[code] = (counts[code] ?? 0) + 1
  }
}

/**
 * Lets the first `burst` messages per code through each `windowMs`, then counts the
 * rest and reports how many were dropped when the window rolls: a peer spraying
 * malformed frames must not turn into a log flood.
 */
export class LogThrottle {
  readonly #burst: number
  readonly #windowMs: number
  readonly #seen = new Map<string, { start: number, n: number }>()

  constructor (burst = 10, windowMs = 10_000) {
    this.#burst = burst
    this.#windowMs = windowMs
  }

  /** Returns undefined to suppress, or the count suppressed since the last one let through. */
  admit (key: string, now = Date.now()): number | undefined {
    let w = this.#seen.get(key)
    if (w === undefined || now - w.start >= this.#windowMs) {
      const suppressed = w === undefined ? 0 : Math.max(0, w.n - this.#burst)
      w = { start: now, n: 0 }
      this.#seen.set(key, w)
      w.n++
      return suppressed
    }
    w.n++
    return w.n <= this.#burst ? 0 : undefined
  }
}
