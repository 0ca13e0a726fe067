// Deterministic deployment of the Verimesh protocol contracts from one signer.
//
// Contracts go out in a fixed order (PROTOCOL_STEPS), each with the signer's
// next nonce, so a fresh chain always gets the same addresses. Everything is
// deployed owned by the deployer first, then wired (e.g. slasher rights, which
// only the owner may grant), and only at the end handed to governance: the
// timelock becomes owner of every Ownable contract, the governor its proposer
// and canceller, anyone its executor, and the deployer gives up the timelock's
// admin role. Doing the wiring before the hand-over is what lets a deployment
// finish without a governance vote.
//
// Adding a contract (quorum registry, settlement, disputes…) is one entry in
// PROTOCOL_STEPS: its artifact, constructor arguments computed from the
// addresses deployed before it, whether it is Ownable, and optional wiring.
import { Contract, ContractFactory, getAddress, getCreateAddress, id, isAddress, type Signer, type TransactionReceipt, type TransactionResponse } from 'ethers'

import { VerimeshError } from '../errors.js'
import { loadArtifact } from './contracts.js'
import { SignerQueue } from './nonce-manager.js'
import { chainFailure } from './revert.js'

export interface ProtocolAddresses {
  token: string
  timelock: string
  governor: string
  params: string
  nodeRegistry: string
  modelRegistry: string
  // Added by later steps; optional until their contracts land.
  quorumRegistry?: string
  settlement?: string
  disputes?: string
}

export type ProtocolContractKey = keyof ProtocolAddresses

export interface DeployProtocolOptions {
  /**
   * Who owns the parameters and registries once deployed. 'timelock' (the
   * default) is the production shape: changes only through governor → timelock.
   * 'deployer' leaves them with the deploying account, for tests and devnets.
   */
  governance?: 'timelock' | 'deployer'
  tokenName?: string
  tokenSymbol?: string
  /** Minted once to the deployer (token units, 18 decimals). Default 1e9 tokens. */
  initialSupply?: bigint
  /** Receives treasury shares of fees and slashes. Default: the timelock (or the deployer with governance 'deployer'). */
  treasury?: string
  /** Timelock delay in seconds. Default 2 days. */
  timelockDelay?: number
  /** Governor voting delay in blocks. Default 7200 (about a day of 12 s blocks). */
  votingDelay?: number
  /** Governor voting period in blocks. Default 50400 (about a week). */
  votingPeriod?: number
  /** Votes needed to propose. Default 0. */
  proposalThreshold?: bigint
  /** Quorum as a percentage of total supply. Default 4. */
  quorumPercent?: number
  /** Extra steps run after PROTOCOL_STEPS (tests, local extensions). */
  extraSteps?: DeployStep[]
  /**
   * Wiring that belongs to no step (e.g. BatchSettlement.setReceiptVerifier for a verifier
   * deployed beforehand): runs after every step's, while the deployer still owns everything.
   */
  wire?: (ctx: DeployContext) => Promise<void>
}

export type ResolvedDeployOptions = Required<Omit<DeployProtocolOptions, 'treasury' | 'extraSteps' | 'wire'>> & { treasury?: string }

export const DEFAULT_DEPLOY_OPTIONS: ResolvedDeployOptions = {
  governance: 'timelock',
  tokenName: 'Verimesh',
  tokenSymbol: 'VMSH',
  initialSupply: 1_000_000_000n * 10n ** 18n,
  timelockDelay: 2 * 24 * 3600,
  votingDelay: 7200,
  votingPeriod: 50400,
  proposalThreshold: 0n,
  quorumPercent: 4
}

/** What a step sees: the signer, the options and every address deployed before it. */
export interface DeployContext {
  signer: Signer
  deployer: string
  opts: ResolvedDeployOptions
  addresses: Partial<ProtocolAddresses>
  /** The address deployed under `key`; throws if that step has not run yet. */
  address: (key: ProtocolContractKey) => string
  /** An ethers Contract for a deployed step, connected to the deployer. */
  contract: (key: ProtocolContractKey) => Contract
  /** Send one transaction through the deployer's nonce queue and wait for it. */
  send: (key: ProtocolContractKey, method: string, args: unknown[]) => Promise<TransactionReceipt>
}

export interface DeployStep {
  key: ProtocolContractKey
  /** Artifact name in dist/contracts. */
  artifact: string
  args: (ctx: DeployContext) => unknown[]
  /** Ownable contracts are deployed owned by the deployer and handed to governance at the end. */
  ownable?: boolean
  /** Runs after every contract is deployed, while the deployer still owns them all. */
  wire?: (ctx: DeployContext) => Promise<void>
}

export const PROTOCOL_STEPS: DeployStep[] = [
  {
    key: 'token',
    artifact: 'VerimeshToken',
    args: (c) => [c.opts.tokenName, c.opts.tokenSymbol, c.deployer, c.opts.initialSupply]
  },
  {
    key: 'timelock',
    artifact: 'VerimeshTimelock',
    // No proposers yet (the governor does not exist); executor role open to
    // anyone: a passed, delayed proposal should not depend on one account.
    args: (c) => [c.opts.timelockDelay, [], ['0x0000000000000000000000000000000000000000'], c.deployer]
  },
  {
    key: 'governor',
    artifact: 'VerimeshGovernor',
    args: (c) => [c.address('token'), c.address('timelock'), c.opts.votingDelay, c.opts.votingPeriod, c.opts.proposalThreshold, c.opts.quorumPercent]
  },
  {
    key: 'params',
    artifact: 'ProtocolParams',
    ownable: true,
    args: (c) => [c.deployer, c.opts.treasury ?? (c.opts.governance === 'timelock' ? c.address('timelock') : c.deployer)]
  },
  {
    key: 'nodeRegistry',
    artifact: 'NodeRegistry',
    ownable: true,
    args: (c) => [c.address('token'), c.address('params'), c.deployer]
  },
  {
    key: 'modelRegistry',
    artifact: 'ModelRegistry',
    args: () => []
  },
  {
    key: 'quorumRegistry',
    artifact: 'QuorumRegistry',
    args: (c) => [c.address('nodeRegistry'), c.address('params')]
  },
  {
    key: 'settlement',
    artifact: 'BatchSettlement',
    ownable: true,
    args: (c) => [c.address('token'), c.address('params'), c.address('quorumRegistry'), c.address('nodeRegistry'), c.deployer]
  }
]

