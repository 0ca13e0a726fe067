// One party's side of the dispute game (contracts/Disputes.sol): open a game, read its
// state, make this party's next move from its own trace (dispute-trace.ts), or end a game
// whose other side let its deadline pass. Transactions go through TxSender, whose gas
// headroom matters here: every move rewrites the game's deadline (block.timestamp + window),
// a store that an estimate on the latest block can see as a no-op.
import { Contract, getAddress, type Signer } from 'ethers'

import { VerimeshError } from '../errors.js'
import { loadArtifact } from './contracts.js'
import { challengerAgrees, defenderMove, tileProof, type ExecutionTrace, type TileTree } from './dispute-trace.js'
import { verifierCalldata, type SnarkjsProof } from './groth16-verifier.js'
import { receiptTuple, type ReceiptFields } from './merkle.js'
import { TxSender, type TxResult, type TxSenderOptions } from './tx-sender.js'
import type { TileProofInput } from '../../circuits/tile-encoding.js'

/** Disputes.Party and Disputes.Status. */
export const Party = { Defender: 0, Challenger: 1 } as const
export const DisputeStatus = { None: 0, Open: 1, DefenderWon: 2, ChallengerWon: 3 } as const

export interface DisputeState {
  readonly disputeId: bigint
  readonly batchId: bigint
  readonly defender: string
  readonly challenger: string
  readonly lo: number
  readonly hi: number
  readonly turn: number
  readonly status: number
  /** Unix seconds. */
  readonly deadline: bigint
  readonly hLo: string
  readonly hHi: string
  readonly modelRoot: string
}

/** What a move did; 'waiting' when it is not this party's turn (or the game is over). */
export type MoveResult =
  | { readonly kind: 'bisected', readonly mid: number, readonly tx: TxResult }
  | { readonly kind: 'responded', readonly agree: boolean, readonly tx: TxResult }
  | { readonly kind: 'proven', readonly step: number, readonly tx: TxResult }
  | { readonly kind: 'waiting', readonly state: DisputeState }

/** Makes the Groth16 proof of one tile step (native prover, snarkjs, a prover actor…). */
export type TileStepProver = (input: TileProofInput) => Promise<{ proof: SnarkjsProof, publicSignals: readonly string[] }>

export class DisputeClient {
  private constructor (readonly address: string, readonly contract: Contract, private readonly sender: TxSender) {}

  static async connect (address: string, signer: Signer, opts: TxSenderOptions = {}): Promise<DisputeClient> {
    const contract = new Contract(getAddress(address), loadArtifact('Disputes').abi, signer)
    return new DisputeClient(getAddress(address), contract, await TxSender.create(signer, opts))
  }

  get account (): string { return this.sender.address }

  /** Challenge `receipt` of batch `batchId` (approve the bond to this contract first). */
  async open (batchId: bigint, receipt: ReceiptFields, receiptProof: readonly string[], challengerRoot: string): Promise<{ disputeId: bigint, tx: TxResult }> {
    const tx = await this.sender.sendCall(this.contract, 'openDispute', [batchId, receiptTuple(receipt), receiptProof, challengerRoot], { label: `Disputes.openDispute(batch ${batchId})` })
    for (const log of tx.receipt.logs) {
      const parsed = this.contract.interface.parseLog(log)
      if (parsed?.name === 'DisputeOpened') return { disputeId: BigInt(parsed.args[0] as bigint), tx }
    }
    throw new VerimeshError('CHAIN_ERROR', 'openDispute was mined without a DisputeOpened event', { txHash: tx.txHash })
  }

  async state (disputeId: bigint): Promise<DisputeState> {
    const d = await this.contract.getFunction('disputeOf')(disputeId)
    if (Number(d.status) === DisputeStatus.None) throw new VerimeshError('CONFIG_INVALID', `no dispute ${disputeId}`, { disputeId: String(disputeId) })
    return {
      disputeId,
      batchId: BigInt(d.batchId),
      defender: getAddress(d.defender),
      challenger: getAddress(d.challenger),
      lo: Number(d.lo),
      hi: Number(d.hi),
      turn: Number(d.turn),
      status: Number(d.status),
      deadline: BigInt(d.deadline),
      hLo: d.hLo,
      hHi: d.hHi,
      modelRoot: d.modelRoot
    }
  }

  /** The defender's next move from its trace: bisect, or prove the last step left. */
  async defend (disputeId: bigint, trace: ExecutionTrace, tree: TileTree, prove: TileStepProver): Promise<MoveResult> {
    const s = await this.state(disputeId)
    if (s.status !== DisputeStatus.Open || s.turn !== Party.Defender || s.defender !== this.account) return { kind: 'waiting', state: s }
    const move = defenderMove(trace, s)
    if (move.kind === 'bisect') {
      const tx = await this.sender.sendCall(this.contract, 'bisect', [disputeId, move.hMid], { label: `Disputes.bisect(${disputeId}, ${move.mid})` })
      return { kind: 'bisected', mid: move.mid, tx }
    }
    const { proof, publicSignals } = await prove(move.input)
    const [a, b, c, signals] = verifierCalldata(proof, publicSignals)
    if (signals[0] !== move.statement || signals[1] !== move.weightsCommitment) {
      throw new VerimeshError('PROOF_INPUT_INVALID', `the proof of step ${move.step} is not of its statement and weights`, { step: move.step })
    }
    const tx = await this.sender.sendCall(this.contract, 'proveStep', [disputeId, move.statement, move.weightsCommitment, tileProof(tree, move.step), a, b, c], { label: `Disputes.proveStep(${disputeId}, ${move.step})` })
    return { kind: 'proven', step: move.step, tx }
  }

  /** The challenger's answer to the pending bisection, from its own trace. */
  async challenge (disputeId: bigint, trace: ExecutionTrace): Promise<MoveResult> {
    const s = await this.state(disputeId)
    if (s.status !== DisputeStatus.Open || s.turn !== Party.Challenger || s.challenger !== this.account) return { kind: 'waiting', state: s }
    const mid = s.lo + Math.floor((s.hi - s.lo) / 2)
    const d = await this.contract.getFunction('disputeOf')(disputeId)
    const agree = challengerAgrees(trace, mid, d.hMid as string)
    const tx = await this.sender.sendCall(this.contract, 'respond', [disputeId, agree], { label: `Disputes.respond(${disputeId}, ${String(agree)})` })
    return { kind: 'responded', agree, tx }
  }

  /** End a game whose side to move let its deadline pass (reverts DeadlineNotReached before). */
  async timeout (disputeId: bigint): Promise<TxResult> {
    return await this.sender.sendCall(this.contract, 'timeout', [disputeId], { label: `Disputes.timeout(${disputeId})` })
  }
}
