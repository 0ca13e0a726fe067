// Shared setup for the contract tests: an embedded chain, funded wallets,
// transaction helpers and revert assertions by custom error name.
import type { ExecutionContext } from 'ava'
import { Contract, Wallet, type ContractTransactionResponse, type JsonRpcProvider, type TransactionReceipt } from 'ethers'

import { loadArtifact } from '../runtime/chain/contracts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { decodeRevert } from '../runtime/chain/revert.js'

export interface TestChain {
  chain: EmbeddedChain
  provider: JsonRpcProvider
  wallet: (i: number) => Wallet
  stop: () => Promise<void>
}

export async function startTestChain (accounts: number): Promise<TestChain> {
  const chain = await startEmbeddedChain({ accounts })
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  const wallets = new Map<number, Wallet>()
  const wallet = (i: number): Wallet => {
    let w = wallets.get(i)
    if (w === undefined) {
      const key = chain.accounts[i]?.privateKey
      if (key === undefined) throw new Error(`no dev account ${i}`)
      wallets.set(i, (w = new Wallet(key, provider)))
    }
    return w
  }
  return {
    chain,
    provider,
    wallet,
    stop: async () => {
      provider.destroy()
      await chain.stop()
    }
  }
}

/** An ethers Contract for artifact `name` at `address`, connected to `runner`. */
export function at (name: string, address: string, runner: Wallet | JsonRpcProvider): Contract {
  return new Contract(address, loadArtifact(name).abi, runner)
}

/** Await a sent transaction and its successful receipt. */
export async function mined (tx: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait()
  if (receipt === null) throw new Error('no receipt')
  return receipt
}

/** Assert `p` reverts with custom error `name`; returns its decoded arguments. */
export async function reverts (t: ExecutionContext, p: Promise<unknown>, name: string): Promise<unknown[]> {
  let thrown: unknown
  try {
    const result = await p
    // A transaction sent with an explicit gas limit skips estimation: wait for it, so a
    // mined revert fails the assertion instead of passing as "sent".
    if (result !== null && typeof result === 'object' && typeof (result as { wait?: unknown }).wait === 'function') {
      await (result as ContractTransactionResponse).wait()
    }
  } catch (err) {
    thrown = err
  }
  if (thrown === undefined) {
    t.fail(`expected a revert with ${name}, but it succeeded`)
    return []
  }
  const decoded = decodeRevert(thrown)
  t.is(decoded?.name, name, `expected ${name}, got ${decoded?.name ?? String(thrown)}`)
  return decoded?.args ?? []
}

/**
 * Mine until the latest block's timestamp is at least `timestamp`. The embedded chain's
 * clock is wall time plus the evm_increaseTime offset, but a burst of blocks runs ahead of
 * it (timestamps must increase), so an offset alone does not say where the next block lands.
 */
export async function advanceTo (provider: JsonRpcProvider, timestamp: number): Promise<void> {
  for (let latest = await now(provider); latest < timestamp; latest = await now(provider)) {
    await provider.send('evm_increaseTime', [timestamp - latest])
    await provider.send('hardhat_mine', ['0x1'])
  }
}

/** Move the chain so the latest block is at least `seconds` after the current latest one. */
export async function increaseTime (provider: JsonRpcProvider, seconds: number): Promise<void> {
  await advanceTo(provider, await now(provider) + seconds)
}

export async function mine (provider: JsonRpcProvider, blocks: number): Promise<void> {
  await provider.send('hardhat_mine', [`0x${blocks.toString(16)}`])
}

export async function now (provider: JsonRpcProvider): Promise<number> {
  const block = await provider.getBlock('latest')
  if (block === null) throw new Error('no latest block')
  return block.timestamp
}

/** Parse the logs of `receipt` emitted by `contract`, by event name. */
export function events (contract: Contract, receipt: TransactionReceipt, name: string): Array<Record<string, unknown> & { args: unknown[] }> {
  const out: Array<Record<string, unknown> & { args: unknown[] }> = []
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== String(contract.target).toLowerCase()) continue
    const parsed = contract.interface.parseLog(log)
    if (parsed?.name === name) out.push(Object.assign(parsed.args.toObject(), { args: [...parsed.args] }))
  }
  return out
}

export const E18 = 10n ** 18n