/** keccak256 role ids of OpenZeppelin's TimelockController. */
const TIMELOCK_ROLES = {
  admin: '0x0000000000000000000000000000000000000000000000000000000000000000',
  proposer: id('PROPOSER_ROLE'),
  canceller: id('CANCELLER_ROLE')
} as const

/**
 * Deploy the protocol from `signer` and hand it to governance. Resolves with
 * every address once all transactions are mined.
 */
export async function deployProtocol (signer: Signer, options: DeployProtocolOptions = {}): Promise<ProtocolAddresses> {
  const { extraSteps = [], wire, ...rest } = options
  const opts: ResolvedDeployOptions = { ...DEFAULT_DEPLOY_OPTIONS, ...stripUndefined(rest) }
  if (opts.treasury !== undefined && !isAddress(opts.treasury)) {
    throw new VerimeshError('CONFIG_INVALID', `treasury ${String(opts.treasury)} is not an address`, { treasury: opts.treasury })
  }
  if (opts.governance !== 'timelock' && opts.governance !== 'deployer') {
    throw new VerimeshError('CONFIG_INVALID', `governance must be 'timelock' or 'deployer', got ${String(opts.governance)}`, { governance: opts.governance })
  }
  const deployer = getAddress(await signer.getAddress())
  const queue = await SignerQueue.for(signer)
  const addresses: Partial<ProtocolAddresses> = {}
  const contracts = new Map<ProtocolContractKey, Contract>()

  const ctx: DeployContext = {
    signer,
    deployer,
    opts,
    addresses,
    address: (key) => {
      const a = addresses[key]
      if (a === undefined) throw new VerimeshError('CONFIG_INVALID', `deploy step needs ${key}, which is not deployed yet: check the step order`, { key })
      return a
    },
    contract: (key) => {
      const c = contracts.get(key)
      if (c === undefined) throw new VerimeshError('CONFIG_INVALID', `no deployed contract ${key}`, { key })
      return c
    },
    send: async (key, method, args) => {
      const c = ctx.contract(key)
      const operation = `${key}.${method}`
      let response: TransactionResponse
      try {
        response = await queue.send(async (nonce) => c.getFunction(method).send(...args, { nonce }))
        const receipt = await response.wait()
        if (receipt === null) throw new VerimeshError('CHAIN_ERROR', `${operation}: no receipt`, { operation })
        return receipt
      } catch (err) {
        throw chainFailure(operation, err, { contract: c.target })
      }
    }
  }

  const steps = [...PROTOCOL_STEPS, ...extraSteps]
  for (const step of steps) {
    if (addresses[step.key] !== undefined) throw new VerimeshError('CONFIG_INVALID', `two deploy steps for ${step.key}`, { key: step.key })
    const address = await deployOne(step.artifact, step.args(ctx), signer, queue)
    addresses[step.key] = address
    contracts.set(step.key, new Contract(address, loadArtifact(step.artifact).abi, signer))
  }
  for (const step of steps) await step.wire?.(ctx)
  await wire?.(ctx)

  // Hand-over. The timelock's roles are wired the same in both modes so the
  // governor path always works; 'deployer' mode only keeps Ownable ownership.
  const governor = ctx.address('governor')
  await ctx.send('timelock', 'grantRole', [TIMELOCK_ROLES.proposer, governor])
  await ctx.send('timelock', 'grantRole', [TIMELOCK_ROLES.canceller, governor])
  if (opts.governance === 'timelock') {
    for (const step of steps) {
      if (step.ownable === true) await ctx.send(step.key, 'transferOwnership', [ctx.address('timelock')])
    }
  }
  await ctx.send('timelock', 'renounceRole', [TIMELOCK_ROLES.admin, deployer])

  for (const key of ['token', 'timelock', 'governor', 'params', 'nodeRegistry', 'modelRegistry'] as const) ctx.address(key)
  return addresses as ProtocolAddresses
}

/** Deploy one artifact with the signer's next nonce and check it landed where CREATE puts it. */
export async function deployOne (artifactName: string, args: unknown[], signer: Signer, queue?: SignerQueue): Promise<string> {
  const artifact = loadArtifact(artifactName)
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer)
  const q = queue ?? await SignerQueue.for(signer)
  let response: TransactionResponse
  let receipt: TransactionReceipt | null
  try {
    response = await q.send(async (nonce) => {
      const c = await factory.deploy(...args, { nonce })
      return c.deploymentTransaction() as TransactionResponse
    })
    receipt = await response.wait()
  } catch (err) {
    throw chainFailure(`${artifactName}.constructor`, err, { contract: artifactName })
  }
  const expected = getCreateAddress({ from: response.from, nonce: response.nonce })
  if (receipt?.contractAddress == null || getAddress(receipt.contractAddress) !== expected) {
    throw new VerimeshError('CHAIN_ERROR', `${artifactName} deployed at ${String(receipt?.contractAddress)}, expected ${expected}`, { contract: artifactName, expected })
  }
  return expected
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
