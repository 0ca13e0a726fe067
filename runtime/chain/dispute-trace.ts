// The execution trace a receipt commits to and the dispute game's moves over it
// (contracts/Disputes.sol; docs/disputes.md):
//
//   h_0     = keccak256(abi.encode("verimesh.trace.v1", requestId, modelRoot))
//   h_{i+1} = keccak256(abi.encode(h_i, i, statement_i))     receipt.traceRoot = h_steps
//
// statement_i is the tile circuit's public statement of step i (circuits/tile-encoding.ts).
// The model's tile tree is an OpenZeppelin StandardMerkleTree over [step, weightsCommitment]
// (types uint256, uint256), which is the leaf Disputes.proveStep checks against
// IModelRegistry.tileRootOf. Both sides play from their own trace: the defender answers a
// bisection with its hash at mid, the challenger agrees exactly when its own hash there is
// the same, so the game ends on the first step where the two traces part.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { AbiCoder, keccak256 } from 'ethers'

import { tileInput, type TileActivation, type TileOutput, type TileProofInput, type TileWeights } from '../../circuits/tile-encoding.js'
import { VerimeshError } from '../errors.js'

export const TRACE_DOMAIN = 'verimesh.trace.v1'
const abi = AbiCoder.defaultAbiCoder()

export function traceStart (requestId: string, modelRoot: string): string {
  return keccak256(abi.encode(['string', 'bytes32', 'bytes32'], [TRACE_DOMAIN, requestId, modelRoot]))
}

export function traceNext (h: string, step: number | bigint, statement: bigint): string {
  return keccak256(abi.encode(['bytes32', 'uint256', 'uint256'], [h, BigInt(step), statement]))
}

/** One executed tile step; `output` is what the executor claims (the reference output when absent). */
export interface TileStepRecord {
  readonly weights: TileWeights
  readonly input: TileActivation
  readonly output?: TileOutput
}

export interface ExecutionTrace {
  readonly requestId: string
  readonly modelRoot: string
  /** statement_i per step. */
  readonly statements: readonly bigint[]
  /** h_0 … h_n (n + 1 hashes). */
  readonly hashes: readonly string[]
  /** Per step, the circuit input that proves it (meaningful only where the claimed output is right). */
  readonly steps: readonly TileProofInput[]
  /** h_n, the receipt's traceRoot. */
  readonly root: string
}

export function buildTrace (requestId: string, modelRoot: string, records: readonly TileStepRecord[]): ExecutionTrace {
  if (records.length === 0) throw new VerimeshError('PROOF_INPUT_INVALID', 'a trace needs at least one step', { requestId })
  const steps = records.map((r, i) => tileInput(i, r.weights, r.input, r.output))
  const statements = steps.map((s) => s.statement)
  const hashes = [traceStart(requestId, modelRoot)]
  statements.forEach((s, i) => hashes.push(traceNext(hashes[i]!, i, s)))
  return { requestId, modelRoot, statements, hashes, steps, root: hashes[hashes.length - 1]! }
}

export type TileTree = StandardMerkleTree<[bigint, bigint]>

/** The model's tile tree: leaf i is [i, weights commitment of step i]; its root is what the model registry stores. */
export function tileTree (weightsCommitments: readonly bigint[]): TileTree {
  return StandardMerkleTree.of(weightsCommitments.map((w, i) => [BigInt(i), w] as [bigint, bigint]), ['uint256', 'uint256'])
}

export function tileTreeOf (records: readonly TileStepRecord[]): TileTree {
  return tileTree(records.map((r, i) => tileInput(i, r.weights, r.input).commitments.weights))
}

/** Merkle proof of step `step`'s weights in the tile tree (Disputes.proveStep's tileProof). */
export function tileProof (tree: TileTree, step: number): string[] {
  for (const [i, v] of tree.entries()) if (v[0] === BigInt(step)) return tree.getProof(i)
  throw new VerimeshError('PROOF_INPUT_INVALID', `the tile tree has no step ${step}`, { step })
}

/** The interval still in dispute, as Disputes.disputeOf reports it. */
export interface DisputeInterval {
  readonly lo: number
  readonly hi: number
}

export function midpoint ({ lo, hi }: DisputeInterval): number {
  if (hi - lo <= 1) throw new VerimeshError('PROOF_INPUT_INVALID', `one step left (${lo}, ${hi}): nothing to bisect`, { lo, hi })
  return lo + Math.floor((hi - lo) / 2)
}

/** What the side to move does next, from its own trace. */
export type DefenderMove =
  | { readonly kind: 'bisect', readonly mid: number, readonly hMid: string }
  | { readonly kind: 'prove', readonly step: number, readonly statement: bigint, readonly weightsCommitment: bigint, readonly input: TileProofInput }

export function defenderMove (trace: ExecutionTrace, at: DisputeInterval): DefenderMove {
  if (at.hi - at.lo === 1) {
    const input = trace.steps[at.lo]
    if (input === undefined) throw new VerimeshError('PROOF_INPUT_INVALID', `the trace has no step ${at.lo}`, { step: at.lo })
    return { kind: 'prove', step: at.lo, statement: input.statement, weightsCommitment: input.commitments.weights, input }
  }
  const mid = midpoint(at)
  return { kind: 'bisect', mid, hMid: trace.hashes[mid]! }
}

/** The challenger's answer to the defender's hash at mid: agree when its own trace has the same. */
export function challengerAgrees (trace: ExecutionTrace, mid: number, hMid: string): boolean {
  return trace.hashes[mid]?.toLowerCase() === hMid.toLowerCase()
}

/** The first step where two traces of the same request part (where an honest game ends), or -1. */
export function firstDivergence (a: ExecutionTrace, b: ExecutionTrace): number {
  const n = Math.min(a.statements.length, b.statements.length)
  for (let i = 0; i < n; i++) if (a.statements[i] !== b.statements[i]) return i
  return a.statements.length === b.statements.length ? -1 : n
}
