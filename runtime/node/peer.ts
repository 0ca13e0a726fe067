// A mesh peer without roles: libp2p host + actor system + transport. Nodes add roles
// on top; clients (the demo, tests, the future SDK) use it bare to ask routers.

import { ActorSystem } from '../actors/system.js'
import { Libp2pTransport } from '../net/transport.js'
import { createLibp2pNode, type VerimeshLibp2p } from '../net/libp2p.js'
import { MessageRegistry } from '../protocol/registry.js'
import { PROTOCOL_MESSAGES } from '../protocol/messages.js'
import { registerSystemMessages } from '../protocol/system-messages.js'
import type { Logger } from './logger.js'

export interface PeerOptions {
  identitySeed?: string
  listen?: string[]
  bootstrap?: string[]
  askTimeoutMs?: number
  mailboxCapacity?: number
  logger: Logger
}

export interface Peer {
  readonly peerId: string
  readonly libp2p: VerimeshLibp2p
  readonly system: ActorSystem
  readonly transport: Libp2pTransport
  stop: () => Promise<void>
}

export async function startPeer (opts: PeerOptions): Promise<Peer> {
  const libp2p = await createLibp2pNode({
    identity: opts.identitySeed === undefined ? {} : { seed: opts.identitySeed },
    listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: opts.bootstrap ?? []
  })
  const peerId = libp2p.peerId.toString()
  const { logger } = opts
  const system = new ActorSystem({
    peerId,
    ...(opts.askTimeoutMs === undefined ? {} : { askTimeoutMs: opts.askTimeoutMs }),
    ...(opts.mailboxCapacity === undefined ? {} : { defaultMailboxCapacity: opts.mailboxCapacity }),
    logger: (level, msg, fields) => { logger[level]({ ...fields }, msg) }
  })
  const registry = registerSystemMessages(new MessageRegistry(PROTOCOL_MESSAGES))
  const transport = new Libp2pTransport({ libp2p, system, registry, logger })
  try {
    await transport.start()
  } catch (err) {
    await libp2p.stop()
    throw err
  }
  system.setTransport(transport)
  let stopping: Promise<void> | undefined
  return {
    peerId,
    libp2p,
    system,
    transport,
    stop: async () => {
      stopping ??= (async () => {
        await system.stop()
        await transport.stop()
        await libp2p.stop()
      })()
      await stopping
    }
  }
}
