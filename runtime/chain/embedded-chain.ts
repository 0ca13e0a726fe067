// An embedded Ethereum chain for development and tests, served over JSON-RPC
// on loopback so any client (ethers, other OS processes, foundry's cast) can
// use it like a real node.
//
// Why @ethereumjs/vm: it is the real EVM in pure JavaScript. It runs offline
// on Node 20, 22 and 24 with no native binary and no download, and it builds
// real blocks (state root, receipts trie, EIP-1559 base fee). Hardhat 3's
// simulated network (EDR) needs Node >= 22 and silently lacks its native
// binding on Node 20; anvil/geth would be external binaries to install and
// supervise. The cost is speed (~10-20 ms per transaction), which a dev
// chain for receipts does not notice.
//
// Semantics: automine, one block per transaction, mined before
// eth_sendRawTransaction answers; no reorgs (latest = safe = finalized).
import { VerimeshError } from '../errors.js'

import { DEV_BALANCE_WEI, DEV_MNEMONIC, devAccounts, type DevAccount } from './dev-accounts.js'
import { EvmNode } from './evm-node.js'
import { createMethods, dispatch } from './methods.js'
import { startRpcServer } from './rpc-server.js'

export interface EmbeddedChainOptions {
  /** Interface to bind; default 127.0.0.1 (loopback only: the dev keys are public). */
  host?: string
  /** TCP port; default 0 (any free port). */
  port?: number
  /** Default 31337 (the usual dev chain id). */
  chainId?: number
  /** Number of prefunded dev accounts from DEV_MNEMONIC; default 10. */
  accounts?: number
  /** Only automine ('auto') is implemented: one block per transaction. */
  blockTime?: 'auto'
  /** Mnemonic for the dev accounts; default DEV_MNEMONIC (public, Hardhat's). */
  mnemonic?: string
  /** Genesis balance of each dev account; default 10,000 ETH. */
  balanceWei?: bigint
  /** Block gas limit; default 30,000,000. */
  blockGasLimit?: bigint
  /** Receives unexpected server-side failures (they also answer -32603). */
  onError?: (err: unknown, method: string) => void
}

export interface EmbeddedChain {
  /** http://host:port, for `new JsonRpcProvider(url)` */
  url: string
  chainId: number
  accounts: DevAccount[]
  /** Direct access to the chain state (same process only). */
  node: EvmNode
  stop: () => Promise<void>
}

export async function startEmbeddedChain (opts: EmbeddedChainOptions = {}): Promise<EmbeddedChain> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? 0
  const chainId = opts.chainId ?? 31337
  const count = opts.accounts ?? 10
  if (opts.blockTime !== undefined && opts.blockTime !== 'auto') {
    throw new VerimeshError('CONFIG_INVALID', `blockTime ${String(opts.blockTime)} is not supported: only 'auto'`, { blockTime: opts.blockTime })
  }
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new VerimeshError('CONFIG_INVALID', `invalid chainId ${chainId}`, { chainId })
  if (!Number.isInteger(count) || count < 0 || count > 1000) throw new VerimeshError('CONFIG_INVALID', `accounts must be 0..1000, got ${count}`, { accounts: count })
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VerimeshError('CONFIG_INVALID', `invalid port ${port}`, { port })

  const accounts = devAccounts(count, opts.mnemonic ?? DEV_MNEMONIC)
  let node: EvmNode
  try {
    node = await EvmNode.create({
      chainId: BigInt(chainId),
      genesisAccounts: accounts.map((a) => ({ address: a.address, balance: opts.balanceWei ?? DEV_BALANCE_WEI })),
      blockGasLimit: opts.blockGasLimit
    })
  } catch (err) {
    throw VerimeshError.from(err, 'CHAIN_ERROR', { stage: 'genesis' })
  }

  const methods = createMethods(node)
  let server
  try {
    server = await startRpcServer((method, params) => dispatch(methods, method, params), { host, port, onInternalError: opts.onError })
  } catch (err) {
    throw VerimeshError.from(err, 'CHAIN_ERROR', { stage: 'listen', host, port })
  }

  let stopping: Promise<void> | undefined
  return {
    url: server.url,
    chainId,
    accounts,
    node,
    stop: async () => {
      stopping ??= (async () => {
        await node.close()
        await server.close()
      })()
      return stopping
    }
  }
}
