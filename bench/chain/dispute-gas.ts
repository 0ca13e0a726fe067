// Gas of each move of the dispute game (contracts/Disputes.sol) on the real protocol:
// deployProtocol + disputesStep, a quorum-signed BatchSettlement batch, NodeRegistry stake,
// ModelRegistry tile root, both sides through DisputeClient, tile_4x16 proofs from the
// native prover (the setting of test/contracts-disputes.test.ts (d), from dispute-fixture.ts).
//
// Three games over 8-step receipts, each in a batch of two receipts:
//   A  a dishonest challenger (claims step 5 differs); bisection, the defender proves step 5
//   B  the challenger stops answering after the first bisection; timeout pays the defender
//   C  a dishonest executor (step 6 wrong); bisection, it cannot prove, timeout slashes it in
//      NodeRegistry and voids its batch in BatchSettlement
// A and B share the first batch; C gets a second one, settled after B's timeout moved the
// clock past the first batch's challenge window (both windows are an hour). Each game
// opens on a Pending batch (the game before it ended and unfroze it), so every
// openDispute pays the freeze. Rows are gasUsed of mined transactions.
import { Contract, Wallet, id } from 'ethers'

import { releaseSnarkjsCurve } from '../../circuits/snarkjs.js'
import { DisputeClient, type TileStepProver } from '../../runtime/chain/dispute-client.js'
import { startEmbeddedChain } from '../../runtime/chain/embedded-chain.js'
import { Groth16VerifierClient, compileVerifier, verifierCalldata } from '../../runtime/chain/groth16-verifier.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import type { ExecutionTrace } from '../../runtime/chain/dispute-trace.js'
import type { ReceiptFields } from '../../runtime/chain/merkle.js'
import { VerimeshError } from '../../runtime/errors.js'
import {
  DEFAULT_STEPS, E18, TILE_CIRCUIT, corruptStep, deployDisputeProtocol, depositFor, disputeReceipt, fundBond, loadTileProver,
  mined, settleReceipts, tileLayer, traceOf, warp, type SettledBatch, type TileProver
} from './dispute-fixture.js'

export interface DisputeGasRow {
  move: string
  /** gasUsed of the mined transaction(s), 21 k intrinsic and calldata included. */
  gas: number
  note: string
}

export interface DisputeGasOptions {
  log?: (m: string) => void
}

/** ISettlement.BatchStatus.Voided */
const BATCH_VOIDED = 4
const MINED = 'gasUsed of the mined transaction (21 k intrinsic + calldata included)'
const RANDOM_PROOF = 'the proof is randomised, so the row moves by a few dozen gas between runs'

function median (xs: readonly bigint[]): bigint {
  const s = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return s[Math.floor((s.length - 1) / 2)]!
}

function spread (xs: readonly bigint[]): string {
  const s = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (s[0] === s[s.length - 1]) return s.length === 1 ? 'one move' : `all ${s.length} moves the same`
  return `median of ${s.length} moves, ${s[0]!}–${s[s.length - 1]!}`
}

