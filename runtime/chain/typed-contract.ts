// Shared types and helpers for the bindings that scripts/gen-bindings.js
// generates into runtime/chain/types/. The generated modules stay small
// declarations; everything that runs lives here, written once and tested.
import {
  Contract, ContractFactory, Interface, getCreateAddress, getAddress,
  type BaseContract, type ContractRunner, type ContractTransaction, type ContractTransactionResponse,
  type FunctionFragment, type InterfaceAbi, type Log, type Overrides, type Result, type Signer,
  type TransactionReceipt, type TransactionResponse
} from 'ethers'

import { VerimeshError } from '../errors.js'
import { SignerQueue } from './nonce-manager.js'
import { chainFailure, registerErrors } from './revert.js'

export type Mutability = 'pure' | 'view' | 'nonpayable' | 'payable'

/** Arguments, optionally followed by ethers overrides (nonce, gasLimit, value, blockTag…). */
export type WithOverrides<A extends unknown[]> = A | [...A, Overrides]

/**
 * One contract function. Calling it directly does what ethers does: an
 * eth_call for view/pure functions, a transaction otherwise.
 */
export interface TypedMethod<A extends unknown[], R, M extends Mutability> {
  (...args: WithOverrides<A>): M extends 'view' | 'pure' ? Promise<R> : Promise<ContractTransactionResponse>
  staticCall: (...args: WithOverrides<A>) => Promise<R>
  send: (...args: WithOverrides<A>) => Promise<ContractTransactionResponse>
  estimateGas: (...args: WithOverrides<A>) => Promise<bigint>
  populateTransaction: (...args: WithOverrides<A>) => Promise<ContractTransaction>
  readonly name: string
  readonly fragment: FunctionFragment
}

/** What every generated contract type extends: ethers' BaseContract, with connect/attach keeping the type. */
export interface TypedContract<Self extends BaseContract> extends BaseContract {
  connect: (runner: ContractRunner | null) => Self
  attach: (target: string) => Self
}

/** A decoded log of one of the contract's events. */
export interface TypedLog<Name extends string, Args> {
  name: Name
  signature: string
  args: Args
  log: Log
}

/** Map a decoded ethers Result to an object keyed by the event's parameter names (arg<i> when unnamed). */
function namedArgs (names: readonly string[], result: Result): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  names.forEach((n, i) => { out[n] = result[i] })
  return out
}

/**
 * Decode the logs that `iface` recognises (optionally only those emitted by
 * `address`); logs of other contracts are skipped, not errors.
 */
export function decodeLogs<E extends { name: string }> (iface: Interface, logs: readonly Log[], address?: string): Array<E & { signature: string, log: Log }> {
  const want = address === undefined ? undefined : getAddress(address)
  const out: Array<E & { signature: string, log: Log }> = []
  for (const log of logs) {
    if (want !== undefined && getAddress(log.address) !== want) continue
    let parsed
    try {
      parsed = iface.parseLog({ topics: [...log.topics], data: log.data })
    } catch {
      continue
    }
    if (parsed === null) continue
    const names = parsed.fragment.inputs.map((p, i) => p.name !== '' ? p.name : `arg${i}`)
    out.push({ name: parsed.name, signature: parsed.signature, args: namedArgs(names, parsed.args), log } as unknown as E & { signature: string, log: Log })
  }
  return out
}

const interfaces = new WeakMap<object, Interface>()

/** One Interface per ABI object, with its custom errors registered for revert decoding. */
export function interfaceOf (contractName: string, abi: readonly unknown[]): Interface {
  let iface = interfaces.get(abi)
  if (iface === undefined) {
    iface = new Interface(abi as unknown as InterfaceAbi)
    registerErrors(contractName, iface)
    interfaces.set(abi, iface)
  }
  return iface
}

export function connectTyped<T> (contractName: string, abi: readonly unknown[], address: string, runner: ContractRunner | null | undefined): T {
  return new Contract(getAddress(address), interfaceOf(contractName, abi), runner ?? null) as unknown as T
}

/**
 * Deploy through the signer's SignerQueue (so it cannot race other sends of
 * the same key for a nonce) and wait until mined. A constructor revert
 * becomes a RevertError with the decoded custom error.
 */
export async function deployTyped<T> (contractName: string, abi: readonly unknown[], bytecode: string, signer: Signer, args: unknown[]): Promise<T> {
  if (/__\$[0-9a-f]{34}\$__/i.test(bytecode)) {
    throw new VerimeshError('CONFIG_INVALID', `${contractName} needs library linking before it can be deployed`, { contract: contractName })
  }
  const iface = interfaceOf(contractName, abi)
  const factory = new ContractFactory(iface, bytecode, signer)
  const last = args[args.length - 1]
  const hasOverrides = args.length === iface.deploy.inputs.length + 1 && last !== null && typeof last === 'object' && !Array.isArray(last)
  const ctorArgs = hasOverrides ? args.slice(0, -1) : args
  const overrides = (hasOverrides ? last : {}) as Overrides
  const queue = await SignerQueue.for(signer)
  let response: TransactionResponse
  let receipt: TransactionReceipt | null
  try {
    response = await queue.send(async (nonce) => {
      const c = await factory.deploy(...ctorArgs, { ...overrides, nonce })
      return c.deploymentTransaction() as TransactionResponse
    })
    receipt = await response.wait()
  } catch (err) {
    throw chainFailure(`${contractName}.constructor`, err, { contract: contractName })
  }
  const address = receipt?.contractAddress ?? null
  if (address === null) throw new VerimeshError('CHAIN_ERROR', `${contractName} deployment mined without a contract address`, { contract: contractName, txHash: response.hash })
  const expected = getCreateAddress({ from: response.from, nonce: response.nonce })
  if (getAddress(address) !== expected) throw new VerimeshError('CHAIN_ERROR', `${contractName} deployed at ${address}, expected ${expected}`, { contract: contractName })
  return new Contract(expected, iface, signer) as unknown as T
}
