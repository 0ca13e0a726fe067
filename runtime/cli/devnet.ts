// A local devnet: an embedded chain served over JSON-RPC from this process, the
// settlement contract deployed on it, and N node processes on loopback wired together
// through a bootstrap node. Every child gets an IPC channel and exits when it closes,
// so no node outlives the devnet, even if the devnet itself is killed.

import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Wallet, keccak256, toUtf8Bytes } from 'ethers'
import { VerimeshError } from '../errors.js'
import { startEmbeddedChain, type EmbeddedChain } from '../chain/embedded-chain.js'
import { deployProtocol, type ProtocolAddresses } from '../chain/deploy.js'
import { connectProvider } from '../chain/provider.js'
import { registerOperator } from '../chain/operator.js'
import { peerIdOfSeed } from '../net/libp2p.js'
import { TxSender } from '../chain/tx-sender.js'
import { connectBatchSettlement, connectProtocolParams, connectQuorumRegistry, connectNodeRegistry, connectVerimeshToken } from '../chain/types/index.js'
import { nodeBlsKey } from '../crypto/bls.js'
import { deployCircuitVerifiers, verifierDeployOptions } from '../chain/deploy-verifiers.js'
import { connectModelRegistry } from '../chain/types/index.js'
import { repoRoot } from '../../circuits/registry.js'
import { synthPackage } from '../../actors/engine/model/synth-package.js'
import { MANIFEST_FILE, readManifest } from '../../actors/engine/model/package.js'
import { DIM_PRESETS } from '../../actors/engine/int/synth.js'
import type { NodeConfig } from '../node/config.js'
import type { Logger } from '../node/logger.js'

export const DEFAULT_MODEL_ID = 'synthetic-small'
const BIN = fileURLToPath(new URL('../../../bin/verimesh.js', import.meta.url))
/** The devnet's default model: a seeded synthetic one (docs/engine-spec.md), made once. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../.verimesh/models/synthetic-small-seed42-2p', import.meta.url))

export interface DevnetOptions {
  nodes: number
  /** Where configs and per-node logs go. */
  dir: string
  logger: Logger
  quorumSize?: number
  stallMs?: number
  heartbeatMs?: number
  /** Stream node logs to this process's stderr as well as to files. */
  verbose?: boolean
  /** Per-node config overrides (tests: fault injection, role layouts). */
  override?: (index: number, config: NodeConfig) => NodeConfig
  /** Called for every progress step ("chain up", "node-1 ready", ...). */
  onProgress?: (message: string) => void
  /** A model package to serve instead of the default synthetic one. */
  model?: { path: string, id?: string }
}

export interface DevnetNode {
  readonly index: number
  readonly name: string
  readonly config: NodeConfig
  readonly configFile: string
  readonly logFile: string
  peerId: string
  addrs: string[]
  metricsUrl: string | null
  child: ChildProcess
  exited: Promise<number | null>
}

export interface NodeReady {
  type: 'ready'
  peerId: string
  addrs: string[]
  metricsUrl: string | null
  operator: string
}

/** Which shards node i holds: round-robin, plus one redundant full holder for failover. */
export function devnetShards (index: number, nodes: number, shardCount: number): number[] {
  if (nodes > shardCount && index === nodes - 1) return Array.from({ length: shardCount }, (_, s) => s)
  return [index % shardCount]
}

/** Token units (18 decimals). */
const TOKEN = 10n ** 18n
/** What node i bonds: distinct, so the router's stake scoring shows in the demo. */
export function devnetStake (index: number): bigint {
  return BigInt(1000 + 250 * index) * TOKEN
}
/** What the demo client deposits for fees. */
export const DEVNET_CLIENT_DEPOSIT = 1000n * TOKEN

export class Devnet {
  readonly chain: EmbeddedChain
  /** The BatchSettlement address. */
  readonly settlement: string
  readonly contracts: Required<Pick<ProtocolAddresses, 'settlement' | 'quorumRegistry'>> & ProtocolAddresses
  readonly nodes: DevnetNode[] = []
  /** Funded dev account for the demo client (never a node operator). */
  readonly clientKey: string
  readonly modelId: string
  readonly modelPath: string
  readonly shardCount: number
  readonly modelRoot: string
  readonly modelSynthetic: boolean
  readonly #opts: DevnetOptions
  #stopping: Promise<void> | undefined

