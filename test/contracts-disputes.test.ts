// The dispute game (contracts/Disputes.sol) on the embedded chain with real tile_4x16
// proofs from the native prover: an honest executor beats a dishonest challenger by
// proving the step the bisection lands on; a dishonest executor (one wrong step output)
// cannot prove that step, times out and is slashed, and its batch is voided; every
// refusal is asserted by its custom error. Tests (a)–(c) use the stand-ins of
// contracts/test/DisputesHarness.sol for settlement and registries (batches set directly,
// to reach every branch); (d) plays on the real protocol from deployProtocol +
// disputesStep: a quorum-signed BatchSettlement batch, NodeRegistry stake, ModelRegistry
// tile root, both sides through DisputeClient. The layer, the prover and the real
// protocol's setting come from bench/chain/dispute-fixture.ts, which the chain bench's
// dispute rows share.
import test, { type ExecutionContext } from 'ava'
import { Contract, ContractFactory, Wallet, ZeroHash, id, type ContractTransactionResponse, type JsonRpcProvider, type TransactionRequest } from 'ethers'

import {
  DEFAULT_STEPS, DISPUTE_MODEL_ROOT, E18, corruptStep, deployDisputeProtocol, depositFor, disputeReceipt, fundBond, loadTileProver,
  settleReceipts, tileLayer, warp as warpChain, type StepCalldata, type TileProver
} from '../bench/chain/dispute-fixture.js'
import { releaseSnarkjsCurve } from '../circuits/snarkjs.js'
import { computeWitness } from '../circuits/witness.js'
import { loadArtifact } from '../runtime/chain/contracts.js'
import {
  buildTrace, challengerAgrees, defenderMove, firstDivergence, tileProof, traceNext, traceStart,
  type ExecutionTrace, type TileStepRecord, type TileTree
} from '../runtime/chain/dispute-trace.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { compileVerifier } from '../runtime/chain/groth16-verifier.js'
import { receiptTree, type ReceiptFields } from '../runtime/chain/merkle.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { decodeRevert } from '../runtime/chain/revert.js'
import { DisputeClient } from '../runtime/chain/dispute-client.js'
import { harnessArtifact } from '../runtime/chain/solc-harness.js'
import type { ContractArtifact } from '../runtime/chain/contracts.js'

const STEPS = DEFAULT_STEPS
const STAKE = 10_000n * E18
const MODEL_ROOT = DISPUTE_MODEL_ROOT
const Status = { None: 0n, Open: 1n, DefenderWon: 2n, ChallengerWon: 3n }
const Batch = { None: 0, Pending: 1, Frozen: 2, Final: 3, Voided: 4 }

interface Env {
  chain: EmbeddedChain
  provider: JsonRpcProvider
  gov: Wallet
  executor: Wallet
  challenger: Wallet
  other: Wallet
  treasury: string
  token: Contract
  params: Contract
  settlement: Contract
  registry: Contract
  models: Contract
  disputes: Contract
  verifier: string
  tile: TileProver
  records: TileStepRecord[]
  tree: TileTree
  honest: ExecutionTrace
}

let env: Env
const gas: Record<string, bigint[]> = {}

/**
 * A wallet whose gas estimates get 25 % headroom. Every move rewrites the game's deadline
 * (block.timestamp + window): estimated on the latest block, that store is a no-op when the
 * timestamp is unchanged, mined in the next block it is a real write (~2.8 k more), so the
 * bare estimate runs out of gas. Wallets that play disputes need the margin on any chain.
 */
class PaddedWallet extends Wallet {
  override async estimateGas (tx: TransactionRequest): Promise<bigint> {
    return (await super.estimateGas(tx)) * 5n / 4n
  }
}

async function deploy (artifact: ContractArtifact, signer: Wallet, ...args: unknown[]): Promise<Contract> {
  const c = await new ContractFactory(artifact.abi, artifact.bytecode, signer).deploy(...args)
  await c.waitForDeployment()
  return c as Contract
}

async function send (p: Promise<ContractTransactionResponse>, move?: string): Promise<bigint> {
  const tx = await p
  const r = await tx.wait().catch((err: unknown) => {
    const rc = (err as { receipt?: { gasUsed: bigint } }).receipt
    throw new Error(`${move ?? 'transaction'} reverted when mined (gas limit ${tx.gasLimit}, used ${String(rc?.gasUsed)})`, { cause: err })
  })
  if (r === null || r.status !== 1) throw new Error('transaction failed')
  if (move !== undefined) (gas[move] ??= []).push(r.gasUsed)
  return r.gasUsed
}

