// The five roles: which messages each takes and sends, and what a node hands an
// implementation when it builds one. A researcher swaps an implementation by naming a
// module in the node config; it must export a `RoleModule` for the same role.

import type { Wallet } from 'ethers'
import type { ActorFactory, ActorSystemApi } from '../runtime/actors/types.js'
import type { MessageDef } from '../runtime/protocol/registry.js'
import * as M from '../runtime/protocol/messages.js'
import type { Logger } from '../runtime/node/logger.js'
import type { NodeMetrics } from '../runtime/node/metrics.js'
import type { MeshView } from '../runtime/node/mesh.js'
import type { NodeConfig } from '../runtime/node/config.js'
import type { ModelHandle } from './engine/model-handle.js'

export const ROLE_NAMES = ['router', 'executor', 'prover', 'quorum', 'settler'] as const
export type RoleName = typeof ROLE_NAMES[number]

/** The messages each role accepts and emits: its interface, stated once. */
export const ROLE_INTERFACES: Record<RoleName, { accepts: readonly MessageDef[], emits: readonly MessageDef[] }> = {
  router: {
    accepts: [M.InferSubmit, M.RouterStatus, M.ShardProgress, M.ShardDone, M.ShardFailed],
    emits: [M.InferResult, M.RouterStatusReply, M.ShardStep, M.ProverProve, M.QuorumVerify, M.SettleSubmit]
  },
  executor: {
    accepts: [M.ShardStep],
    emits: [M.ShardStep, M.ShardProgress, M.ShardDone, M.ShardFailed]
  },
  prover: {
    accepts: [M.ProverProve],
    emits: [M.ProverProof]
  },
  quorum: {
    accepts: [M.QuorumVerify, M.QuorumSignBatch],
    emits: [M.QuorumAttestation, M.QuorumBatchSignature]
  },
  settler: {
    accepts: [M.SettleSubmit],
    emits: [M.SettleRecorded, M.QuorumSignBatch]
  }
}

/** Where a role's actor lives on every node, so peers can address it without lookup. */
export function rolePath (role: RoleName): string {
  return `/user/${role}`
}

export interface RoleDeps {
  readonly system: ActorSystemApi
  readonly config: NodeConfig
  /** This role's own section of the config (implementation-specific options). */
  readonly options: Readonly<Record<string, unknown>>
  /** The node operator's Ethereum key: signs attestations and transactions. */
  readonly operator: Wallet
  readonly mesh: MeshView
  readonly logger: Logger
  readonly metrics: NodeMetrics
  /** The model this node serves (manifest, tokenizer, shard loader). */
  readonly model: ModelHandle
}

export interface RoleInstance {
  readonly factory: ActorFactory
  /** Release what the role holds outside its actor (worker pools, RPC clients). */
  close?: () => Promise<void>
}

export interface RoleModule {
  readonly role: RoleName
  /** Short name used in config and logs, e.g. 'score' for the score-based router. */
  readonly name: string
  create: (deps: RoleDeps) => RoleInstance | Promise<RoleInstance>
}
