// Pending asks, local and remote alike, keyed by correlation id. The id doubles as the
// temp path of the reply target (`/temp/<id>`), so a reply finds its asker whether it
// arrives as a local tell, a forwarded tell, or a 'reply' envelope.

import { randomBytes } from 'node:crypto'
import type { VerimeshError } from '../errors.js'
import { askTimeout } from './failures.js'
import type { Address, Message } from './types.js'

// setTimeout silently turns larger delays into 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

interface Pending {
  resolve: (msg: Message) => void
  reject: (err: VerimeshError) => void
  timer: NodeJS.Timeout | undefined
}

export class PendingAsks {
  // A random prefix keeps ids unique across restarts of a node that keeps its peer id,
  // so a late reply meant for a previous run cannot complete a new ask.
  readonly #prefix = randomBytes(4).toString('hex') + '-'
  readonly #pending = new Map<string, Pending>()
  #seq = 0

  get size (): number {
    return this.#pending.size
  }

  open (target: Address, messageType: string, timeoutMs: number): { id: string, promise: Promise<Message> } {
    const id = this.#prefix + (++this.#seq).toString(36)
    const promise = new Promise<Message>((resolve, reject) => {
      const entry: Pending = { resolve, reject, timer: undefined }
      if (Number.isFinite(timeoutMs) && timeoutMs >= 0) {
        entry.timer = setTimeout(() => {
          if (this.#pending.delete(id)) reject(askTimeout(target, messageType, timeoutMs))
        }, Math.min(timeoutMs, MAX_TIMER_MS))
      }
      this.#pending.set(id, entry)
    })
    return { id, promise }
  }

  /** False when the ask already completed (answered, timed out or failed). */
  resolve (id: string, msg: Message): boolean {
    const entry = this.#take(id)
    if (entry === undefined) return false
    entry.resolve(msg)
    return true
  }

  reject (id: string, err: VerimeshError): boolean {
    const entry = this.#take(id)
    if (entry === undefined) return false
    entry.reject(err)
    return true
  }

  rejectAll (err: VerimeshError): void {
    for (const id of [...this.#pending.keys()]) this.reject(id, err)
  }

  #take (id: string): Pending | undefined {
    const entry = this.#pending.get(id)
    if (entry === undefined) return undefined
    this.#pending.delete(id)
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    return entry
  }
}