/** The call must revert with custom error `name` (decoded from the artifacts in dist/contracts). */
async function reverts (t: ExecutionContext, p: Promise<unknown>, name: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(decodeRevert(err)?.name, name, `expected ${name}, got ${decodeRevert(err)?.name ?? String(err?.message)}`)
}

async function now (): Promise<number> {
  const b = await env.provider.getBlock('latest')
  return b!.timestamp
}

async function warp (seconds: number): Promise<void> {
  await warpChain(env.provider, seconds)
}

function as (c: Contract, w: Wallet): Contract {
  return c.connect(w) as Contract
}

const corrupt = corruptStep

function receipt (trace: ExecutionTrace, requestId: string, executor: string, client: string, steps = STEPS): ReceiptFields {
  return disputeReceipt(trace, requestId, executor, client, steps)
}

function tuple (r: ReceiptFields): unknown[] {
  return [r.requestId, r.modelRoot, r.client, r.executor, r.fee, r.outputHash, r.traceRoot, r.steps, r.proofStatement]
}

/** A batch of `receipts` set on the stand-in settlement; returns each receipt's proof. */
async function settle (batchId: number, receipts: ReceiptFields[], opts: { deadlineIn?: number, status?: number } = {}): Promise<string[][]> {
  const tree = receiptTree(receipts)
  await send(as(env.settlement, env.gov).getFunction('setBatch')(batchId, tree.root, (await now()) + (opts.deadlineIn ?? 3600), opts.status ?? Batch.Pending))
  return receipts.map((_, i) => tree.getProof(i))
}

async function disputeOf (disputeId: bigint): Promise<{ lo: number, hi: number, turn: number, status: bigint, deadline: bigint, hLo: string, hHi: string }> {
  const d = await env.disputes.getFunction('disputeOf')(disputeId)
  return { lo: Number(d.lo), hi: Number(d.hi), turn: Number(d.turn), status: BigInt(d.status), deadline: BigInt(d.deadline), hLo: d.hLo, hHi: d.hHi }
}

async function open (batchId: number, r: ReceiptFields, proof: string[], challengerRoot: string, who: Wallet = env.challenger): Promise<bigint> {
  const before = await env.disputes.getFunction('disputeCount')()
  await send(as(env.disputes, who).getFunction('openDispute')(batchId, tuple(r), proof, challengerRoot), 'openDispute')
  return BigInt(before) + 1n
}

/** Bisection until one step is left, each side playing from its own trace. */
async function bisectToOneStep (disputeId: bigint, defender: ExecutionTrace, challenger: ExecutionTrace): Promise<number> {
  for (;;) {
    const d = await disputeOf(disputeId)
    const move = defenderMove(defender, d)
    if (move.kind === 'prove') return move.step
    await send(as(env.disputes, env.executor).getFunction('bisect')(disputeId, move.hMid), 'bisect')
    await send(as(env.disputes, env.challenger).getFunction('respond')(disputeId, challengerAgrees(challenger, move.mid, move.hMid)), 'respond')
  }
}

async function proofOf (trace: ExecutionTrace, step: number): Promise<StepCalldata> {
  return await env.tile.calldata(trace.steps[step]!)
}

async function balance (addr: string): Promise<bigint> {
  return BigInt(await env.token.getFunction('balanceOf')(addr))
}

