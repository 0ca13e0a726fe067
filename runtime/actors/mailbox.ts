// A bounded FIFO on a power-of-two ring of parallel arrays: O(1) push and shift with
// no per-message allocation, growing on demand so idle actors with a large capacity
// stay small.

import { VerimeshError } from '../errors.js'
import type { ActorRef, Message } from './types.js'

const INITIAL_RING = 16

export class Mailbox {
  readonly capacity: number
  #msgs: Array<Message | undefined>
  #senders: Array<ActorRef | undefined>
  #corrs: Array<string | undefined>
  #mask: number
  #head = 0
  #size = 0
  /** Sender of the message last returned by shift() (out-params avoid a tuple per message). */
  sender: ActorRef | undefined = undefined
  /** Correlation id of the message last returned by shift(). */
  correlationId: string | undefined = undefined

  constructor (capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new VerimeshError('CONFIG_INVALID', `mailbox capacity must be a positive integer, got ${String(capacity)}`, { capacity })
    }
    this.capacity = capacity
    const ring = INITIAL_RING
    this.#msgs = new Array<Message | undefined>(ring).fill(undefined)
    this.#senders = new Array<ActorRef | undefined>(ring).fill(undefined)
    this.#corrs = new Array<string | undefined>(ring).fill(undefined)
    this.#mask = ring - 1
  }

  get size (): number {
    return this.#size
  }

  /** False when full: the caller refuses the message, nothing is dropped here. */
  push (msg: Message, sender: ActorRef | undefined, correlationId: string | undefined): boolean {
    const size = this.#size
    if (size >= this.capacity) return false
    if (size > this.#mask) this.#grow()
    const i = (this.#head + size) & this.#mask
    this.#msgs[i] = msg
    this.#senders[i] = sender
    this.#corrs[i] = correlationId
    this.#size = size + 1
    return true
  }

  shift (): Message | undefined {
    if (this.#size === 0) return undefined
    const i = this.#head
    const msg = this.#msgs[i]
    this.sender = this.#senders[i]
    this.correlationId = this.#corrs[i]
    // Clear the slot so a drained mailbox does not keep messages alive.
    this.#msgs[i] = undefined
    this.#senders[i] = undefined
    this.#corrs[i] = undefined
    this.#head = (i + 1) & this.#mask
    this.#size--
    return msg
  }

  #grow (): void {
    const old = this.#mask + 1
    const ring = old * 2
    const msgs = new Array<Message | undefined>(ring).fill(undefined)
    const senders = new Array<ActorRef | undefined>(ring).fill(undefined)
    const corrs = new Array<string | undefined>(ring).fill(undefined)
    for (let k = 0; k < this.#size; k++) {
      const i = (this.#head + k) & this.#mask
      msgs[k] = this.#msgs[i]
      senders[k] = this.#senders[i]
      corrs[k] = this.#corrs[i]
    }
    this.#msgs = msgs
    this.#senders = senders
    this.#corrs = corrs
    this.#head = 0
    this.#mask = ring - 1
  }
}
