// Contract artifacts (built by scripts/compile-contracts.js into
// dist/contracts) and a typed client for Settlement.sol.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import {
  Contract, ContractFactory, getAddress, getBytes, getCreateAddress, hexlify, isAddress, isError,
  type BytesLike, type ContractRunner, type InterfaceAbi, type Signer, type TransactionReceipt, type TransactionResponse
} from 'ethers'

import { VerimeshError } from '../errors.js'
import { SignerQueue } from './nonce-manager.js'
import { decodeRevert, registerErrors } from './revert.js'

export interface ContractArtifact {
  contractName: string
  sourceName: string
  abi: InterfaceAbi
  bytecode: string
  deployedBytecode: string
  compiler: { name: string, version: string, evmVersion: string, optimizerRuns: number }
}

/** dist/contracts, next to the compiled runtime (this file is dist/runtime/chain/contracts.js). */
export const DEFAULT_ARTIFACTS_DIR = fileURLToPath(new URL('../../contracts/', import.meta.url))

const artifactCache = new Map<string, ContractArtifact>()

/** Load dist/contracts/<name>.json (or from `dir`, or $VERIMESH_ARTIFACTS_DIR). */
export function loadArtifact (name: string, dir: string = process.env.VERIMESH_ARTIFACTS_DIR ?? DEFAULT_ARTIFACTS_DIR): ContractArtifact {
  const path = join(dir, `${name}.json`)
  const cached = artifactCache.get(path)
  if (cached !== undefined) return cached
  let artifact: ContractArtifact
  try {
    artifact = JSON.parse(readFileSync(path, 'utf8')) as ContractArtifact
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `contract artifact ${name} not found at ${path}: run \`npm run build\` (scripts/compile-contracts.js)`, { contract: name, path }, { cause: err })
  }
  if (!Array.isArray(artifact.abi) || typeof artifact.bytecode !== 'string' || artifact.bytecode.length <= 2) {
    throw new VerimeshError('CONFIG_INVALID', `contract artifact ${path} has no ABI or bytecode`, { contract: name, path })
  }
  artifactCache.set(path, artifact)
  return artifact
}

/** Address of the contract `deployer` creates with its `nonce`-th transaction. */
export function predictDeployAddress (deployer: string, nonce: number): string {
  return getCreateAddress({ from: deployer, nonce })
}

/**
 * Where deploySettlement lands on a fresh embedded chain when dev account 0
 * (0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266) deploys first, at nonce 0.
 * A constant rather than derived here: deriving the dev key costs ~0.1 s of
 * PBKDF2 at import. test/chain-settlement checks that the two agree.
 */
export const DEV_SETTLEMENT_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3'

// ---- errors ----------------------------------------------------------------

/** A decoded revert: the custom error's name and JSON-safe arguments. */
export interface DecodedRevert {
  /** Custom error name, or 'Error' / 'Panic' for the built-in ones. */
  name: string
  /** Arguments, JSON-safe (bigints as decimal strings). */
  args: unknown[]
}

/**
 * Decode a Settlement revert (custom error, Error(string) or Panic) from an
 * ethers error. Decoding itself is revert.ts's, which knows every artifact's
 * errors; this keeps the Settlement client's contract of `undefined` for a
 * payload none of them declares.
 */
export function decodeSettlementError (err: unknown): DecodedRevert | undefined {
  const revert = (err as { revert?: { name?: string, args?: unknown[] } } | undefined)?.revert
  if (revert?.name !== undefined) return { name: revert.name, args: [...(revert.args ?? [])].map((v) => typeof v === 'bigint' ? v.toString() : v) }
  registerErrors('Settlement', loadArtifact('Settlement').abi)
  const decoded = decodeRevert(err)
  if (decoded === undefined || decoded.signature === undefined) return undefined
  return { name: decoded.name, args: decoded.args }
}

// ---- deploy ----------------------------------------------------------------

export interface DeploySettlementOptions {
  validators: string[]
  threshold: number | bigint
  /** Defaults to the deployer. */
  owner?: string
}