test.before(async (t) => {
  t.timeout(20 * 60_000)
  const tile = await loadTileProver({ log: (l) => t.log(l) })

  const chain = await startEmbeddedChain({ accounts: 5 })
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  const [gov, executor, challenger, other, treasuryW] = chain.accounts.map((a) => new PaddedWallet((a as { privateKey: string }).privateKey, provider)) as [Wallet, Wallet, Wallet, Wallet, Wallet]
  const token = await deploy(loadArtifact('VerimeshToken'), gov, 'Verimesh', 'VMSH', gov.address, 1_000_000n * E18)
  const params = await deploy(loadArtifact('ProtocolParams'), gov, gov.address, treasuryW.address)
  const h = 'test/DisputesHarness.sol'
  const settlement = await deploy(harnessArtifact(h, 'TestDisputeSettlement'), gov)
  const registry = await deploy(harnessArtifact(h, 'TestDisputeRegistry'), gov, await token.getAddress(), await params.getAddress())
  const models = await deploy(harnessArtifact(h, 'TestDisputeModels'), gov)
  const verifierC = await deploy(compileVerifier(tile.circuit.verifierPath), gov)
  const verifier = await verifierC.getAddress()
  const disputes = await deploy(loadArtifact('Disputes'), gov, await token.getAddress(), await params.getAddress(),
    await registry.getAddress(), await models.getAddress(), await settlement.getAddress(), verifier, gov.address)
  const disputesAddr = await disputes.getAddress()

  // Eight random 4×16 tile steps of one "model"; its tile tree is registered.
  const { records, tree } = tileLayer({ steps: STEPS })
  const honest = buildTrace(id('request 1'), MODEL_ROOT, records)
  env = { chain, provider, gov, executor, challenger, other, treasury: treasuryW.address, token, params, settlement, registry, models, disputes, verifier, tile, records, tree, honest }

  await send(as(settlement, gov).getFunction('setDisputes')(disputesAddr))
  await send(as(registry, gov).getFunction('setSlasher')(disputesAddr))
  await send(as(models, gov).getFunction('setTileRoot')(MODEL_ROOT, tree.root))
  await send(as(token, gov).getFunction('approve')(await registry.getAddress(), STAKE))
  await send(as(registry, gov).getFunction('addStake')(executor.address, STAKE))
  for (const w of [challenger, other]) {
    await send(as(token, gov).getFunction('transfer')(w.address, 1_000n * E18))
    await send(as(token, w).getFunction('approve')(disputesAddr, 1_000n * E18))
  }
})

test.after.always(async () => {
  env?.tile.close()
  env?.provider.destroy()
  await env?.chain.stop()
  await releaseSnarkjsCurve()
})

test.serial('the trace helpers hash as the contract does', async (t) => {
  const { honest, disputes } = env
  t.is(honest.hashes.length, STEPS + 1)
  t.is(await disputes.getFunction('traceStart')(honest.requestId, MODEL_ROOT), traceStart(honest.requestId, MODEL_ROOT))
  t.is(await disputes.getFunction('traceNext')(honest.hashes[3]!, 3, honest.statements[3]!), honest.hashes[4])
  t.is(traceNext(honest.hashes[3]!, 3, honest.statements[3]!), honest.hashes[4])
  t.is(firstDivergence(honest, buildTrace(honest.requestId, MODEL_ROOT, corrupt(env.records, 6))), 6)
  t.is(firstDivergence(honest, honest), -1)
})

