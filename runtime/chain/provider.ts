// ethers provider settings that suit a local automining chain.
import { JsonRpcProvider, Network } from 'ethers'

export interface ConnectOptions {
  /** Known chain id: skips the eth_chainId round trip ethers otherwise adds to requests. */
  chainId?: number
  /** How often tx.wait() polls when a receipt is not there yet (ms); default 100. */
  pollingInterval?: number
}

/**
 * A JsonRpcProvider for the embedded chain (or any dev node).
 *
 * `cacheTimeout: -1` matters: by default ethers reuses identical read results
 * for 250 ms, so a wallet that sends twice within 250 ms reads the same
 * "pending" nonce twice and the second send fails with "nonce too low" on any
 * instant-mining chain.
 */
export function connectProvider (url: string, opts: ConnectOptions = {}): JsonRpcProvider {
  const network = opts.chainId !== undefined ? Network.from(opts.chainId) : undefined
  return new JsonRpcProvider(url, network, {
    cacheTimeout: -1,
    // Still batches what is issued in the same tick, without ethers' 10 ms wait per round trip.
    batchStallTime: 0,
    pollingInterval: opts.pollingInterval ?? 100,
    ...(network !== undefined ? { staticNetwork: network } : {})
  })
}
