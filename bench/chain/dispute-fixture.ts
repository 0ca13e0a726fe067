// The dispute game's setting, shared by bench/chain/dispute-gas.ts and
// test/contracts-disputes.test.ts so the bench measures the games the test asserts:
//
//   tileLayer          a seeded random 4×16 layer of tile steps and its tile tree
//   loadTileProver     tile_4x16 (built when missing) and the addon's native ZkProver
//   deployDisputeProtocol   deployProtocol + disputesStep, a staked validator (BLS quorum
//                      of one) and executor, the epoch's quorum, the model with its tile root
//   settleReceipts     a quorum-signed BatchSettlement batch of receipts
//   depositFor / fundBond / warp
//
// It sits with the bench rather than in runtime/: it picks test values (seed, stakes,
// one-validator quorum) that no product path should inherit.
import { Contract, Wallet, id, type ContractTransactionResponse, type JsonRpcProvider, type TransactionResponse } from 'ethers'

import { buildCircuits } from '../../circuits/build.js'
import { loadCircuit, type LoadedCircuit } from '../../circuits/circuits.js'
import { randomTile, seededRandom } from '../../circuits/samples.js'
import { tileReference, type TileOutput, type TileProofInput } from '../../circuits/tile-encoding.js'
import { computeWitness } from '../../circuits/witness.js'
import { loadAddon, type ZkProver } from '../../runtime/addon.js'
import { buildBatch, type Batch } from '../../runtime/chain/batch.js'
import { loadArtifact } from '../../runtime/chain/contracts.js'
import { deployProtocol, type ProtocolAddresses } from '../../runtime/chain/deploy.js'
import type { TileStepProver } from '../../runtime/chain/dispute-client.js'
import { buildTrace, tileTreeOf, type ExecutionTrace, type TileStepRecord, type TileTree } from '../../runtime/chain/dispute-trace.js'
import { disputesStep } from '../../runtime/chain/disputes.js'
import { verifierCalldata, type VerifierCalldata } from '../../runtime/chain/groth16-verifier.js'
import type { ReceiptFields } from '../../runtime/chain/merkle.js'
import { blsKeyPair, proofOfPossession, sign, type BlsKeyPair } from '../../runtime/crypto/bls.js'
import { VerimeshError } from '../../runtime/errors.js'

export const TILE_CIRCUIT = 'tile_4x16'
export const E18 = 10n ** 18n
/** The model every fixture receipt is of; its tile tree is the layer's. */
export const DISPUTE_MODEL_ROOT = id('verimesh test model v1')
export const DEFAULT_STEPS = 8
export const DEFAULT_SEED = 55

// ---- the layer and its traces -----------------------------------------------------------

export interface TileLayer {
  readonly records: TileStepRecord[]
  /** Leaf i: [i, weights commitment of step i]; its root goes to the model registry. */
  readonly tree: TileTree
}

/** `steps` random 4×16 tile steps (bias, carried accumulator) from `seed`. */
export function tileLayer (opts: { seed?: number, steps?: number } = {}): TileLayer {
  const rand = seededRandom(opts.seed ?? DEFAULT_SEED)
  const records = Array.from({ length: opts.steps ?? DEFAULT_STEPS }, () => {
    const { w, x } = randomTile(rand, 4, 16, { bias: true, accIn: true })
    return { weights: w, input: x }
  })
  return { records, tree: tileTreeOf(records) }
}

/** The same steps with step `step`'s claimed output off by one in one value: a wrong execution. */
export function corruptStep (records: readonly TileStepRecord[], step: number): TileStepRecord[] {
  return records.map((r, i) => {
    if (i !== step) return r
    const out = tileReference(r.weights, r.input)
    const y = Int32Array.from(out.y); y[0] = y[0]! + 1
    return { ...r, output: { acc: out.acc, y } satisfies TileOutput }
  })
}

/** The trace of `records` for request `requestId` (a bytes32) of the fixture model. */
export function traceOf (requestId: string, records: readonly TileStepRecord[]): ExecutionTrace {
  return buildTrace(requestId, DISPUTE_MODEL_ROOT, records)
}

/** A receipt committing to `trace` (steps: its length unless given; fee 3 tokens). */
export function disputeReceipt (trace: ExecutionTrace, requestId: string, executor: string, client: string, steps = trace.statements.length): ReceiptFields {
  return { requestId, modelRoot: DISPUTE_MODEL_ROOT, client, executor, fee: 3n * E18, outputHash: id('output ' + requestId), traceRoot: trace.root, steps, proofStatement: 0n }
}

// ---- proving a tile step ----------------------------------------------------------------

export interface StepCalldata { a: VerifierCalldata[0], b: VerifierCalldata[1], c: VerifierCalldata[2], publicSignals: string[] }

export interface TileProver {
  readonly circuit: LoadedCircuit
  readonly prover: ZkProver
  /** For DisputeClient.defend. */
  readonly prove: TileStepProver
  /** A proof of `input` as Disputes.proveStep and the verifier take it. */
  calldata: (input: TileProofInput) => Promise<StepCalldata>
  close: () => void
}

