// Every message the five roles exchange, defined once. Role interfaces (actors/roles.ts)
// and the transport's inbound validation both come from these definitions; a change to a
// message's shape bumps its version.

import { Type, type Static } from '@sinclair/typebox'
import { defineMessage, type MessageDef, type MessageOf } from './registry.js'

// ---- shared field shapes -------------------------------------------------------------

export const Hex32 = Type.String({ pattern: '^0x[0-9a-fA-F]{64}$' })
export const EthAddress = Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' })
export const HexBytes = Type.String({ pattern: '^0x([0-9a-fA-F]{2})*$', maxLength: 4096 })
/** An unsigned integer too large for a JS number, as a decimal string. */
export const Decimal = Type.String({ pattern: '^[0-9]{1,78}$' })
export const ActorAddress = Type.String({ minLength: 3, maxLength: 512 })
const Uint = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const TokenIds = Type.Array(Type.Integer({ minimum: 0, maximum: 0xffffffff }), { maxItems: 65536 })
const WireErr = Type.Object({ code: Type.String(), message: Type.String(), context: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })

/** How a request is checked. A string in the EIP-712 struct, so adding a mode changes no signature. */
export const VerificationMode = Type.Union([Type.Literal('quorum'), Type.Literal('none'), Type.Literal('proof')])

/** The client-signed request (EIP-712 struct `InferenceRequest`, see request.ts). */
export const InferenceRequestSchema = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 128 }),
  prompt: Type.String({ maxLength: 16384 }),
  maxTokens: Type.Integer({ minimum: 1, maximum: 4096 }),
  /** 0 = greedy, else 10…10000 (1000 = temperature 1.0); docs/engine-spec.md §3. */
  temperatureMilli: Type.Union([Type.Literal(0), Type.Integer({ minimum: 10, maximum: 10000 })]),
  /** 0 = no limit. */
  topK: Type.Integer({ minimum: 0, maximum: 1 << 20 }),
  /** Nucleus sampling in thousandths; 1000 = off. */
  topPMilli: Type.Integer({ minimum: 1, maximum: 1000 }),
  seed: Decimal,
  feeCap: Decimal,
  latencyBoundMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }),
  /** 'quorum': re-executed and attested; 'proof': that plus a Groth16 receipt proof; 'none'. */
  verification: VerificationMode,
  nonce: Decimal,
  /** Unix time in ms after which nodes must refuse the request. */
  deadline: Uint,
  client: EthAddress
}, { additionalProperties: false })
export type InferenceRequest = Static<typeof InferenceRequestSchema>

export const SamplingSchema = Type.Object({
  /** 0 = greedy, else 10…10000 (1000 = temperature 1.0); docs/engine-spec.md §3. */
  temperatureMilli: Type.Union([Type.Literal(0), Type.Integer({ minimum: 10, maximum: 10000 })]),
  /** 0 = no limit. */
  topK: Type.Integer({ minimum: 0, maximum: 1 << 20 }),
  /** Nucleus sampling in thousandths; 1000 = off. */
  topPMilli: Type.Integer({ minimum: 1, maximum: 1000 }),
  seed: Decimal
}, { additionalProperties: false })

/** What the settler records: its keccak hash is what validators sign. */
export const ReceiptSchema = Type.Object({
  requestId: Hex32,
  modelId: Hex32,
  client: EthAddress,
  outputHash: Hex32,
  traceHash: Hex32,
  /** Operator addresses of the shard executors, in shard order. */
  executors: Type.Array(EthAddress, { maxItems: 256 }),
  fee: Decimal
}, { additionalProperties: false })
export type Receipt = Static<typeof ReceiptSchema>

export const AttestationSchema = Type.Object({
  validator: EthAddress,
  receiptHash: Hex32,
  signature: HexBytes
}, { additionalProperties: false })
export type Attestation = Static<typeof AttestationSchema>

// ---- proofs (actors/prover): the same JSON whichever backend made them ------------------

/** A BN254 field element or coordinate as a decimal string (< 2^254, so at most 77 digits). */
const FieldElement = Type.String({ pattern: '^[0-9]{1,78}$' })
const G1Point = Type.Tuple([FieldElement, FieldElement, FieldElement])
const G2Point = Type.Tuple([Type.Tuple([FieldElement, FieldElement]), Type.Tuple([FieldElement, FieldElement]), Type.Tuple([FieldElement, FieldElement])])
/** A circuit's name: also a directory name under the circuits build folder, so no path characters. */
export const CircuitName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })

/** snarkjs's Groth16 proof JSON (projective coordinates, z = 1). */
export const Groth16ProofSchema = Type.Object({
  pi_a: G1Point,
  pi_b: G2Point,
  pi_c: G1Point,
  protocol: Type.Literal('groth16'),
  curve: Type.Literal('bn128')
}, { additionalProperties: false })

export const ProverBackendName = Type.Union([Type.Literal('cuda'), Type.Literal('native-cpu'), Type.Literal('snarkjs')])
export const VerifierBackendName = Type.Union([Type.Literal('native'), Type.Literal('snarkjs')])

export const ProofBundleSchema = Type.Object({
  circuit: CircuitName,
  proof: Groth16ProofSchema,
  publicSignals: Type.Array(FieldElement, { maxItems: 1024 }),
  backend: ProverBackendName,
  /** Milliseconds per phase; backends add their own phases (e.g. msmMs) next to the three always present. */
  timings: Type.Object({
    witnessMs: Type.Number({ minimum: 0 }),
    proveMs: Type.Number({ minimum: 0 }),
    totalMs: Type.Number({ minimum: 0 })
  }, { additionalProperties: Type.Number({ minimum: 0 }), maxProperties: 32 }),
  threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  /** The backend's kernel path, when it has several (native builds). */
  kernel: Type.Optional(Type.String({ maxLength: 64 }))
}, { additionalProperties: false })

export const VerificationReportSchema = Type.Object({
  valid: Type.Boolean(),
  backend: VerifierBackendName,
  circuit: CircuitName,
  ms: Type.Number({ minimum: 0 }),
  /** Why the proof is not valid, or why it could not be checked. */
  error: Type.Optional(Type.String({ maxLength: 2048 }))
}, { additionalProperties: false })

/** Input to an arbitrary circuit: signal name → value, vector or matrix, as decimal strings. */
const SignalValue = Type.String({ pattern: '^-?[0-9]{1,78}$' })
export const CircuitInputSchema = Type.Record(
  Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }),
  Type.Union([SignalValue, Type.Array(SignalValue, { maxItems: 65536 }), Type.Array(Type.Array(SignalValue, { maxItems: 4096 }), { maxItems: 4096 })]),
  { maxProperties: 64 }
)

export const ProverJobSchema = Type.Union([
  /** The receipt circuit: the input is derived from the receipt by circuits/receipt encoding. */
  Type.Object({ kind: Type.Literal('receipt'), receipt: ReceiptSchema }, { additionalProperties: false }),
  /** One tile step of another circuit, with its input given explicitly. */
  Type.Object({ kind: Type.Literal('tile'), circuit: CircuitName, input: CircuitInputSchema }, { additionalProperties: false })
])

const RouteHop = Type.Object({ shard: Uint, address: ActorAddress, peer: Type.String(), operator: EthAddress })

// ---- client ↔ router -----------------------------------------------------------------

/** Where a settled receipt sits on chain: its batch, leaf and challenge window. */
export const SettlementRecordSchema = Type.Object({
  chainId: Uint,
  contract: EthAddress,
  batchId: Uint,
  /** The epoch whose quorum signed the batch. */
  epoch: Uint,
  receiptIndex: Uint,
  receiptCount: Uint,
  /** The receipt's leaf in the batch's receipts tree (contracts/lib/ReceiptLeaf.sol). */
  leafHash: Hex32,
  receiptsRoot: Hex32,
  txHash: Hex32,
  blockNumber: Uint,
  gasUsed: Decimal,
  /** Unix seconds until which the receipt can be challenged; payouts are claimable after. */
  challengeDeadline: Uint
}, { additionalProperties: false })
export type SettlementRecord = Static<typeof SettlementRecordSchema>

export const InferSubmit = defineMessage('infer.submit', 1, {
  request: InferenceRequestSchema,
  signature: HexBytes
})