function revertFailure (operation: string, err: unknown, context: Record<string, unknown>): VerimeshError {
  const decoded = decodeSettlementError(err)
  if (decoded !== undefined || isError(err, 'CALL_EXCEPTION')) {
    const what = decoded !== undefined ? `${decoded.name}(${decoded.args.map(String).join(', ')})` : 'an undecodable revert'
    return new VerimeshError('SETTLEMENT_FAILED', `Settlement.${operation} reverted with ${what}`, {
      ...context, operation, error: decoded?.name ?? 'Reverted', args: decoded?.args ?? []
    }, { cause: err })
  }
  const code = (err as { code?: unknown } | undefined)?.code
  const message = (err as { shortMessage?: string } | undefined)?.shortMessage ?? (err instanceof Error ? err.message : String(err))
  return new VerimeshError('CHAIN_ERROR', `Settlement.${operation} failed: ${message}`, { ...context, operation, ethersCode: typeof code === 'string' ? code : undefined }, { cause: err })
}

/**
 * Deploy Settlement and wait for it to be mined; resolves with its address.
 * From dev account 0 on a fresh embedded chain that is DEV_SETTLEMENT_ADDRESS.
 */
export async function deploySettlement (signer: Signer, opts: DeploySettlementOptions): Promise<string> {
  for (const v of opts.validators) {
    if (!isAddress(v)) throw new VerimeshError('CONFIG_INVALID', `validator ${String(v)} is not an address`, { validator: v })
  }
  const owner = opts.owner ?? await signer.getAddress()
  if (!isAddress(owner)) throw new VerimeshError('CONFIG_INVALID', `owner ${owner} is not an address`, { owner })
  const artifact = loadArtifact('Settlement')
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer)
  const context = { validators: opts.validators, threshold: String(opts.threshold), owner }

  const queue = await SignerQueue.for(signer)
  let response: TransactionResponse
  let receipt: TransactionReceipt | null
  try {
    response = await queue.send(async (nonce) => {
      const c = await factory.deploy(opts.validators, opts.threshold, owner, { nonce })
      return c.deploymentTransaction() as TransactionResponse
    })
    receipt = await response.wait()
  } catch (err) {
    throw revertFailure('constructor', err, context)
  }
  if (receipt?.contractAddress == null) throw new VerimeshError('CHAIN_ERROR', 'deployment mined without a contract address', context)
  const expected = predictDeployAddress(response.from, response.nonce)
  if (getAddress(receipt.contractAddress) !== expected) {
    throw new VerimeshError('CHAIN_ERROR', `deployed at ${receipt.contractAddress}, expected ${expected}`, { ...context, expected })
  }
  return expected
}

// ---- client ----------------------------------------------------------------

export interface TxOutcome {
  txHash: string
  blockNumber: number
  gasUsed: bigint
}

export interface ReceiptRecord {
  recorded: boolean
  /** 0 when not recorded */
  blockNumber: number
  /** null when not recorded */
  submitter: string | null
}

/** EIP-191 personal_sign signature over a 32-byte receipt hash, as Settlement expects. */
export async function signReceiptHash (signer: Signer, receiptHash: BytesLike): Promise<string> {
  return signer.signMessage(receiptHashBytes(receiptHash))
}

function receiptHashBytes (h: BytesLike): Uint8Array {
  const bytes = getBytes(h)
  if (bytes.length !== 32) throw new VerimeshError('REQUEST_INVALID', `receipt hash must be 32 bytes, got ${bytes.length}`)
  return bytes
}

/** Typed wrapper around the Settlement contract. Writes need a Signer runner. */
export class SettlementClient {
  readonly address: string
  readonly contract: Contract

  constructor (address: string, readonly runner: ContractRunner) {
    this.address = getAddress(address)
    this.contract = new Contract(this.address, loadArtifact('Settlement').abi, runner)
  }

