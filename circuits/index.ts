// The circuits' public API, for the prover (actors/prover) and tests.
export { buildCircuits, type BuildOptions, type CircuitBuildReport } from './build.js'
export { BUILD_HINT, loadCircuit, loadCompiledCircuit, type CompiledCircuit, type LoadedCircuit } from './circuits.js'
export { dec, fe, P as FIELD_MODULUS } from './field.js'
export type { CircuitInput } from './input.js'
export { irisInfer, featuresQ16, type IrisModelJson } from './iris/model.js'
export { irisLayers, loadIrisModel, mlpInput, mlpStatement } from './iris/input.js'
export { hashChain, poseidon } from './poseidon.js'
export { receiptClaimOf, receiptCommitment, receiptFields, receiptInput, receiptPublicSignals, type ReceiptClaim } from './receipt-encoding.js'
export { CIRCUITS, circuitPaths } from './registry.js'
export { INSECURE_LABEL } from './setup.js'
export {
  packInt8, tileInput, tileReference, tileStatement, tileWeightsCommitment, tileInputCommitment, tileOutputCommitment,
  type TileActivation, type TileOutput, type TileProofInput, type TileWeights
} from './tile-encoding.js'
export { calculate, computeWitness, computeWitnessInPool, createWitnessPool, readWitness, type WitnessPool } from './witness.js'
