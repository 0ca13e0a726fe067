import test from 'ava'
import { Wallet, id } from 'ethers'
import { startEmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { deployOne } from '../runtime/chain/deploy.js'
import { TxSender } from '../runtime/chain/tx-sender.js'
import { connectModelRegistry } from '../runtime/chain/types/index.js'
import { assertModelRegistered } from '../runtime/chain/model-check.js'
import { isVerimeshError } from '../runtime/errors.js'
import type { NodeConfig } from '../runtime/node/config.js'

test('a node serves only a model root registered in ModelRegistry (when the config names one)', async (t) => {
  const chain = await startEmbeddedChain({ accounts: 1 })
  const provider = connectProvider(chain.url, { chainId: chain.chainId, pollingInterval: 50 })
  try {
    const owner = new Wallet(chain.accounts[0]!.privateKey, provider)
    const registry = await deployOne('ModelRegistry', [], owner)
    const root = id('a model')
    const zero = '0x' + '00'.repeat(32)
    const sender = await TxSender.create(owner, { pollIntervalMs: 50 })
    await sender.sendCall(connectModelRegistry(registry, provider), 'registerModel', ['m', root, [id('shard 0')], zero, 0n, ''])
    const cfg = (modelRegistry?: string): NodeConfig['chain'] => ({
      rpcUrl: chain.url, chainId: chain.chainId, confirmations: 1,
      contracts: { settlement: owner.address, quorumRegistry: owner.address, nodeRegistry: owner.address, params: owner.address, ...(modelRegistry === undefined ? {} : { modelRegistry }) }
    })
    t.is(await assertModelRegistered(cfg(registry), root), 'registered')
    const err = await t.throwsAsync(assertModelRegistered(cfg(registry), id('another model')))
    t.true(isVerimeshError(err, 'CONFIG_INVALID'), err.message)
    t.regex(err.message, /not a registered version/)
    t.is(await assertModelRegistered(cfg(), id('another model')), 'unchecked')
    t.is(await assertModelRegistered(null, root), 'unchecked')
  } finally {
    provider.destroy()
    await chain.stop()
  }
})
