// Bookkeeping for transactions that are not mined yet.
//
// With automine a transaction whose nonce is the sender's next one is mined as
// soon as it reaches the front of the node's queue. Two kinds are not:
//  - in flight: accepted over HTTP, waiting for the queue. Counting them in
//    the "pending" nonce lets a sender that fires several transactions
//    without awaiting each one ask for the next nonce and get a fresh one.
//  - parked: nonce above the sender's next one. HTTP requests from one client
//    travel over several sockets and can arrive out of order (ethers'
//    NonceManager fires all sends at once), so a gap is normal; the
//    transaction waits here, like in geth's queue, until the gap is filled.
import type { TypedTransaction } from '@ethereumjs/tx'

export interface PoolTx {
  tx: TypedTransaction
  hash: string
  /** lower-case 0x address */
  from: string
  nonce: bigint
}

/** Fee used to compare a replacement with the parked transaction it replaces. */
function feeCap (tx: TypedTransaction): bigint {
  return 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as unknown as { gasPrice: bigint }).gasPrice
}

export class TxPool {
  private readonly parked = new Map<string, Map<bigint, PoolTx>>()
  private readonly byHash = new Map<string, PoolTx>()
  private readonly inflight = new Map<string, Map<bigint, number>>()

  has (hash: string): boolean {
    return this.byHash.has(hash)
  }

  get (hash: string): PoolTx | undefined {
    return this.byHash.get(hash)
  }

  markInflight (from: string, nonce: bigint): void {
    let m = this.inflight.get(from)
    if (m === undefined) this.inflight.set(from, (m = new Map()))
    m.set(nonce, (m.get(nonce) ?? 0) + 1)
  }

  clearInflight (from: string, nonce: bigint): void {
    const m = this.inflight.get(from)
    if (m === undefined) return
    const n = (m.get(nonce) ?? 0) - 1
    if (n > 0) m.set(nonce, n)
    else m.delete(nonce)
    if (m.size === 0) this.inflight.delete(from)
  }

  /**
   * Park a future-nonce transaction. A same-nonce replacement must raise the
   * fee cap by at least 10% (geth's rule), otherwise it is refused.
   * Returns the replaced transaction's hash, if any.
   */
  park (ptx: PoolTx): { replaced?: string } {
    let m = this.parked.get(ptx.from)
    if (m === undefined) this.parked.set(ptx.from, (m = new Map()))
    const old = m.get(ptx.nonce)
    if (old !== undefined) {
      if (feeCap(ptx.tx) * 10n < feeCap(old.tx) * 11n) throw new Error('replacement transaction underpriced')
      this.byHash.delete(old.hash)
    }
    m.set(ptx.nonce, ptx)
    this.byHash.set(ptx.hash, ptx)
    return old === undefined ? {} : { replaced: old.hash }
  }

  /** Remove and return the parked transaction of `from` with exactly `nonce`. */
  take (from: string, nonce: bigint): PoolTx | undefined {
    const m = this.parked.get(from)
    const ptx = m?.get(nonce)
    if (m === undefined || ptx === undefined) return undefined
    m.delete(nonce)
    if (m.size === 0) this.parked.delete(from)
    this.byHash.delete(ptx.hash)
    return ptx
  }

  /** Drop parked transactions whose nonce is already used (they can never be mined). */
  dropStale (from: string, nextNonce: bigint): void {
    const m = this.parked.get(from)
    if (m === undefined) return
    for (const [nonce, ptx] of m) {
      if (nonce < nextNonce) {
        m.delete(nonce)
        this.byHash.delete(ptx.hash)
      }
    }
    if (m.size === 0) this.parked.delete(from)
  }

  /**
   * Next nonce a sender should use: the state nonce, advanced past every
   * contiguous nonce that is already in flight or parked.
   */
  pendingNonce (from: string, stateNonce: bigint): bigint {
    const flying = this.inflight.get(from)
    const waiting = this.parked.get(from)
    let n = stateNonce
    while ((flying?.has(n) ?? false) || (waiting?.has(n) ?? false)) n++
    return n
  }

  get size (): number {
    return this.byHash.size
  }
}