  private constructor (opts: DevnetOptions, chain: EmbeddedChain, contracts: Devnet['contracts'], model: { path: string, id: string, shards: number, root: string, synthetic: boolean }) {
    this.#opts = opts
    this.modelId = model.id
    this.modelPath = model.path
    this.shardCount = model.shards
    this.modelRoot = model.root
    this.modelSynthetic = model.synthetic
    this.chain = chain
    this.contracts = contracts
    this.settlement = contracts.settlement
    this.clientKey = chain.accounts[opts.nodes + 1]!.privateKey
  }

  static async start (opts: DevnetOptions): Promise<Devnet> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 2 || opts.nodes > 32) {
      throw new VerimeshError('CONFIG_INVALID', `a devnet needs 2 to 32 nodes, got ${opts.nodes}`)
    }
    const progress = opts.onProgress ?? (() => {})
    await mkdir(opts.dir, { recursive: true })
    let modelPath = opts.model?.path
    if (modelPath === undefined) {
      progress('preparing the default synthetic model (made once, then reused)')
      modelPath = DEFAULT_MODEL_DIR
      if (!existsSync(path.join(modelPath, MANIFEST_FILE))) await synthPackage(modelPath, { dims: DIM_PRESETS.small!, preset: 'small', seed: 42, parts: 2, overwrite: true })
    }
    const manifest = await readManifest(modelPath)
    progress(`model ${manifest.name}: ${manifest.shards.length} shards, root 0x${manifest.root.slice(0, 16)}…`)
    const model = { path: modelPath, id: opts.model?.id ?? (opts.model === undefined ? DEFAULT_MODEL_ID : manifest.name), shards: manifest.shards.length, root: '0x' + manifest.root, synthetic: manifest.synthetic === true }
    // Account 0 deploys, 1..N operate nodes, N+1 is the demo client.
    const chain = await startEmbeddedChain({ accounts: opts.nodes + 2 })
    progress(`chain up at ${chain.url} (chain id ${chain.chainId})`)
    let devnet: Devnet | undefined
    try {
      const quorumSize = Math.min(opts.quorumSize ?? 2, opts.nodes)
      const contracts = await deployDevnetProtocol(chain, opts.nodes, manifest, progress)
      devnet = new Devnet(opts, chain, contracts, model)
      // Operators join first, as they would on a public chain: nodes start registered
      // and staked, so no router ever scores a peer before its stake is on chain.
      await devnet.#joinProtocol(quorumSize, progress)
      await devnet.#startNodes(quorumSize)
      return devnet
    } catch (err) {
      if (devnet !== undefined) await devnet.stop()
      else await chain.stop()
      throw err
    }
  }

  /** Register and stake every node, commit the first epoch's quorum. */
  async #joinProtocol (quorumSize: number, progress: (m: string) => void): Promise<void> {
    const provider = connectProvider(this.chain.url, { chainId: this.chain.chainId, pollingInterval: 50 })
    try {
      for (let index = 0; index < this.#opts.nodes; index++) {
        // Roles and identity do not depend on the bootstrap list, which exists only later.
        const config = this.configFor(index, quorumSize, [])
        if (config.identitySeed === undefined) throw new VerimeshError('CONFIG_INVALID', `${config.name} has no identitySeed: the devnet registers nodes before they start`)
        const key = this.chain.accounts[index + 1]!.privateKey
        await registerOperator(new Wallet(key, provider), {
          nodeRegistry: this.contracts.nodeRegistry,
          token: this.contracts.token,
          peerId: await peerIdOfSeed(config.identitySeed),
          roles: Object.keys(config.roles),
          bls: nodeBlsKey(config.operatorKey, config.chain?.blsKey),
          stake: devnetStake(index)
        })
      }
      const deployer = await TxSender.create(new Wallet(this.chain.accounts[0]!.privateKey, provider), { pollIntervalMs: 50 })
      const registry = connectNodeRegistry(this.contracts.nodeRegistry, provider)
      const quorums = connectQuorumRegistry(this.contracts.quorumRegistry, provider)
      const epoch = await registry.currentEpoch()
      await deployer.sendCall(quorums, 'commitQuorum', [epoch], { label: 'QuorumRegistry.commitQuorum' })
      const members = await quorums.membersOf(epoch)
      progress(`${this.#opts.nodes} operators registered and staked; epoch ${epoch} quorum: ${members.length} validators`)
    } finally {
      provider.destroy()
    }
  }

  configFor (index: number, quorumSize: number, bootstrap: string[]): NodeConfig {
    const operator = this.chain.accounts[index + 1]!
    const stakes: Record<string, string> = {}
    // Distinct stakes so the router's choice is visible in the demo output.
    // The same values (and units) the nodes bond on chain: the router starts from these and
    // swaps in NodeRegistry's as it reads them, so its choice cannot flip in between.
    for (let i = 0; i < this.#opts.nodes; i++) stakes[this.chain.accounts[i + 1]!.address.toLowerCase()] = devnetStake(i).toString(10)
    const config: NodeConfig = {
      name: `node-${index}`,
      identitySeed: keccak256(toUtf8Bytes(`verimesh devnet node ${index}`)),
      operatorKey: operator.privateKey,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      model: { id: this.modelId, path: this.modelPath },
      roles: {
        router: { impl: 'score', quorumSize, maxAttempts: 3, stallMs: this.#opts.stallMs ?? 3000, pricePerTokenWei: '1000000000' },
        executor: { impl: 'pipeline', shards: devnetShards(index, this.#opts.nodes, this.shardCount), backend: 'auto', threads: 1 },
        quorum: { impl: 'reexec', backend: 'auto', threads: 1 },
        // Batches close 200 ms after their first receipt: short, so the demo's one request settles quickly.
        settler: { impl: 'batch', flushMs: 200, journalDir: path.join(this.#opts.dir, `node-${index}-batches`) },
        // The first node proves receipts for 'proof' requests (routers elsewhere ask it
        // over the mesh). Its workers start on the first proof, so other modes pay nothing.
        ...(index === 0 ? { prover: { impl: 'groth16', backend: 'auto' as const, maxQueued: 16, concurrency: 1 } } : {})
      },
      chain: {
        rpcUrl: this.chain.url,
        chainId: this.chain.chainId,
        contracts: {
          settlement: this.contracts.settlement,
          quorumRegistry: this.contracts.quorumRegistry,
          nodeRegistry: this.contracts.nodeRegistry,
          params: this.contracts.params,
          token: this.contracts.token,
          modelRegistry: this.contracts.modelRegistry
        },
        confirmations: 1
      },
      mesh: { heartbeatMs: this.#opts.heartbeatMs ?? 500, livenessMs: 3 * (this.#opts.heartbeatMs ?? 500) + 500, pingMs: 1000, stakes },
      metrics: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      actors: { askTimeoutMs: 10_000, mailboxCapacity: 10_000 }
    }
    return this.#opts.override?.(index, config) ?? config
  }

  async #startNodes (quorumSize: number): Promise<void> {
    const first = await this.#spawnNode(0, this.configFor(0, quorumSize, []))
    const bootstrap = first.addrs.map((a) => a.includes('/p2p/') ? a : `${a}/p2p/${first.peerId}`)
    await Promise.all(Array.from({ length: this.#opts.nodes - 1 }, async (_, k) => {
      await this.#spawnNode(k + 1, this.configFor(k + 1, quorumSize, bootstrap))
    }))
  }

  async #spawnNode (index: number, config: NodeConfig): Promise<DevnetNode> {
    const name = config.name
    const configFile = path.join(this.#opts.dir, `${name}.json`)
    const logFile = path.join(this.#opts.dir, `${name}.log`)
    await writeFile(configFile, JSON.stringify(config, null, 2) + '\n')
    const log = createWriteStream(logFile, { flags: 'a' })
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, VERIMESH_PARENT_WATCH: '1' }
    })
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        log.write(chunk)
        if (this.#opts.verbose === true) process.stderr.write(chunk)
      })
    }
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        log.end()
        resolve(code ?? (signal === null ? null : 128))
      })
    })
    const ready = await new Promise<NodeReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VerimeshError('DEADLINE_EXCEEDED', `${name} did not become ready within 30 s (see ${logFile})`, { logFile })), 30_000)
      child.on('message', (m: NodeReady) => {
        if (m?.type === 'ready') { clearTimeout(timer); resolve(m) }
      })
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new VerimeshError('INTERNAL', `${name} exited with code ${String(code)} before it was ready (see ${logFile})`, { logFile, code }))
      })
    })
    const node: DevnetNode = { index, name, config, configFile, logFile, peerId: ready.peerId, addrs: ready.addrs, metricsUrl: ready.metricsUrl, child, exited }
    this.nodes.push(node)
    this.nodes.sort((a, b) => a.index - b.index)
    this.#opts.onProgress?.(`${name} ready: peer …${ready.peerId.slice(-8)}, shards [${(config.roles.executor?.shards ?? []).join(',')}]${config.roles.prover === undefined ? '' : ', prover'}`)
    return node
  }

  /** Hard-kill one node (tests: an executor dying mid-request). */
  kill (index: number, signal: NodeJS.Signals = 'SIGKILL'): void {
    this.nodes.find((n) => n.index === index)?.child.kill(signal)
  }

  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.nodes.map(async (n) => {
        if (n.child.exitCode !== null || n.child.signalCode !== null) return
        n.child.kill('SIGTERM')
        const hard = setTimeout(() => n.child.kill('SIGKILL'), 5_000)
        await n.exited
        clearTimeout(hard)
      }))
      await this.chain.stop()
    })()
    await this.#stopping
  }
}