/**
 * tile_4x16 and a native prover of it; builds the circuit first when it is not built (a
 * cached no-op otherwise). One thread per proof: the proofs are tiny and the machines shared.
 */
export async function loadTileProver (opts: { log?: (m: string) => void } = {}): Promise<TileProver> {
  await buildCircuits({ only: [TILE_CIRCUIT], ...(opts.log !== undefined ? { log: opts.log } : {}) })
  const circuit = await loadCircuit(TILE_CIRCUIT)
  const addon = loadAddon()
  if (addon.ZkProver === undefined) throw new VerimeshError('PROVER_UNAVAILABLE', 'the native addon was built without ZkProver', { circuit: TILE_CIRCUIT })
  const prover = await addon.ZkProver.load(circuit.zkeyPath)
  const prove: TileStepProver = async (input) => await prover.prove(await computeWitness(circuit, input.input), { threads: 1 })
  return {
    circuit,
    prover,
    prove,
    calldata: async (input) => {
      const { proof, publicSignals } = await prove(input)
      const [a, b, c] = verifierCalldata(proof, publicSignals)
      return { a, b, c, publicSignals: [...publicSignals] }
    },
    close: () => prover.close()
  }
}

// ---- the real protocol ------------------------------------------------------------------

/** Wait for a transaction and insist it succeeded. */
export async function mined (p: Promise<ContractTransactionResponse | TransactionResponse>, what = 'transaction'): Promise<bigint> {
  const tx = await p
  const r = await tx.wait()
  if (r === null || r.status !== 1) throw new VerimeshError('CHAIN_ERROR', `${what} failed`, { txHash: tx.hash })
  return r.gasUsed
}

export interface DisputeProtocol {
  readonly addresses: ProtocolAddresses & { settlement: string, disputes: string, quorumRegistry: string }
  /** Connected to the deployer (governance: 'deployer'). */
  readonly token: Contract
  readonly params: Contract
  readonly nodes: Contract
  readonly models: Contract
  readonly quorums: Contract
  readonly settlement: Contract
  readonly disputes: Contract
  readonly gov: Wallet
  /** The epoch's whole quorum: one staked validator with a BLS key. */
  readonly validator: Wallet
  readonly bls: BlsKeyPair
  readonly epoch: bigint
  readonly chainId: bigint
}

export interface DeployDisputeOptions {
  /** Deploys everything and owns it; holds the token supply. */
  gov: Wallet
  /** Registered as an operator and staked (minStake). */
  executor: Wallet
  /** The tile_4x16 Groth16 verifier the Disputes contract calls. */
  verifier: string
  /** Tile tree root registered for DISPUTE_MODEL_ROOT. */
  tileRoot: string
}

const Role = { Operator: 2, Validator: 8 } as const

/**
 * The protocol as production deploys it plus the dispute game, with one validator and the
 * executor staked, the current epoch's quorum committed and the fixture model registered.
 */
export async function deployDisputeProtocol (opts: DeployDisputeOptions): Promise<DisputeProtocol> {
  const { gov, executor } = opts
  const provider = gov.provider
  if (provider === null) throw new VerimeshError('CONFIG_INVALID', 'the deployer has no provider')
  const addresses = await deployProtocol(gov, { governance: 'deployer', extraSteps: [disputesStep(opts.verifier)] })
  const { settlement, disputes, quorumRegistry } = addresses
  if (settlement === undefined || disputes === undefined || quorumRegistry === undefined) {
    throw new VerimeshError('CHAIN_ERROR', 'deployProtocol left out settlement, quorum registry or disputes', { addresses })
  }
  const at = (address: string, name: string): Contract => new Contract(address, loadArtifact(name).abi, gov)
  const [token, params, nodes, models, quorums] = [at(addresses.token, 'VerimeshToken'), at(addresses.params, 'ProtocolParams'),
    at(addresses.nodeRegistry, 'NodeRegistry'), at(addresses.modelRegistry, 'ModelRegistry'), at(quorumRegistry, 'QuorumRegistry')]
  const { chainId } = await provider.getNetwork()
  const minStake = BigInt(await params.getFunction('minStake')())

  const validator = new Wallet(Wallet.createRandom().privateKey, provider)
  await mined(gov.sendTransaction({ to: validator.address, value: E18 }), 'funding the validator')
  const bls = blsKeyPair('disputes test validator')
  const zero2 = [0n, 0n]
  const nodesOf = [
    [validator, Role.Validator, [bls.g1, bls.g2, proofOfPossession(bls.secretKey, chainId, validator.address)]],
    [executor, Role.Operator, [zero2, [0n, 0n, 0n, 0n], zero2]]
  ] as const
  for (const [w, roles, keys] of nodesOf) {
    await mined((token.connect(gov) as Contract).getFunction('transfer')(w.address, minStake), 'stake transfer')
    await mined((token.connect(w) as Contract).getFunction('approve')(addresses.nodeRegistry, minStake), 'stake approval')
    await mined((nodes.connect(w) as Contract).getFunction('register')(id('peer ' + w.address), roles, ...keys), 'NodeRegistry.register')
    await mined((nodes.connect(w) as Contract).getFunction('stake')(minStake), 'NodeRegistry.stake')
  }
  const epoch = BigInt(await nodes.getFunction('currentEpoch')())
  await mined(quorums.getFunction('commitQuorum')(epoch), 'QuorumRegistry.commitQuorum')
  await mined(models.getFunction('registerModel')('disputes-test-model', DISPUTE_MODEL_ROOT, [id('shard 0')], opts.tileRoot, 0, ''), 'ModelRegistry.registerModel')
  return {
    addresses: { ...addresses, settlement, disputes, quorumRegistry },
    token,
    params,
    nodes,
    models,
    quorums,
    settlement: at(settlement, 'BatchSettlement'),
    disputes: at(disputes, 'Disputes'),
    gov,
    validator,
    bls,
    epoch,
    chainId
  }
}