test.serial('(a) honest executor, dishonest challenger: bisection lands on the step, the defender proves it and takes the bond', async (t) => {
  const { honest, executor, challenger, disputes, settlement, treasury } = env
  const requestId = honest.requestId
  const r = receipt(honest, requestId, executor.address, env.other.address)
  const [proof] = await settle(1, [r, receipt(honest, id('another request'), executor.address, env.other.address)])
  // The challenger claims step 5 came out differently.
  const wrong = buildTrace(requestId, MODEL_ROOT, corrupt(env.records, 5))
  const bond = BigInt(await env.params.getFunction('disputeBond')())
  const [c0, d0, t0] = [await balance(challenger.address), await balance(executor.address), await balance(treasury)]

  const disputeId = await open(1, r, proof!, wrong.root)
  t.is(Number((await settlement.getFunction('batches')(1)).status), Batch.Frozen)
  t.is(await balance(challenger.address), c0 - bond)
  const start = await disputeOf(disputeId)
  t.deepEqual([start.lo, start.hi, start.hLo, start.hHi], [0, STEPS, honest.hashes[0], honest.root])

  const step = await bisectToOneStep(disputeId, honest, wrong)
  t.is(step, 5, 'the game ends where the traces part')
  const d = await disputeOf(disputeId)
  t.deepEqual([d.lo, d.hi, d.hLo, d.hHi], [5, 6, honest.hashes[5], honest.hashes[6]])

  // One step left: no more bisection, and the challenger has nothing to answer.
  await reverts(t, as(disputes, executor).getFunction('bisect')(disputeId, ZeroHash), 'BisectionOver')
  await reverts(t, as(disputes, challenger).getFunction('respond')(disputeId, true), 'NotYourTurn')
  const p = await proofOf(honest, 5)
  const s = honest.steps[5]!
  t.deepEqual(p.publicSignals, [s.statement.toString(), s.commitments.weights.toString()])
  const leafProof = tileProof(env.tree, 5)
  // Weights that are not step 5's registered ones, or a proof of them from another step.
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights + 1n, leafProof, p.a, p.b, p.c), 'WeightsNotRegistered')
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, tileProof(env.tree, 4), p.a, p.b, p.c), 'WeightsNotRegistered')
  // Only the defender proves.
  await reverts(t, as(disputes, challenger).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, p.a, p.b, p.c), 'NotYourTurn')
  // A tampered proof does not verify.
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, [p.a[1], p.a[0]], p.b, p.c), 'InvalidStepProof')

  // The verifier alone (a transaction's gas, 21 k intrinsic included), two public signals.
  const verifier = new Contract(env.verifier, compileVerifier(env.tile.circuit.verifierPath).abi, executor)
  // Sent as a transaction (a view function may be), so this is gas used, not an estimate.
  const verifyGas = await send(verifier.getFunction('verifyProof').send(p.a, p.b, p.c, [s.statement, s.commitments.weights]), 'verifyProof (tile, 2 public signals)')
  t.true(verifyGas <= 230_000n, `verifyProof gas ${verifyGas} within the issue's 230 k`)
  await send(as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, p.a, p.b, p.c), 'proveStep')
  const end = await disputeOf(disputeId)
  t.is(end.status, Status.DefenderWon)
  t.is(await balance(executor.address), d0 + bond / 2n, 'half the bond to the defender')
  t.is(await balance(treasury), t0 + bond / 2n, 'half to the treasury')
  t.is(await balance(challenger.address), c0 - bond)
  t.is(BigInt(await env.registry.getFunction('slashableStakeOf')(executor.address)), STAKE, 'nothing slashed')
  t.is(Number((await settlement.getFunction('batches')(1)).status), Batch.Pending, 'unfrozen')
  t.is(BigInt(await settlement.getFunction('unfreezes')()), 1n)
  t.is(BigInt(await settlement.getFunction('voids')()), 0n)
  // Closed: no more moves, and the receipt can be challenged again by someone else.
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, p.a, p.b, p.c), 'DisputeClosed')
  await reverts(t, disputes.getFunction('timeout')(disputeId), 'DisputeClosed')
})

test.serial('(b) dishonest executor: the wrong step cannot be proven, the defender times out, is slashed and the batch voided', async (t) => {
  const { honest, executor, challenger, disputes, settlement, registry } = env
  const requestId = id('request 2')
  const lying = buildTrace(requestId, MODEL_ROOT, corrupt(env.records, 3))
  const truth = buildTrace(requestId, MODEL_ROOT, env.records)
  t.not(lying.root, truth.root)
  const r = receipt(lying, requestId, executor.address, env.other.address)
  const [proof] = await settle(2, [r, receipt(honest, id('request 1b'), executor.address, env.other.address)])
  const bond = BigInt(await env.params.getFunction('disputeBond')())
  const c0 = await balance(challenger.address)
  const t0 = await balance(env.treasury)

  const disputeId = await open(2, r, proof!, truth.root)
  const step = await bisectToOneStep(disputeId, lying, truth)
  t.is(step, 3)
  const d = await disputeOf(disputeId)
  t.deepEqual([d.hLo, d.hHi], [truth.hashes[3], lying.hashes[4]], 'agreed up to step 3, the defender\'s claim after it')

  // The wrong output has no witness, so no proof of the statement the defender committed to …
  await t.throwsAsync(computeWitness(env.tile.circuit, lying.steps[3]!.input), { message: /Assert Failed/ })
  // … a proof of the true step does not chain to the defender's hash …
  const p = await proofOf(truth, 3)
  const s = truth.steps[3]!
  const leafProof = tileProof(env.tree, 3)
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, p.a, p.b, p.c), 'WrongStepHash')
  // … and the defender's (forged) statement with that proof does not verify.
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, lying.statements[3]!, s.commitments.weights, leafProof, p.a, p.b, p.c), 'InvalidStepProof')

  await reverts(t, disputes.getFunction('timeout')(disputeId), 'DeadlineNotReached')
  await warp(3601)
  await reverts(t, as(disputes, executor).getFunction('proveStep')(disputeId, s.statement, s.commitments.weights, leafProof, p.a, p.b, p.c), 'DeadlinePassed')
  const slashBps = BigInt(await env.params.getFunction('slashBps')())
  const rewardBps = BigInt(await env.params.getFunction('challengerRewardBps')())
  const stake = BigInt(await registry.getFunction('slashableStakeOf')(executor.address))
  await send(as(disputes, challenger).getFunction('timeout')(disputeId), 'timeout (defender slashed)')

  const slashed = stake * slashBps / 10_000n
  const reward = slashed * rewardBps / 10_000n
  t.is((await disputeOf(disputeId)).status, Status.ChallengerWon)
  t.is(BigInt(await registry.getFunction('slashableStakeOf')(executor.address)), stake - slashed)
  t.is(await balance(challenger.address), c0 + reward, 'bond back plus the reward')
  t.is(await balance(env.treasury), t0 + slashed - reward)
  t.is(Number((await settlement.getFunction('batches')(2)).status), Batch.Voided)
  t.is(BigInt(await settlement.getFunction('voids')()), 1n)
  // A voided batch cannot be challenged again.
  await reverts(t, open(2, r, proof!, truth.root, env.other), 'BatchNotChallengeable')
})

