// A Verimesh node: libp2p host, actor system, transport, mesh heartbeats, metrics, and
// the configured roles spawned under the root supervisor. `startNode` returns once the
// node is serving; `stop` releases everything it took, in reverse order.

import path from 'node:path'
import { Wallet } from 'ethers'
import type { ActorSystem } from '../actors/system.js'
import type { VerimeshLibp2p } from '../net/libp2p.js'
import { VerimeshError } from '../errors.js'
import { ROLE_NAMES, rolePath, type RoleInstance, type RoleName } from '../../actors/roles.js'
import { resolveRole } from '../../actors/registry.js'
import { openModel } from '../../actors/engine/open-model.js'
import type { NodeConfig } from './config.js'
import { HeartbeatService } from './heartbeat.js'
import { createLogger, type Logger, type LogLevel } from './logger.js'
import { MeshTable } from './mesh.js'
import { NodeMetrics } from './metrics.js'
import { startPeer } from './peer.js'

export interface StartNodeOptions {
  /** Relative module paths in `roles.*.impl` resolve against this. */
  configDir?: string
  logger?: Logger
  /** Called once if the root supervisor gives up (a role keeps crashing). */
  onFatal?: (err: VerimeshError) => void
}

export interface RunningNode {
  readonly name: string
  readonly peerId: string
  readonly addrs: string[]
  readonly operator: string
  readonly metricsUrl: string | null
  readonly roles: RoleName[]
  readonly system: ActorSystem
  readonly mesh: MeshTable
  readonly libp2p: VerimeshLibp2p
  stop: () => Promise<void>
}

export async function startNode (config: NodeConfig, opts: StartNodeOptions = {}): Promise<RunningNode> {
  const operator = new Wallet(config.operatorKey)
  const baseLogger = opts.logger ?? createLogger({ level: config.log.level as LogLevel })
  // The model first: a missing or corrupt package fails the node before it joins the mesh.
  const model = await openModel(config.model)
  const peer = await startPeer({
    ...(config.identitySeed === undefined ? {} : { identitySeed: config.identitySeed }),
    listen: config.listen,
    bootstrap: config.bootstrap,
    askTimeoutMs: config.actors.askTimeoutMs,
    mailboxCapacity: config.actors.mailboxCapacity,
    logger: baseLogger.child({ node: config.name })
  })
  const { libp2p, system, peerId } = peer
  const logger = baseLogger.child({ node: config.name, peer: peerId.slice(-8) })
  const cleanup: Array<() => Promise<void> | void> = [peer.stop]
  const runCleanup = async (): Promise<void> => {
    for (const step of cleanup.reverse()) {
      try { await step() } catch (err) { logger.warn({ err: (err as Error).message }, 'error during shutdown') }
    }
    cleanup.length = 0
  }

  try {
    const metrics = new NodeMetrics({ node: config.name })
    system.on('deadLetter', (letter) => {
      metrics.deadLetters.inc()
      logger.debug({ target: letter.target, type: letter.message.type, reason: letter.reason }, 'dead letter')
    })
    let fatal = false
    system.on('escalated', (info) => {
      metrics.actorEscalations.inc()
      logger.fatal({ ...info }, 'root supervisor gave up: a role keeps crashing')
      if (!fatal) {
        fatal = true
        opts.onFatal?.(new VerimeshError('ACTOR_CRASHED', 'root supervisor intensity exceeded', { ...info }))
      }
    })

    const mesh = new MeshTable({ heartbeatMs: config.mesh.heartbeatMs, livenessMs: config.mesh.livenessMs })
    const roles = ROLE_NAMES.filter((r) => config.roles[r] !== undefined)
    const servedShards = config.roles.executor?.shards ?? []
    const startedAt = Date.now()
    const heartbeat = new HeartbeatService({
      libp2p,
      mesh,
      logger,
      heartbeatMs: config.mesh.heartbeatMs,
      pingMs: config.mesh.pingMs,
      announce: () => ({
        type: 'mesh.heartbeat',
        peer: peerId,
        operator: operator.address,
        addrs: libp2p.getMultiaddrs().map((a) => a.toString()).slice(0, 16),
        roles,
        model: config.model.id,
        shards: servedShards,
        startedAt
      })
    })

    const instances: RoleInstance[] = []
    cleanup.push(async () => { for (const i of instances) await i.close?.() })
    const baseDir = opts.configDir ?? process.cwd()
    for (const role of roles) {
      const section = config.roles[role]!
      const mod = await resolveRole(role, section.impl, baseDir)
      const { impl: _impl, ...options } = section as Record<string, unknown>
      const instance = await mod.create({ system, config, options, operator, mesh, logger: logger.child({ role }), metrics, model })
      instances.push(instance)
      system.spawn(rolePath(role).slice('/user/'.length), instance.factory)
      logger.info({ role, impl: mod.name }, 'role started')
    }

    heartbeat.start()
    cleanup.push(() => { heartbeat.stop() })
    const peersGauge = setInterval(() => { metrics.peers.set(mesh.peers().filter((p) => p.live).length) }, config.mesh.heartbeatMs)
    peersGauge.unref()
    cleanup.push(() => { clearInterval(peersGauge) })

    let metricsUrl: string | null = null
    if (config.metrics !== false) {
      const served = await metrics.serve(config.metrics.host, config.metrics.port)
      metricsUrl = `http://${config.metrics.host}:${served.port}/metrics`
      cleanup.push(served.close)
    }

    const addrs = libp2p.getMultiaddrs().map((a) => a.toString())
    logger.info({ peerId, addrs, operator: operator.address, roles, metrics: metricsUrl }, 'node ready')
    let stopping: Promise<void> | undefined
    return {
      name: config.name,
      peerId,
      addrs,
      operator: operator.address,
      metricsUrl,
      roles,
      system,
      mesh,
      libp2p,
      stop: async () => {
        stopping ??= (async () => {
          logger.info('node stopping')
          await runCleanup()
          logger.info('node stopped')
        })()
        await stopping
      }
    }
  } catch (err) {
    await runCleanup()
    throw err
  }
}

export function configDirOf (file: string): string {
  return path.dirname(path.resolve(file))
}
