// Per-signer send serialisation with local nonce tracking.
//
// ethers' own NonceManager hands out nonces before a transaction is even
// estimated: when an estimate reverts, that nonce is burnt and every later
// transaction waits behind the gap forever. Here each send (estimate, sign,
// broadcast) runs alone for its signer, and the nonce is consumed only once
// the node accepted the transaction. The next nonce is the larger of our own
// count and the node's "pending" count, read straight over JSON-RPC so ethers'
// read cache cannot hand back a stale one; a "nonce too low" (another process
// used the key) resyncs and retries.
import type { Provider, Signer, TransactionResponse } from 'ethers'
import { isError } from 'ethers'

import { VerimeshError } from '../errors.js'

const MAX_NONCE_RETRIES = 3

interface RawSender { send: (method: string, params: unknown[]) => Promise<unknown> }

function hasRawSend (p: Provider): p is Provider & RawSender {
  return typeof (p as Partial<RawSender>).send === 'function'
}

export class SignerQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private nextNonce: number | undefined

  private constructor (readonly signer: Signer, readonly address: string, private readonly provider: Provider) {}

  // One queue per (provider, address): two clients built around the same key
  // in one process must share it, or they would race for nonces.
  private static readonly queues = new WeakMap<Provider, Map<string, SignerQueue>>()

  static async for (signer: Signer): Promise<SignerQueue> {
    const provider = signer.provider
    if (provider === null) throw new VerimeshError('CONFIG_INVALID', 'signer has no provider: connect it to one first')
    const address = (await signer.getAddress()).toLowerCase()
    let byAddress = SignerQueue.queues.get(provider)
    if (byAddress === undefined) SignerQueue.queues.set(provider, (byAddress = new Map()))
    let q = byAddress.get(address)
    if (q === undefined) byAddress.set(address, (q = new SignerQueue(signer, address, provider)))
    return q
  }

  private async pendingNonce (): Promise<number> {
    if (hasRawSend(this.provider)) {
      return Number(BigInt(await this.provider.send('eth_getTransactionCount', [this.address, 'pending']) as string))
    }
    return this.provider.getTransactionCount(this.address, 'pending')
  }

  /**
   * Run `send(nonce)` after every earlier send of this signer was accepted.
   * `send` must build, sign and broadcast one transaction with that nonce.
   * Resolves when the node accepted it (not when it is mined).
   */
  async send (send: (nonce: number) => Promise<TransactionResponse>): Promise<TransactionResponse> {
    const run = async (): Promise<TransactionResponse> => {
      for (let attempt = 0; ; attempt++) {
        const chain = await this.pendingNonce()
        const nonce = this.nextNonce !== undefined && this.nextNonce > chain ? this.nextNonce : chain
        try {
          const response = await send(nonce)
          this.nextNonce = nonce + 1
          return response
        } catch (err) {
          if (isError(err, 'NONCE_EXPIRED') && attempt < MAX_NONCE_RETRIES) {
            this.nextNonce = undefined
            continue
          }
          // We cannot know whether a broadcast that failed in transit reached
          // the node: forget the local count and trust the node next time.
          if (!isError(err, 'CALL_EXCEPTION')) this.nextNonce = undefined
          throw err
        }
      }
    }
    const result = this.tail.then(run)
    this.tail = result.catch(() => undefined)
    return result
  }
}