/**
 * Deploy the protocol from dev account 0 with the deployer as governance (a devnet
 * has nobody to vote), size the quorum to the devnet, fund the operators' stakes and
 * the demo client's deposit.
 */
async function deployDevnetProtocol (chain: EmbeddedChain, nodes: number, manifest: Awaited<ReturnType<typeof readManifest>>, progress: (m: string) => void): Promise<Devnet['contracts']> {
  const provider = connectProvider(chain.url, { chainId: chain.chainId, pollingInterval: 50 })
  try {
    const deployerWallet = new Wallet(chain.accounts[0]!.privateKey, provider)
    // The circuits' verifiers exist once `npm run circuits:build` ran: then receipt
    // proofs can finalise receipts and the dispute game can end in a tile-step proof.
    const verifiers = await deployCircuitVerifiers(deployerWallet, path.join(repoRoot(), 'circuits', 'build'), { onProgress: progress })
    const addresses = await deployProtocol(deployerWallet, { governance: 'deployer', ...verifierDeployOptions(verifiers) })
    if (addresses.settlement === undefined || addresses.quorumRegistry === undefined) {
      throw new VerimeshError('INTERNAL', 'deployProtocol did not deploy the settlement and quorum registry')
    }
    const contracts = { ...addresses, settlement: addresses.settlement, quorumRegistry: addresses.quorumRegistry }
    const deployer = await TxSender.create(deployerWallet, { pollIntervalMs: 50 })
    const params = connectProtocolParams(contracts.params, provider)
    const token = connectVerimeshToken(contracts.token, provider)
    const settlement = connectBatchSettlement(contracts.settlement, provider)
    await deployer.sendCall(params, 'setQuorumSize', [Math.min(3, nodes)], { label: 'ProtocolParams.setQuorumSize' })
    await deployer.sendCall(params, 'setChallengeWindow', [60], { label: 'ProtocolParams.setChallengeWindow' })
    // The served model, registered so nodes and clients can check the root they run.
    await deployer.sendCall(connectModelRegistry(contracts.modelRegistry, provider), 'registerModel', [
      manifest.name, '0x' + manifest.root, manifest.shards.map((sh) => '0x' + sh.root), '0x' + '00'.repeat(32), 0n, ''
    ], { label: 'ModelRegistry.registerModel' })
    for (let i = 0; i < nodes; i++) {
      await deployer.sendCall(token, 'transfer', [chain.accounts[i + 1]!.address, devnetStake(i)], { label: `token → node-${i}` })
    }
    // The demo client: tokens, approval and a deposit, signed with its own key.
    const clientWallet = new Wallet(chain.accounts[nodes + 1]!.privateKey, provider)
    await deployer.sendCall(token, 'transfer', [clientWallet.address, DEVNET_CLIENT_DEPOSIT], { label: 'token → client' })
    const client = await TxSender.create(clientWallet, { pollIntervalMs: 50 })
    await client.sendCall(token, 'approve', [contracts.settlement, DEVNET_CLIENT_DEPOSIT], { label: 'client approve' })
    await client.sendCall(settlement, 'deposit', [DEVNET_CLIENT_DEPOSIT], { label: 'client deposit' })
    progress(`protocol deployed: settlement ${contracts.settlement}, quorum registry ${contracts.quorumRegistry}, node registry ${contracts.nodeRegistry}` +
      (contracts.disputes === undefined ? ' (no disputes: circuits not built)' : `, disputes ${contracts.disputes}`))
    return contracts
  } finally {
    provider.destroy()
  }
}
