// BatchSettlement on the embedded chain for its tests and the gas bench: the real
// token and parameters, a test quorum registry that checks real BLS signatures
// (contracts/test/BatchSettlementMocks.sol) and a settable epoch clock.
import { Contract, ContractFactory, Interface, Wallet, type InterfaceAbi, type JsonRpcProvider, type TransactionReceipt } from 'ethers'

import { buildBatch, type Batch, type BatchReceipt, type FeeSplit } from '../runtime/chain/batch.js'
import { loadArtifact, type ContractArtifact } from '../runtime/chain/contracts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { harnessArtifact } from '../runtime/chain/solc-harness.js'
import { aggregateG1, aggregateG2, blsKeyPair, sign, sortByPkHash, type BlsKeyPair, type G1Point } from '../runtime/crypto/bls.js'

export const SUPPLY = 10n ** 27n
export const MOCKS = 'test/BatchSettlementMocks.sol'

export interface QuorumSigArg { nonSignerPks: G1Point[], apkG2: [bigint, bigint, bigint, bigint], sigma: G1Point }

export interface SettlementEnv {
  chain: EmbeddedChain
  provider: JsonRpcProvider
  wallets: Wallet[]
  owner: Wallet
  treasury: string
  token: Contract
  params: Contract
  clock: Contract
  quorums: Contract
  settlement: Contract
  validators: BlsKeyPair[]
  stakes: bigint[]
  chainId: bigint
  /** Every ABI involved, for decoding reverts that bubble up from the registry. */
  errors: Interface
  stop: () => Promise<void>
}

async function deploy (artifact: ContractArtifact, signer: Wallet, args: unknown[]): Promise<Contract> {
  const c = await new ContractFactory(artifact.abi, artifact.bytecode, signer).deploy(...args)
  await c.waitForDeployment()
  return c as Contract
}

export async function mined (p: Promise<{ wait: () => Promise<TransactionReceipt | null> }>): Promise<TransactionReceipt> {
  const r = await (await p).wait()
  if (r === null) throw new Error('no receipt')
  return r
}

/** Start a chain and deploy the settlement with `nValidators` BLS validators in the epoch-0 quorum. */
export async function settlementEnv (opts: { accounts?: number, nValidators?: number, stakes?: bigint[] } = {}): Promise<SettlementEnv> {
  const chain = await startEmbeddedChain({ accounts: opts.accounts ?? 12 })
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  const wallets = chain.accounts.map((a) => new Wallet(a.privateKey, provider))
  const owner = wallets[0]!
  const treasury = Wallet.createRandom().address
  const token = await deploy(loadArtifact('VerimeshToken'), owner, ['Verimesh', 'VMSH', owner.address, SUPPLY])
  const params = await deploy(loadArtifact('ProtocolParams'), owner, [owner.address, treasury])
  const clock = await deploy(harnessArtifact(MOCKS, 'TestEpochClock'), owner, [])
  const quorums = await deploy(harnessArtifact(MOCKS, 'TestQuorumRegistry'), owner, [])
  const settlement = await deploy(loadArtifact('BatchSettlement'), owner, [
    await token.getAddress(), await params.getAddress(), await quorums.getAddress(), await clock.getAddress(), owner.address
  ])
  const n = opts.nValidators ?? 4
  const validators = Array.from({ length: n }, (_, i) => blsKeyPair(`batch-settlement validator ${i}`))
  const stakes = opts.stakes ?? validators.map(() => 1000n)
  await mined(quorums.getFunction('setQuorum')(0n, validators.map((v) => v.g1), stakes))
  const abis: InterfaceAbi[] = [loadArtifact('BatchSettlement').abi, harnessArtifact(MOCKS, 'TestQuorumRegistry').abi, loadArtifact('VerimeshToken').abi]
  const errors = new Interface(abis.flatMap((a) => (a as Array<{ type: string }>).filter((f) => f.type === 'error')))
  return {
    chain,
    provider,
    wallets,
    owner,
    treasury,
    token,
    params,
    clock,
    quorums,
    settlement,
    validators,
    stakes,
    chainId: BigInt(chain.chainId),
    errors,
    stop: async () => { provider.destroy(); await chain.stop() }
  }
}