/** `amount` tokens from governance to `client`, deposited in BatchSettlement to pay batches. */
export async function depositFor (p: DisputeProtocol, client: Wallet, amount: bigint): Promise<void> {
  await mined(p.token.getFunction('transfer')(client.address, amount), 'deposit transfer')
  await mined((p.token.connect(client) as Contract).getFunction('approve')(p.addresses.settlement, amount), 'deposit approval')
  await mined((p.settlement.connect(client) as Contract).getFunction('deposit')(amount), 'BatchSettlement.deposit')
}

/** `amount` tokens from governance to `challenger`, approved to Disputes for bonds. */
export async function fundBond (p: DisputeProtocol, challenger: Wallet, amount: bigint): Promise<void> {
  await mined(p.token.getFunction('transfer')(challenger.address, amount), 'bond transfer')
  await mined((p.token.connect(challenger) as Contract).getFunction('approve')(p.addresses.disputes, amount), 'bond approval')
}

export interface SettledBatch {
  readonly batch: Batch
  readonly gasUsed: bigint
  /** The receipt's Merkle proof in the batch (Disputes.openDispute's receiptProof). */
  proofOf: (r: ReceiptFields) => string[]
}

/**
 * Settle `receipts` as the next batch, signed by the epoch's quorum; each receipt's
 * executor is its only operator. The clients' deposits must cover the fees.
 */
export async function settleReceipts (p: DisputeProtocol, receipts: readonly ReceiptFields[]): Promise<SettledBatch> {
  const [operatorBps, validatorBps, treasuryBps] = (await p.params.getFunction('feeSplit')()) as [bigint, bigint, bigint]
  const batch = buildBatch({
    batchId: BigInt(await p.settlement.getFunction('nextBatchId')()),
    epoch: p.epoch,
    chainId: p.chainId,
    settlement: p.addresses.settlement,
    receipts: receipts.map((r) => ({ ...r, operators: [r.executor], validators: [p.validator.address] })),
    split: { operatorBps: Number(operatorBps), validatorBps: Number(validatorBps), treasuryBps: Number(treasuryBps) }
  })
  const h = batch.header
  const gasUsed = await mined(p.settlement.getFunction('settleBatch')([h.epoch, h.receiptsRoot, h.receiptCount, h.payoutsRoot],
    batch.debits.map((d) => [d.client, d.amount]), [[], p.bls.g2, sign(p.bls.secretKey, batch.digest)]), 'BatchSettlement.settleBatch')
  const proofOf = (r: ReceiptFields): string[] => {
    const i = batch.receipts.findIndex((x) => x.requestId === r.requestId)
    if (i < 0) throw new VerimeshError('RECEIPT_INVALID', `request ${r.requestId} is not in batch ${batch.batchId}`, { requestId: r.requestId })
    return batch.receiptProof(i)
  }
  return { batch, gasUsed, proofOf }
}

// ---- time -------------------------------------------------------------------------------

async function head (provider: JsonRpcProvider): Promise<number> {
  const b = await provider.getBlock('latest')
  if (b === null) throw new VerimeshError('CHAIN_ERROR', 'no latest block')
  return b.timestamp
}

/** Mine a block at least `seconds` after the latest one. The chain's clock is the wall clock
 *  plus the offsets, but a burst of blocks runs ahead of it (timestamps strictly increase),
 *  so one evm_increaseTime may land short of the head plus `seconds`. */
export async function warp (provider: JsonRpcProvider, seconds: number): Promise<void> {
  const target = (await head(provider)) + seconds
  for (let step = seconds; ; step = target - (await head(provider))) {
    await provider.send('evm_increaseTime', [step])
    await provider.send('hardhat_mine', ['0x1'])
    if (await head(provider) >= target) return
  }
}
