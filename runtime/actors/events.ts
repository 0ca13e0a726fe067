// A minimal typed emitter. Not node:events: a listener that throws must be logged and
// skipped, never surface as an exception inside the runtime (or as EventEmitter's
// special 'error' event).

import type { Logger } from './internal.js'

export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(arg: never) => void>>()
  readonly #log: Logger

  constructor (log: Logger) {
    this.#log = log
  }

  on<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, set = new Set())
    set.add(listener as (arg: never) => void)
    return () => { set.delete(listener as (arg: never) => void) }
  }

  emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        (listener as (arg: Events[K]) => void)(arg)
      } catch (err) {
        this.#log('error', `'${String(event)}' listener threw`, { event: String(event), error: err instanceof Error ? err.message : String(err) })
      }
    }
  }
}