export const InferResult = defineMessage('infer.result', 3, {
  requestId: Hex32,
  tokens: TokenIds,
  text: Type.String(),
  outputHash: Hex32,
  traceHash: Hex32,
  route: Type.Array(RouteHop),
  backend: Type.String(),
  attempts: Uint,
  verification: VerificationMode,
  attestations: Type.Array(AttestationSchema),
  /** 'proof' mode: the Groth16 proof of the receipt, and each validator's check of it. */
  proof: Type.Optional(ProofBundleSchema),
  proofReports: Type.Optional(Type.Array(Type.Object({ validator: EthAddress, report: VerificationReportSchema }), { maxItems: 64 })),
  receipt: ReceiptSchema,
  receiptHash: Hex32,
  settlement: Type.Union([Type.Null(), SettlementRecordSchema]),
  timings: Type.Object({ executeMs: Type.Number(), verifyMs: Type.Number(), settleMs: Type.Number(), totalMs: Type.Number(), proveMs: Type.Optional(Type.Number()) })
})

export const RouterStatus = defineMessage('router.status', 1, {})
export const RouterStatusReply = defineMessage('router.status.reply', 1, {
  peer: Type.String(),
  peers: Type.Array(Type.Object({
    peer: Type.String(),
    operator: EthAddress,
    roles: Type.Array(Type.String()),
    shards: Type.Array(Uint),
    stake: Decimal,
    uptime: Type.Number(),
    p95LatencyMs: Type.Union([Type.Number(), Type.Null()]),
    score: Type.Number(),
    lastSeenMs: Type.Number()
  })),
  /** Shards of the served model that at least one live executor holds. */
  coveredShards: Type.Array(Uint),
  shardCount: Uint
})

// ---- router → executors → router: the pipeline ----------------------------------------

export const ShardStep = defineMessage('shard.step', 1, {
  /** One attempt at one request; a retry uses a new session so stale steps are ignored. */
  session: Type.String({ minLength: 1, maxLength: 256 }),
  requestId: Hex32,
  model: Type.String({ minLength: 1, maxLength: 128 }),
  step: Uint,
  /** Index into `route` of the executor this message is for. */
  stage: Uint,
  route: Type.Array(ActorAddress, { minItems: 1, maxItems: 64 }),
  input: Type.Union([
    Type.Object({ kind: Type.Literal('tokens'), tokens: TokenIds }),
    Type.Object({ kind: Type.Literal('activations'), data: Type.Uint8Array({ maxByteLength: 64 * 1024 * 1024 }), hash: Hex32 })
  ]),
  maxTokens: Type.Integer({ minimum: 1, maximum: 4096 }),
  sampling: SamplingSchema,
  /** Hash chain over every shard output so far (docs/engine-spec.md §4). */
  trace: Hex32,
  tokens: TokenIds,
  replyTo: ActorAddress
})

export const ShardProgress = defineMessage('shard.progress', 1, {
  session: Type.String(), step: Uint, stage: Uint, peer: Type.String()
})

export const ShardDone = defineMessage('shard.done', 1, {
  session: Type.String(),
  tokens: TokenIds,
  outputHash: Hex32,
  traceHash: Hex32,
  backend: Type.String()
})

export const ShardFailed = defineMessage('shard.failed', 1, {
  session: Type.String(), stage: Uint, peer: Type.String(), error: WireErr
})

// ---- router → quorum ------------------------------------------------------------------

export const QuorumVerify = defineMessage('quorum.verify', 2, {
  request: InferenceRequestSchema,
  signature: HexBytes,
  tokens: TokenIds,
  receipt: ReceiptSchema,
  /** 'proof' mode: the member checks this receipt proof as well as re-executing. */
  proof: Type.Optional(ProofBundleSchema)
})

export const QuorumAttestation = defineMessage('quorum.attestation', 2, {
  attestation: AttestationSchema,
  /** Present when the verify request carried a proof (and then valid: an invalid one is refused). */
  proofReport: Type.Optional(VerificationReportSchema)
})

// ---- router → prover ------------------------------------------------------------------

export const ProverProve = defineMessage('prover.prove', 1, {
  job: ProverJobSchema,
  /** For logs and metrics only. */
  requestId: Type.Optional(Hex32)
})

/** The reply to prover.prove; a failure comes back as an error (PROVER_BUSY, PROOF_INPUT_INVALID, ...). */
export const ProverProof = defineMessage('prover.proof', 1, {
  bundle: ProofBundleSchema
})