test.serial('a challenger that stops answering loses its bond to the defender', async (t) => {
  const { honest, executor, challenger, disputes } = env
  const r = receipt(honest, honest.requestId, executor.address, env.other.address)
  const [proof] = await settle(3, [r])
  const disputeId = await open(3, r, proof!, id('anything else'))
  const move = defenderMove(honest, await disputeOf(disputeId))
  if (move.kind !== 'bisect') return t.fail('8 steps start with a bisection')
  await reverts(t, as(disputes, challenger).getFunction('bisect')(disputeId, move.hMid), 'NotYourTurn')
  await send(as(disputes, executor).getFunction('bisect')(disputeId, move.hMid))
  await reverts(t, as(disputes, executor).getFunction('bisect')(disputeId, move.hMid), 'NotYourTurn')
  await reverts(t, as(disputes, executor).getFunction('respond')(disputeId, true), 'NotYourTurn')
  await reverts(t, disputes.getFunction('timeout')(disputeId), 'DeadlineNotReached')
  await warp(3601)
  await reverts(t, as(disputes, challenger).getFunction('respond')(disputeId, true), 'DeadlinePassed')
  const d0 = await balance(executor.address)
  await send(as(disputes, env.other).getFunction('timeout')(disputeId), 'timeout (challenger)')
  const bond = BigInt(await env.params.getFunction('disputeBond')())
  t.is((await disputeOf(disputeId)).status, Status.DefenderWon)
  t.is(await balance(executor.address), d0 + bond / 2n)
  t.is(Number((await env.settlement.getFunction('batches')(3)).status), Batch.Pending)
})