  static connect (address: string, runner: ContractRunner): SettlementClient {
    return new SettlementClient(address, runner)
  }

  private signer (): Signer {
    const r = this.runner as Partial<Signer>
    if (typeof r.sendTransaction !== 'function' || typeof r.getAddress !== 'function') {
      throw new VerimeshError('CONFIG_INVALID', 'SettlementClient needs a Signer (not a bare Provider) to send transactions')
    }
    return this.runner as Signer
  }

  /**
   * Send one transaction through the signer's queue and wait for it.
   * A revert, whether caught at estimation or mined with status 0, becomes
   * SETTLEMENT_FAILED with the decoded custom error name in `context.error`.
   */
  private async write (operation: string, args: unknown[], context: Record<string, unknown>): Promise<TxOutcome> {
    const signer = this.signer()
    const queue = await SignerQueue.for(signer)
    const method = this.contract.getFunction(operation)
    let response: TransactionResponse
    try {
      response = await queue.send(async (nonce) => method.send(...args, { nonce }))
    } catch (err) {
      throw revertFailure(operation, err, { ...context, contract: this.address })
    }
    let receipt: TransactionReceipt | null
    try {
      receipt = await response.wait()
    } catch (err) {
      // Mined but reverted (it passed estimation, then the state moved, e.g.
      // a concurrent submitter recorded the same receipt first). Replay it
      // on the state just before its block to learn which error it hit.
      const mined = (err as { receipt?: TransactionReceipt }).receipt
      let reason: unknown = err
      if (mined != null) {
        reason = await method.staticCall(...args, { from: response.from, blockTag: mined.blockNumber - 1 }).then(() => err, (replayed: unknown) => replayed)
      }
      throw revertFailure(operation, reason, { ...context, contract: this.address, txHash: response.hash, blockNumber: mined?.blockNumber })
    }
    if (receipt === null) throw new VerimeshError('CHAIN_ERROR', `Settlement.${operation}: no receipt`, { ...context, txHash: response.hash })
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed }
  }

  /** Record `receiptHash` with validator signatures (see signReceiptHash). */
  async recordReceipt (receiptHash: BytesLike, signatures: BytesLike[]): Promise<TxOutcome> {
    const hash = hexlify(receiptHashBytes(receiptHash))
    return this.write('recordReceipt', [hash, signatures.map((s) => hexlify(s))], { receiptHash: hash, signatures: signatures.length })
  }

  async receiptOf (receiptHash: BytesLike): Promise<ReceiptRecord> {
    const hash = hexlify(receiptHashBytes(receiptHash))
    const [blockNumber, submitter] = await this.read<[bigint, string]>('receiptOf', [hash])
    const recorded = blockNumber !== 0n
    return { recorded, blockNumber: Number(blockNumber), submitter: recorded ? getAddress(submitter) : null }
  }

  async threshold (): Promise<bigint> {
    return (await this.read<[bigint]>('threshold', []))[0]
  }

  async isValidator (address: string): Promise<boolean> {
    return (await this.read<[boolean]>('isValidator', [address]))[0]
  }

  async owner (): Promise<string> {
    return (await this.read<[string]>('owner', []))[0]
  }

  async addValidator (validator: string): Promise<TxOutcome> {
    return this.write('addValidator', [validator], { validator })
  }

  async removeValidator (validator: string): Promise<TxOutcome> {
    return this.write('removeValidator', [validator], { validator })
  }

  async setThreshold (threshold: number | bigint): Promise<TxOutcome> {
    return this.write('setThreshold', [threshold], { threshold: String(threshold) })
  }

  private async read<T extends unknown[]> (name: string, args: unknown[]): Promise<T> {
    try {
      return [...await this.contract.getFunction(name).staticCallResult(...args)] as T
    } catch (err) {
      throw new VerimeshError('CHAIN_ERROR', `Settlement.${name} call failed: ${(err as { shortMessage?: string }).shortMessage ?? String(err)}`, { contract: this.address, operation: name }, { cause: err })
    }
  }
}