// ---- router → settler -----------------------------------------------------------------

/** A receipt with the quorum's attestations: what a batch is made of. */
export const BatchItemSchema = Type.Object({
  receipt: ReceiptSchema,
  attestations: Type.Array(AttestationSchema, { minItems: 1, maxItems: 256 }),
  /** The receipt circuit's statement when the request was proven ('proof' mode). */
  proofStatement: Type.Optional(Decimal)
}, { additionalProperties: false })
export type BatchItem = Static<typeof BatchItemSchema>

export const SettleSubmit = defineMessage('settle.submit', 2, {
  receipt: ReceiptSchema,
  attestations: Type.Array(AttestationSchema, { minItems: 1, maxItems: 256 }),
  proofStatement: Type.Optional(Decimal)
})

export const SettleRecorded = defineMessage('settle.recorded', 2, SettlementRecordSchema.properties)

// ---- settler → quorum: co-signing a batch ----------------------------------------------

/**
 * The settler asks each member of the epoch's quorum to BLS-sign a batch. The member
 * rebuilds the batch from the items itself and signs only the digest it computed.
 */
export const QuorumSignBatch = defineMessage('quorum.sign-batch', 1, {
  chainId: Uint,
  settlement: EthAddress,
  batchId: Uint,
  epoch: Uint,
  items: Type.Array(BatchItemSchema, { minItems: 1, maxItems: 4096 }),
  digest: Hex32
})

const G1Dec = Type.Tuple([Decimal, Decimal])
export const QuorumBatchSignature = defineMessage('quorum.batch-signature', 1, {
  validator: EthAddress,
  batchId: Uint,
  digest: Hex32,
  /** BLS signature in G1 over the digest (docs/bls.md). */
  sigma: G1Dec,
  pkG1: G1Dec,
  /** EIP-197 order: x.im, x.re, y.im, y.re. */
  pkG2: Type.Tuple([Decimal, Decimal, Decimal, Decimal])
})

// ---- mesh-wide announcements (gossipsub) -----------------------------------------------

export const MeshHeartbeat = defineMessage('mesh.heartbeat', 1, {
  peer: Type.String({ minLength: 1, maxLength: 128 }),
  operator: EthAddress,
  addrs: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 16 }),
  roles: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 }),
  model: Type.String({ maxLength: 128 }),
  shards: Type.Array(Uint, { maxItems: 256 }),
  seq: Uint,
  startedAt: Uint,
  sentAt: Uint
})

export type InferSubmitMsg = MessageOf<typeof InferSubmit>
export type InferResultMsg = MessageOf<typeof InferResult>
export type RouterStatusReplyMsg = MessageOf<typeof RouterStatusReply>
export type ShardStepMsg = MessageOf<typeof ShardStep>
export type ShardProgressMsg = MessageOf<typeof ShardProgress>
export type ShardDoneMsg = MessageOf<typeof ShardDone>
export type ShardFailedMsg = MessageOf<typeof ShardFailed>
export type QuorumVerifyMsg = MessageOf<typeof QuorumVerify>
export type QuorumAttestationMsg = MessageOf<typeof QuorumAttestation>
export type SettleSubmitMsg = MessageOf<typeof SettleSubmit>
export type SettleRecordedMsg = MessageOf<typeof SettleRecorded>
export type QuorumSignBatchMsg = MessageOf<typeof QuorumSignBatch>
export type QuorumBatchSignatureMsg = MessageOf<typeof QuorumBatchSignature>
export type MeshHeartbeatMsg = MessageOf<typeof MeshHeartbeat>
export type ProverProveMsg = MessageOf<typeof ProverProve>
export type ProverProofMsg = MessageOf<typeof ProverProof>

/** Every product message; the node registers these with its transport. */
export const PROTOCOL_MESSAGES: readonly MessageDef[] = [
  InferSubmit, InferResult, RouterStatus, RouterStatusReply,
  ShardStep, ShardProgress, ShardDone, ShardFailed,
  QuorumVerify, QuorumAttestation, SettleSubmit, SettleRecorded, QuorumSignBatch, QuorumBatchSignature,
  ProverProve, ProverProof,
  MeshHeartbeat
]