test.serial('(c) openDispute refusals, one-step receipts and governance', async (t) => {
  const { honest, executor, challenger, other, disputes, gov } = env
  const r = receipt(honest, id('request 4'), executor.address, other.address)
  const zero = receipt(honest, id('request 5'), executor.address, other.address, 0)
  const one = receipt(buildTrace(id('request 6'), MODEL_ROOT, env.records.slice(0, 1)), id('request 6'), executor.address, other.address, 1)
  const [proof, zeroProof, oneProof] = await settle(4, [r, zero, one])
  await settle(5, [r], { deadlineIn: -10 })
  await settle(6, [r], { status: Batch.Final })
  const c = as(disputes, challenger)
  const other1 = id('other root')

  await reverts(t, c.getFunction('openDispute')(5, tuple(r), proof!, other1), 'ChallengeWindowClosed')
  await reverts(t, c.getFunction('openDispute')(6, tuple(r), proof!, other1), 'BatchNotChallengeable')
  await reverts(t, c.getFunction('openDispute')(99, tuple(r), proof!, other1), 'BatchNotChallengeable')
  await reverts(t, c.getFunction('openDispute')(4, tuple({ ...r, fee: r.fee + 1n }), proof!, other1), 'ReceiptNotInBatch')
  await reverts(t, c.getFunction('openDispute')(4, tuple(r), zeroProof!, other1), 'ReceiptNotInBatch')
  await reverts(t, c.getFunction('openDispute')(4, tuple(r), proof!, r.traceRoot), 'RootNotDisputed')
  await reverts(t, c.getFunction('openDispute')(4, tuple(zero), zeroProof!, other1), 'NoSteps')
  await reverts(t, as(disputes, executor).getFunction('openDispute')(4, tuple(r), proof!, other1), 'SelfChallenge')
  // A model with no registered tile tree: no step could ever be proven, so no game.
  const untiled = { ...receipt(honest, id('request 7'), executor.address, other.address), modelRoot: id('a model without tiles') }
  const [untiledProof] = await settle(7, [untiled])
  await reverts(t, c.getFunction('openDispute')(7, tuple(untiled), untiledProof!, other1), 'ModelNotDisputable')
  // No bond approved: SafeERC20 surfaces the token's own error.
  await send(as(env.token, other).getFunction('approve')(await disputes.getAddress(), 0))
  await reverts(t, as(disputes, other).getFunction('openDispute')(4, tuple(r), proof!, other1), 'ERC20InsufficientAllowance')
  await send(as(env.token, other).getFunction('approve')(await disputes.getAddress(), 1_000n * E18))

  const first = await open(4, r, proof!, other1)
  await reverts(t, c.getFunction('openDispute')(4, tuple(r), proof!, other1), 'DisputeAlreadyOpen')
  // Another challenger plays its own game on the same receipt.
  const second = await open(4, r, proof!, other1, other)
  t.is(second, first + 1n)
  t.is(Number((await env.settlement.getFunction('batches')(4)).open), 2)

  await reverts(t, disputes.getFunction('timeout')(12345), 'UnknownDispute')
  await reverts(t, as(disputes, executor).getFunction('proveStep')(first, 1n, 1n, [], [0, 0], [[0, 0], [0, 0]], [0, 0]), 'BisectionNotOver')

  // A one-step receipt goes straight to the proof.
  const oneGame = await open(4, one, oneProof!, other1)
  await reverts(t, as(disputes, executor).getFunction('bisect')(oneGame, ZeroHash), 'BisectionOver')
  t.deepEqual(await disputeOf(oneGame).then((d) => [d.lo, d.hi]), [0, 1])

  // Governance rotates the verifier; nobody else can.
  await reverts(t, as(disputes, challenger).getFunction('setTileVerifier')(other.address), 'OwnableUnauthorizedAccount')
  await reverts(t, as(disputes, gov).getFunction('setTileVerifier')('0x' + '00'.repeat(20)), 'ZeroAddress')
  await send(as(disputes, gov).getFunction('setTileVerifier')(env.verifier))
  t.is(await disputes.getFunction('tileVerifier')(), env.verifier)
})

