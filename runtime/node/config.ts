// The node configuration file (JSON): which roles run, with which implementations,
// which model, which chain. Validated on load; every problem names its field.

import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { VerimeshError } from '../errors.js'
import { Decimal, EthAddress, Hex32 } from '../protocol/messages.js'

/** A built-in implementation name, or a path to a module exporting a RoleModule. */
const Impl = Type.String({ minLength: 1 })

/** Which kernels run the integer engine (docs/engine-spec.md): same bytes whichever. */
const EngineSection = {
  /** 'auto': the native addon when it loads, else the JS pool; 'native' fails without it. */
  backend: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('js')], { default: 'auto' }),
  /** Native kernel path: auto | scalar | avx2 | avx512vnni | amx | cuda. */
  kernel: Type.Optional(Type.String({ minLength: 1 })),
  threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 }))
}

export const NodeConfigSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  /** Ed25519 libp2p identity: a 32-byte seed (devnets) or absent for a fresh random key. */
  identitySeed: Type.Optional(Hex32),
  /** The operator's Ethereum private key (signs attestations and transactions). */
  operatorKey: Hex32,
  listen: Type.Array(Type.String(), { default: ['/ip4/127.0.0.1/tcp/0'] }),
  bootstrap: Type.Array(Type.String(), { default: [] }),
  model: Type.Object({
    /** The name requests use. */
    id: Type.String({ minLength: 1, maxLength: 128 }),
    /** A model package directory (docs/model-format.md); relative to the config file. */
    path: Type.String({ minLength: 1 }),
    /** When set, the node refuses a package whose model root differs. */
    root: Type.Optional(Hex32)
  }, { additionalProperties: false }),
  roles: Type.Object({
    router: Type.Optional(Type.Object({
      impl: Impl,
      quorumSize: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
      maxAttempts: Type.Integer({ minimum: 1, maximum: 16, default: 3 }),
      /** No progress from the pipeline for this long fails the attempt and retries. */
      stallMs: Type.Integer({ minimum: 50, default: 4000 }),
      pricePerTokenWei: Type.String({ pattern: '^[0-9]{1,78}$', default: '1000000000' })
    }, { additionalProperties: true })),
    executor: Type.Optional(Type.Object({
      impl: Impl,
      shards: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 }),
      ...EngineSection
    }, { additionalProperties: true })),
    prover: Type.Optional(Type.Object({
      impl: Impl,
      /** 'auto': the best that runs here (cuda > native > snarkjs); a named one or a start-up error. */
      backend: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('snarkjs'), Type.Literal('cuda')], { default: 'auto' }),
      /** Proving threads. Native: per proof (absent = every core). snarkjs: 1 = single-threaded, else ffjavascript's one per core. */
      threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
      /** Jobs that may wait behind the running ones; one more is refused with PROVER_BUSY. */
      maxQueued: Type.Integer({ minimum: 0, maximum: 100_000, default: 16 }),
      /** Proofs made at the same time (each on its own worker). */
      concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
      /** Circuit build outputs (`npm run circuits:build`); relative to the config file. Default: the package's circuits/build. */
      circuitsDir: Type.Optional(Type.String({ minLength: 1 }))
    }, { additionalProperties: true })),
    quorum: Type.Optional(Type.Object({
      impl: Impl,
      ...EngineSection,
      /** Who checks receipt proofs in 'proof' mode: the addon's zkVerify, snarkjs, or 'auto'. */
      proofVerifier: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('snarkjs')])),
      circuitsDir: Type.Optional(Type.String({ minLength: 1 }))
    }, { additionalProperties: true })),
    settler: Type.Optional(Type.Object({
      impl: Impl,
      /** Most receipts in one batch (the contract's amortised cost is lowest at the largest). */
      maxBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
      /** How long the first receipt of a batch waits for company before the batch goes out. */
      flushMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
      /** Rebuilds of a batch whose id another settler took meanwhile. */
      maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
      /** How long a quorum member has to co-sign a batch. */
      signTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
      /** Claim every payout of a batch once its challenge window passed (the settler pays the gas). */
      autoClaim: Type.Optional(Type.Boolean()),
      /** Directory keeping each settled batch's proofs and claims (relative to the config file); absent: memory only. */
      journalDir: Type.Optional(Type.String({ minLength: 1 }))
    }, { additionalProperties: true }))
  }, { additionalProperties: false }),
  chain: Type.Union([Type.Null(), Type.Object({
    rpcUrl: Type.String({ minLength: 1 }),
    chainId: Type.Integer({ minimum: 1 }),
    /** Addresses of the deployed protocol (runtime/chain/deploy.ts deployProtocol). */
    contracts: Type.Object({
      settlement: EthAddress,
      quorumRegistry: EthAddress,
      nodeRegistry: EthAddress,
      params: EthAddress,
      token: Type.Optional(EthAddress),
      modelRegistry: Type.Optional(EthAddress),
      disputes: Type.Optional(EthAddress)
    }, { additionalProperties: false }),
    /** Blocks on top of a settlement transaction before the settler reports it. */
    confirmations: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    /** The BLS secret (32 bytes hex) this node co-signs batches with; absent: derived from operatorKey. */
    blsKey: Type.Optional(Hex32)
  }, { additionalProperties: false })], { default: null }),
  mesh: Type.Object({
    heartbeatMs: Type.Integer({ minimum: 50, default: 1000 }),
    /** A peer not heard from for this long is considered down. */
    livenessMs: Type.Integer({ minimum: 100, default: 3500 }),
    pingMs: Type.Integer({ minimum: 100, default: 2000 }),
    /** Stake per operator address for scoring when no chain is configured; with one, NodeRegistry's bonded stakes replace these as they are read. */
    stakes: Type.Record(Type.String(), Decimal, { default: {} })
  }, { default: {} }),
  /** Chain id clients sign requests for (EIP-712 domain) when no chain is configured. */
  requestChainId: Type.Optional(Type.Integer({ minimum: 1 })),
  metrics: Type.Union([Type.Literal(false), Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 0 })
  })], { default: { host: '127.0.0.1', port: 0 } }),
  log: Type.Object({
    level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' })
  }, { default: {} }),
  actors: Type.Object({
    askTimeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
    mailboxCapacity: Type.Integer({ minimum: 1, default: 10_000 })
  }, { default: {} }),
  /** Test-only fault injection; never set in production configs. */
  faults: Type.Optional(Type.Object({
    tamperOutput: Type.Optional(Type.Boolean())
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type NodeConfig = Static<typeof NodeConfigSchema>

export function parseConfig (raw: unknown, source = 'config'): NodeConfig {
  const withDefaults = Value.Default(NodeConfigSchema, structuredClone(raw))
  if (!Value.Check(NodeConfigSchema, withDefaults)) {
    const errors = [...Value.Errors(NodeConfigSchema, withDefaults)].slice(0, 5)
    const detail = errors.map((e) => `${e.path === '' ? '/' : e.path}: ${e.message}`).join('; ')
    throw new VerimeshError('CONFIG_INVALID', `${source} is invalid: ${detail}`, { source, errors: errors.map((e) => ({ path: e.path, message: e.message })) })
  }
  const cfg = withDefaults as NodeConfig
  if (cfg.roles.settler !== undefined && cfg.chain === null) {
    throw new VerimeshError('CONFIG_INVALID', `${source}: the settler role needs a chain section`, { source })
  }
  return cfg
}

export async function loadConfig (file: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `cannot read config ${file}: ${(err as Error).message}`, { file })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `config ${file} is not valid JSON: ${(err as Error).message}`, { file })
  }
  const cfg = parseConfig(raw, file)
  const rel = (p: string): string => path.resolve(path.dirname(file), p)
  const { prover, quorum, settler } = cfg.roles
  return {
    ...cfg,
    model: { ...cfg.model, path: rel(cfg.model.path) },
    roles: {
      ...cfg.roles,
      ...(prover?.circuitsDir === undefined ? {} : { prover: { ...prover, circuitsDir: rel(prover.circuitsDir) } }),
      ...(quorum?.circuitsDir === undefined ? {} : { quorum: { ...quorum, circuitsDir: rel(quorum.circuitsDir) } }),
      ...(settler?.journalDir === undefined ? {} : { settler: { ...settler, journalDir: rel(settler.journalDir) } })
    }
  }
}

/** The chain id requests are signed for. */
export function requestChainId (cfg: NodeConfig): number {
  return cfg.chain?.chainId ?? cfg.requestChainId ?? 31337
}