export async function measureDisputeGas (opts: DisputeGasOptions = {}): Promise<DisputeGasRow[]> {
  const log = opts.log ?? (() => {})
  let tile: TileProver | undefined
  const chain = await startEmbeddedChain({ accounts: 4 })
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  try {
    const prover = tile = await loadTileProver({ log })
    const [gov, executor, challenger, client] = chain.accounts.map((a) => new Wallet(a.privateKey, provider)) as [Wallet, Wallet, Wallet, Wallet]
    const verifier = await Groth16VerifierClient.deploy(compileVerifier(prover.circuit.verifierPath), gov, 2)
    const layer = tileLayer({ steps: DEFAULT_STEPS })
    const proto = await deployDisputeProtocol({ gov, executor, verifier: verifier.address, tileRoot: layer.tree.root })
    await depositFor(proto, client, 100n * E18)
    await fundBond(proto, challenger, 1_000n * E18)

    const receiptOf = (tr: ExecutionTrace): ReceiptFields => disputeReceipt(tr, tr.requestId, executor.address, client.address)
    const honestA = traceOf(id('bench dispute A'), layer.records)
    const honestB = traceOf(id('bench dispute B'), layer.records)
    const lyingC = traceOf(id('bench dispute C'), corruptStep(layer.records, 6))
    const [rA, rB, rC] = [receiptOf(honestA), receiptOf(honestB), receiptOf(lyingC)]
    const first = await settleReceipts(proto, [rA, rB])

    const asChallenger = await DisputeClient.connect(proto.addresses.disputes, challenger, { pollIntervalMs: 20 })
    const asDefender = await DisputeClient.connect(proto.addresses.disputes, executor, { pollIntervalMs: 20 })
    let lastProof: Parameters<typeof verifierCalldata> | undefined
    const prove: TileStepProver = async (input) => {
      const p = await prover.prove(input)
      lastProof = [p.proof, p.publicSignals]
      return p
    }
    const gas = { open: [] as bigint[], bisect: [] as bigint[], respond: [] as bigint[] }

    /** Bisect and respond until one step is left; the moves' gas. */
    const bisection = async (disputeId: bigint, defender: ExecutionTrace, challengerTrace: ExecutionTrace): Promise<bigint> => {
      let total = 0n
      for (let moves = 0; moves < 2 * DEFAULT_STEPS; moves++) {
        const s = await asDefender.state(disputeId)
        if (s.hi - s.lo === 1) return total
        const b = await asDefender.defend(disputeId, defender, layer.tree, prove)
        if (b.kind !== 'bisected') throw new VerimeshError('INTERNAL', `expected a bisection, the defender did '${b.kind}'`, { disputeId: String(disputeId) })
        const r = await asChallenger.challenge(disputeId, challengerTrace)
        if (r.kind !== 'responded') throw new VerimeshError('INTERNAL', `expected a response, the challenger did '${r.kind}'`, { disputeId: String(disputeId) })
        gas.bisect.push(b.tx.gasUsed); gas.respond.push(r.tx.gasUsed)
        total += b.tx.gasUsed + r.tx.gasUsed
      }
      throw new VerimeshError('INTERNAL', 'the bisection did not converge', { disputeId: String(disputeId) })
    }
    const open = async (settled: SettledBatch, r: ReceiptFields, claim: ExecutionTrace): Promise<{ id: bigint, gas: bigint }> => {
      const o = await asChallenger.open(settled.batch.batchId, r, settled.proofOf(r), claim.root)
      gas.open.push(o.tx.gasUsed)
      return { id: o.disputeId, gas: o.tx.gasUsed }
    }
    const pastDeadline = async (disputeId: bigint): Promise<void> => {
      const { deadline } = await asDefender.state(disputeId)
      const head = (await provider.getBlock('latest'))?.timestamp ?? 0
      await warp(provider, Math.max(1, Number(deadline) - head + 1))
    }

    // A: the defender proves the step the bisection lands on.
    const claimA = traceOf(rA.requestId, corruptStep(layer.records, 5))
    const gameA = await open(first, rA, claimA)
    const bisectA = await bisection(gameA.id, honestA, claimA)
    const proven = await asDefender.defend(gameA.id, honestA, layer.tree, prove)
    if (proven.kind !== 'proven') throw new VerimeshError('INTERNAL', `expected proveStep, the defender did '${proven.kind}'`)
    const proveGas = proven.tx.gasUsed
    const fullA = gameA.gas + bisectA + proveGas
    log(`disputes: game A (defender proves step ${proven.step}): open ${gameA.gas}, bisection ${bisectA}, proveStep ${proveGas}, total ${fullA}`)

    // The verifier alone, on the proof proveStep just carried; a transaction so gas is mined, not estimated.
    if (lastProof === undefined) throw new VerimeshError('INTERNAL', 'proveStep ran without a proof')
    const [a, b, c, signals] = verifierCalldata(...lastProof)
    const verifierC = new Contract(verifier.address, compileVerifier(prover.circuit.verifierPath).abi, gov)
    const verifyGas = await mined(verifierC.getFunction('verifyProof').send(a, b, c, signals), 'verifyProof')

    // B: the challenger never answers the first bisection.
    const gameB = await open(first, rB, traceOf(rB.requestId, corruptStep(layer.records, 2)))
    const onlyMove = await asDefender.defend(gameB.id, honestB, layer.tree, prove)
    if (onlyMove.kind !== 'bisected') throw new VerimeshError('INTERNAL', `expected a bisection, the defender did '${onlyMove.kind}'`)
    gas.bisect.push(onlyMove.tx.gasUsed)
    await pastDeadline(gameB.id)
    const challengerTimeout = (await asDefender.timeout(gameB.id)).gasUsed
    log(`disputes: game B (challenger silent): timeout ${challengerTimeout}`)

    // C: the executor's step 6 is wrong; it cannot prove it and is slashed.
    const truthC = traceOf(rC.requestId, layer.records)
    const second = await settleReceipts(proto, [rC, receiptOf(traceOf(id('bench dispute C, undisputed'), layer.records))])
    const gameC = await open(second, rC, truthC)
    const bisectC = await bisection(gameC.id, lyingC, truthC)
    const stakeBefore = BigInt(await proto.nodes.getFunction('slashableStakeOf')(executor.address))
    await pastDeadline(gameC.id)
    const slashTimeout = (await asChallenger.timeout(gameC.id)).gasUsed
    const stakeAfter = BigInt(await proto.nodes.getFunction('slashableStakeOf')(executor.address))
    const status = Number((await proto.settlement.getFunction('batchInfo')(second.batch.batchId))[4])
    if (stakeAfter >= stakeBefore || status !== BATCH_VOIDED) {
      throw new VerimeshError('INTERNAL', 'the defender\'s timeout neither slashed it nor voided the batch', { stakeBefore: String(stakeBefore), stakeAfter: String(stakeAfter), status })
    }
    const fullC = gameC.gas + bisectC + slashTimeout
    log(`disputes: game C (defender slashed): open ${gameC.gas}, bisection ${bisectC}, timeout ${slashTimeout}, total ${fullC}`)

    const n = Number
    const bisections = Math.log2(DEFAULT_STEPS)
    return [
      { move: 'openDispute', gas: n(gameA.gas), note: `${MINED}; real BatchSettlement: checks the receipt's Merkle proof (batch of 2), freezes the Pending batch, takes the bond; ${DEFAULT_STEPS}-step receipt; games A / B / C: ${gas.open.join(' / ')} (the row is A, the contract's first game, which also writes disputeCount from zero)` },
      { move: 'bisect', gas: n(median(gas.bisect)), note: `${MINED}; the defender's hash at mid; ${spread(gas.bisect)} over games A–C` },
      { move: 'respond', gas: n(median(gas.respond)), note: `${MINED}; the challenger agrees or not with the hash at mid; ${spread(gas.respond)} over games A and C` },
      { move: 'proveStep', gas: n(proveGas), note: `${MINED}; real ${TILE_CIRCUIT} Groth16 proof (native prover), tile-tree Merkle proof of the weights, verifier call, bond split, BatchSettlement unfreeze; ${RANDOM_PROOF}` },
      { move: 'timeout (defender slashed)', gas: n(slashTimeout), note: `${MINED}; NodeRegistry.slash (stake ${stakeBefore / E18} → ${stakeAfter / E18} tokens, reward to the challenger) + BatchSettlement.voidBatch (debits refunded), bond back` },
      { move: 'timeout (challenger)', gas: n(challengerTimeout), note: `${MINED}; the challenger let its deadline pass after the first bisection: bond split to the defender and treasury, batch unfrozen` },
      { move: `verifyProof (${TILE_CIRCUIT}, 2 public signals)`, gas: n(verifyGas), note: `${MINED}; the tile verifier alone, sent as a transaction, on the proof proveStep carried; ${RANDOM_PROOF}` },
      { move: `full game (${DEFAULT_STEPS}-step trace, defender proves)`, gas: n(fullA), note: `sum of gasUsed (21 k intrinsic per transaction included): openDispute + ${bisections} bisect + ${bisections} respond + proveStep; the game the defender loses (… + timeout, slashed): ${fullC}` }
    ]
  } finally {
    tile?.close()
    provider.destroy()
    await chain.stop()
    await releaseSnarkjsCurve().catch(() => undefined)
  }
}
