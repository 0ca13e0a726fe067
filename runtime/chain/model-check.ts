// Executors and quorum members check, before they serve, that the model they load is a
// registered, not deprecated, version in ModelRegistry: what they run is then what the
// chain's receipts and disputes will be judged against.

import { VerimeshError } from '../errors.js'
import type { NodeConfig } from '../node/config.js'
import { connectProvider } from './provider.js'
import { connectModelRegistry } from './types/index.js'

/**
 * Resolves when `modelRoot` is registered, or when the config names no model registry;
 * throws CONFIG_INVALID (a node must not serve an unregistered model) or CHAIN_ERROR.
 */
export async function assertModelRegistered (chain: NodeConfig['chain'], modelRoot: string): Promise<'registered' | 'unchecked'> {
  const registry = chain?.contracts.modelRegistry
  if (chain === null || chain === undefined || registry === undefined) return 'unchecked'
  const provider = connectProvider(chain.rpcUrl, { chainId: chain.chainId })
  try {
    let registered: boolean
    try {
      registered = await connectModelRegistry(registry, provider).isRegisteredRoot(modelRoot)
    } catch (err) {
      throw new VerimeshError('CHAIN_ERROR', `cannot read ModelRegistry at ${registry}: ${(err as Error).message}`, { registry, modelRoot }, { cause: err })
    }
    if (!registered) {
      throw new VerimeshError('CONFIG_INVALID', `model root ${modelRoot} is not a registered version in ModelRegistry ${registry} (register it, or leave chain.contracts.modelRegistry out to skip the check)`, { registry, modelRoot })
    }
    return 'registered'
  } finally {
    provider.destroy()
  }
}