/** The aggregate signature of `signers` (indices into env.validators) over `digest`; the rest are non-signers. */
export function quorumSig (env: SettlementEnv, digest: string, signers: number[]): QuorumSigArg {
  const inQ = new Set(signers)
  const nonSigners = env.validators.filter((_, i) => !inQ.has(i)).map((v) => v.g1)
  const s = signers.map((i) => env.validators[i]!)
  return {
    nonSignerPks: sortByPkHash(nonSigners),
    apkG2: aggregateG2(s.map((v) => v.g2)),
    sigma: aggregateG1(s.map((v) => sign(v.secretKey, digest)))
  }
}

export async function build (env: SettlementEnv, receipts: BatchReceipt[], opts: { epoch?: bigint, batchId?: bigint } = {}): Promise<Batch> {
  const [operatorBps, validatorBps, treasuryBps] = await env.params.getFunction('feeSplit')() as [bigint, bigint, bigint]
  const split: FeeSplit = { operatorBps: Number(operatorBps), validatorBps: Number(validatorBps), treasuryBps: Number(treasuryBps) }
  return buildBatch({
    batchId: opts.batchId ?? await env.settlement.getFunction('nextBatchId')() as bigint,
    epoch: opts.epoch ?? 0n,
    chainId: env.chainId,
    settlement: await env.settlement.getAddress(),
    receipts,
    split
  })
}

export function headerArg (b: Batch): unknown[] {
  return [b.header.epoch, b.header.receiptsRoot, b.header.receiptCount, b.header.payoutsRoot]
}

export function debitsArg (b: Batch): unknown[] {
  return b.debits.map((d) => [d.client, d.amount])
}

export function sigArg (s: QuorumSigArg): unknown[] {
  return [s.nonSignerPks, s.apkG2, s.sigma]
}

/** Settle `b` signed by `signers` (default: all validators). */
export async function settle (env: SettlementEnv, b: Batch, signers?: number[], from?: Wallet): Promise<TransactionReceipt> {
  const sig = quorumSig(env, b.digest, signers ?? env.validators.map((_, i) => i))
  const s = from === undefined ? env.settlement : env.settlement.connect(from) as Contract
  return mined(s.getFunction('settleBatch')(headerArg(b), debitsArg(b), sigArg(sig)))
}

/** The custom error a rejected call reverted with (any contract of the env), or undefined. */
export function revertName (env: SettlementEnv, err: unknown): string | undefined {
  const e = err as { revert?: { name?: string }, data?: string, info?: { error?: { data?: string } }, error?: { data?: string } }
  if (e?.revert?.name !== undefined) return e.revert.name
  const data = [e?.data, e?.info?.error?.data, e?.error?.data].find((d) => typeof d === 'string' && d.length >= 10)
  if (data === undefined) return undefined
  return env.errors.parseError(data)?.name
}

/**
 * Move the head block's timestamp exactly `seconds` past the current head. Under a burst
 * of transactions the embedded chain's clock runs ahead of the wall clock (each block is
 * at least parent + 1), so one evm_increaseTime can fall short; close the gap until the
 * head reaches the target.
 */
export async function timeTravel (env: SettlementEnv, seconds: number | bigint): Promise<void> {
  const head = async (): Promise<bigint> => BigInt((await env.provider.getBlock('latest'))!.timestamp)
  const target = await head() + BigInt(seconds)
  for (let now = await head(); now < target; now = await head()) {
    await env.provider.send('evm_increaseTime', [Number(target - now)])
    await env.provider.send('hardhat_mine', ['0x1'])
  }
}

let seq = 0
/** A receipt with distinct, valid fields. */
export function receipt (client: string, fee: bigint, operators: string[], validators: string[], over: Partial<BatchReceipt> = {}): BatchReceipt {
  const n = ++seq
  const h = (tag: number): string => '0x' + (BigInt(n) * 1000n + BigInt(tag)).toString(16).padStart(64, '0')
  return {
    requestId: h(1),
    modelRoot: h(2),
    client,
    executor: operators[0]!,
    fee,
    outputHash: h(3),
    traceRoot: h(4),
    steps: 8,
    proofStatement: 0n,
    operators,
    validators,
    ...over
  }
}