test.serial('(d) the real protocol (deployProtocol + disputesStep, DisputeClient on both sides): a dishonest challenger loses its bond, a dishonest executor is slashed in NodeRegistry and its batch voided in BatchSettlement, the client refunded', async (t) => {
  const { gov, executor, challenger, other: client } = env
  // Protocol, staked validator (the epoch's quorum) and executor, the model with its tile tree.
  const proto = await deployDisputeProtocol({ gov, executor, verifier: env.verifier, tileRoot: env.tree.root })
  const { addresses: addrs, token, params, nodes, models, settlement } = proto
  t.is(await settlement.getFunction('disputes')(), addrs.disputes)
  t.true(await nodes.getFunction('isSlasher')(addrs.disputes))
  t.is(await models.getFunction('tileRootOf')(MODEL_ROOT), env.tree.root)
  const bal = async (a: string): Promise<bigint> => BigInt(await token.getFunction('balanceOf')(a))
  // The client's deposit pays the batch.
  await depositFor(proto, client, 10n * E18)

  // A batch with the executor's wrong receipt (step 6 of its trace is wrong), signed by the quorum.
  const requestId = id('request real')
  const lying = buildTrace(requestId, MODEL_ROOT, corrupt(env.records, 6))
  const truth = buildTrace(requestId, MODEL_ROOT, env.records)
  const r = receipt(lying, requestId, executor.address, client.address)
  // … and one right receipt, which a dishonest challenger disputes first.
  const honest = buildTrace(id('request real ok'), MODEL_ROOT, env.records)
  const good = receipt(honest, honest.requestId, executor.address, client.address)
  const { batch, proofOf: proofOfReceipt } = await settleReceipts(proto, [r, good])
  const deposit = BigInt(await settlement.getFunction('depositOf')(client.address))
  t.is(deposit, 10n * E18 - r.fee - good.fee)

  await fundBond(proto, challenger, 1_000n * E18)
  const c0 = await bal(challenger.address)
  // Both sides play through DisputeClient, each from its own trace.
  const asChallenger = await DisputeClient.connect(addrs.disputes, challenger, { pollIntervalMs: 20 })
  const asDefender = await DisputeClient.connect(addrs.disputes, executor, { pollIntervalMs: 20 })
  const prove = env.tile.prove
  // The dishonest challenger loses on the right receipt: the defender proves the step.
  const wrongClaim = buildTrace(honest.requestId, MODEL_ROOT, corrupt(env.records, 1))
  const game1 = (await asChallenger.open(batch.batchId, good, proofOfReceipt(good), wrongClaim.root)).disputeId
  let last: string | undefined
  for (let moves = 0; moves < 10 && last !== 'proven'; moves++) {
    last = (await asDefender.defend(game1, honest, env.tree, prove)).kind
    if (last === 'bisected') t.is((await asChallenger.challenge(game1, wrongClaim)).kind, 'responded')
  }
  t.is(last, 'proven')
  t.is((await asDefender.state(game1)).status, 2, 'DefenderWon')
  t.is((await asDefender.state(game1)).lo, 1)
  t.is(Number((await settlement.getFunction('batchInfo')(batch.batchId))[4]), Batch.Pending, 'unfrozen')
  t.is(BigInt(await settlement.getFunction('depositOf')(client.address)), deposit)

  const opened = await asChallenger.open(batch.batchId, r, proofOfReceipt(r), truth.root)
  ;(gas['openDispute (real settlement)'] ??= []).push(opened.tx.gasUsed)
  const disputeId = opened.disputeId
  t.is(Number((await settlement.getFunction('batchInfo')(batch.batchId))[4]), Batch.Frozen)
  t.is((await asChallenger.challenge(disputeId, truth)).kind, 'waiting', 'the defender moves first')
  for (let moves = 0; moves < 10; moves++) {
    const s = await asDefender.state(disputeId)
    if (s.hi - s.lo === 1) break
    t.is((await asDefender.defend(disputeId, lying, env.tree, prove)).kind, 'bisected')
    t.is((await asChallenger.challenge(disputeId, truth)).kind, 'responded')
  }
  const s = await asDefender.state(disputeId)
  t.deepEqual([s.lo, s.hi], [6, 7])
  // The defender's own step 6 has no witness: it cannot move.
  await t.throwsAsync(asDefender.defend(disputeId, lying, env.tree, prove), { message: /Assert Failed/ })
  const stake = BigInt(await nodes.getFunction('slashableStakeOf')(executor.address))
  await reverts(t, asChallenger.timeout(disputeId), 'DeadlineNotReached')
  await warp(3601)
  ;(gas['timeout (real registry and settlement)'] ??= []).push((await asChallenger.timeout(disputeId)).gasUsed)
  const slashed = stake * BigInt(await params.getFunction('slashBps')()) / 10_000n
  const reward = slashed * BigInt(await params.getFunction('challengerRewardBps')()) / 10_000n
  t.is(BigInt(await nodes.getFunction('slashableStakeOf')(executor.address)), stake - slashed)
  const bond = BigInt(await params.getFunction('disputeBond')())
  t.is(await bal(challenger.address), c0 - bond + reward, 'lost the first bond; the second back plus the registry\'s reward')
  t.is(Number((await settlement.getFunction('batchInfo')(batch.batchId))[4]), Batch.Voided)
  t.is(BigInt(await settlement.getFunction('depositOf')(client.address)), deposit + r.fee + good.fee, 'the client\'s debits refunded')
})

test.serial('gas per move (logged)', (t) => {
  for (const move of ['openDispute', 'bisect', 'respond', 'proveStep', 'timeout (defender slashed)', 'timeout (challenger)']) t.true((gas[move]?.length ?? 0) > 0, move)
  for (const [move, v] of Object.entries(gas)) {
    const sorted = [...v].sort((a, b) => (a < b ? -1 : 1))
    t.log(`${move}: ${v.length === 1 ? String(v[0]) : `${String(sorted[0])}–${String(sorted[sorted.length - 1])} (${v.length} calls)`}`)
  }
})
