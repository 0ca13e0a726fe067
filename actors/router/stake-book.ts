// What the router scores stake with. With a chain configured, each peer operator's bonded
// stake is read from NodeRegistry and refreshed in the background (a request never waits
// on a chain read); the config's mesh.stakes stand in for operators not read yet and for
// nodes without a chain section.

import type { Logger } from '../../runtime/node/logger.js'

export type StakeReader = (operator: string) => Promise<bigint>

export class StakeBook {
  readonly #configured: Readonly<Record<string, string>>
  readonly #onChain = new Map<string, string>()
  readonly #reader: StakeReader | undefined
  readonly #operators: () => string[]
  readonly #logger: Logger
  #timer: NodeJS.Timeout | undefined
  #refreshing = false

  constructor (configured: Readonly<Record<string, string>>, operators: () => string[], logger: Logger, reader?: StakeReader) {
    this.#configured = configured
    this.#operators = operators
    this.#logger = logger
    this.#reader = reader
  }

  /** Operator (lower-case) → stake as a decimal string, chain values first. */
  stakes (): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(this.#configured)) out[k.toLowerCase()] = v
    for (const [k, v] of this.#onChain) out[k] = v
    return out
  }

  /** Poll every `intervalMs`; the first refresh starts at once. */
  start (intervalMs: number): void {
    if (this.#reader === undefined || this.#timer !== undefined) return
    void this.refresh()
    this.#timer = setInterval(() => { void this.refresh() }, intervalMs)
    this.#timer.unref()
  }

  async refresh (): Promise<void> {
    const reader = this.#reader
    if (reader === undefined || this.#refreshing) return
    this.#refreshing = true
    try {
      const ops = [...new Set(this.#operators().map((o) => o.toLowerCase()))]
      await Promise.all(ops.map(async (op) => {
        try {
          this.#onChain.set(op, (await reader(op)).toString(10))
        } catch (err) {
          // Keep the last value: a flaky RPC must not zero a node's score.
          this.#logger.debug({ operator: op, err: (err as Error).message }, 'stake read failed')
        }
      }))
    } finally {
      this.#refreshing = false
    }
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }
}
