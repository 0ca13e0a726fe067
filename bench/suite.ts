// What a benchmark suite is, and the small measuring helpers suites share.
//
// A Metric compares Verimesh (`value`) with a named peer measured in the same run
// on the same machine (`peerValue`). `ratio` is defined so that > 1 always means
// Verimesh did better:
//   better 'higher' (throughput):  ratio = value / peerValue
//   better 'lower'  (latency):     ratio = peerValue / value
// A runtime layered on top of its peer (the transport over a raw libp2p stream)
// cannot beat it, so there the ratio reads as "fraction of the raw stack's
// performance kept", and 1 - ratio is the runtime's overhead.

export interface Metric {
  name: string
  value: number
  unit: string
  better: 'higher' | 'lower'
  /** Name of the comparison measured beside it. */
  peer?: string
  peerValue?: number
  /** > 1 means Verimesh is better (see above). */
  ratio?: number
  /** Target from the issue, in `unit`; `met` says whether `value` reaches it. */
  target?: number
  met?: boolean
  note?: string
}

export interface SuiteContext {
  /** Progress lines (stderr), so stdout stays the table. */
  log: (msg: string) => void
  /** Fewer iterations: a smoke run, not numbers to report. */
  quick: boolean
}

export interface Suite {
  name: string
  description: string
  run: (ctx: SuiteContext) => Promise<Metric[]>
}

/** Build a metric, computing ratio and met from the fields given. */
export function metric (m: Omit<Metric, 'ratio' | 'met'>): Metric {
  const out: Metric = { ...m }
  if (m.peerValue !== undefined && m.peerValue > 0 && m.value > 0) {
    out.ratio = m.better === 'higher' ? m.value / m.peerValue : m.peerValue / m.value
  }
  if (m.target !== undefined) out.met = m.better === 'higher' ? m.value >= m.target : m.value <= m.target
  return out
}

/** Nearest-rank percentile of unsorted samples (sorts a copy). */
export function percentile (samples: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(samples).sort()
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

export function median (xs: number[]): number {
  return percentile(xs, 50)
}

/** Milliseconds since `start` (a process.hrtime.bigint()). */
export function msSince (start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6
}

export const yieldToLoop = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
