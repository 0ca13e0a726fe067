// Addresses and the location-transparent ref. A ref is an address plus a cached local
// cell: the cache makes a local tell a couple of field reads and a ring-buffer push, and
// the host re-resolves by path when the cached cell has stopped, so a ref keeps naming
// whatever actor lives at its path (a respawned actor included).

import { VerimeshError } from '../errors.js'
import type { Cell } from './cell.js'
import { OFFER_OK, type Host } from './internal.js'
import type { ActorRef, Address, AskOptions, Message } from './types.js'

/** Ask reply targets live under this path; the rest of the path is the correlation id. */
export const TEMP_PREFIX = '/temp/'

export function tempIdOf (path: string): string | undefined {
  return path.startsWith(TEMP_PREFIX) ? path.slice(TEMP_PREFIX.length) : undefined
}

export function parseAddress (addressOrPath: Address, localPeer: string): { peer: string, path: string } {
  if (typeof addressOrPath === 'string' && addressOrPath.length > 1) {
    if (addressOrPath.startsWith('/')) return { peer: localPeer, path: addressOrPath }
    const slash = addressOrPath.indexOf('/')
    if (slash > 0 && slash < addressOrPath.length - 1) {
      return { peer: addressOrPath.slice(0, slash), path: addressOrPath.slice(slash) }
    }
  }
  throw new VerimeshError('NO_SUCH_ACTOR', `malformed actor address '${String(addressOrPath)}' (expected '<peerId>/<path>' or '/<path>')`, { address: addressOrPath })
}

export class Ref implements ActorRef {
  readonly peer: string
  readonly path: string
  readonly address: Address
  /** The local cell last resolved for this path; never set for remote refs. */
  cell: Cell | undefined
  readonly #host: Host

  constructor (host: Host, peer: string, path: string, cell?: Cell) {
    this.#host = host
    this.peer = peer
    this.path = path
    this.address = peer + path
    this.cell = cell
  }

  // Arrow properties: the contract types tell/ask as function-valued fields, so callers
  // may pass `ref.tell` around unbound.
  readonly tell = (msg: Message, sender?: ActorRef): void => {
    const cell = this.cell
    if (cell !== undefined && cell.offer(msg, sender, undefined) === OFFER_OK) return
    this.#host.tell(this, msg, sender)
  }

  readonly ask = <R extends Message = Message>(msg: Message, opts?: AskOptions): Promise<R> => {
    return this.#host.ask(this, msg, opts) as Promise<R>
  }

  toString (): string {
    return this.address
  }
}
