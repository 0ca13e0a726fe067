// A thin client: a bare mesh peer that signs requests (EIP-712) and asks a router.
// The SDK and gateway of later issues grow from this.

import { Wallet } from 'ethers'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { VerimeshError } from '../errors.js'
import type { InferenceRequest, InferResultMsg, RouterStatusReplyMsg } from '../protocol/messages.js'
import { requestId, signRequest } from '../protocol/request.js'
import { startPeer, type Peer } from '../node/peer.js'
import type { Logger } from '../node/logger.js'
import type { Message } from '../actors/types.js'

export interface InferParams {
  model: string
  prompt: string
  maxTokens?: number
  temperatureMilli?: number
  topK?: number
  topPMilli?: number
  seed?: bigint
  feeCapWei?: bigint
  latencyBoundMs?: number
  verification?: InferenceRequest['verification']
}

export class MeshClient {
  readonly #peer: Peer
  readonly #chainId: number

  private constructor (peer: Peer, chainId: number) {
    this.#peer = peer
    this.#chainId = chainId
  }

  static async connect (opts: { logger: Logger, chainId: number, bootstrap?: string[] }): Promise<MeshClient> {
    const peer = await startPeer({ logger: opts.logger, bootstrap: opts.bootstrap ?? [] })
    return new MeshClient(peer, opts.chainId)
  }

  get peerId (): string {
    return this.#peer.peerId
  }

  /** Tell libp2p where a node listens, so asks to it can dial. */
  async addPeer (peerId: string, addrs: readonly string[]): Promise<void> {
    await this.#peer.libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: addrs.map((a) => multiaddr(a)) })
  }

  async status (routerPeer: string, timeoutMs = 5_000): Promise<RouterStatusReplyMsg> {
    return await this.#peer.system.ref(`${routerPeer}/user/router`).ask<RouterStatusReplyMsg>({ type: 'router.status' }, { timeoutMs })
  }

  /** Poll a router until it sees `peers` live peers covering every shard. */
  async waitForMesh (routerPeer: string, peers: number, timeoutMs: number): Promise<RouterStatusReplyMsg> {
    const until = Date.now() + timeoutMs
    let last: RouterStatusReplyMsg | undefined
    let lastErr: unknown
    while (Date.now() < until) {
      try {
        last = await this.status(routerPeer, Math.min(2_000, Math.max(1, until - Date.now())))
        const live = last.peers.filter((p) => p.lastSeenMs < 3_000).length
        if (live >= peers && last.coveredShards.length === last.shardCount) return last
      } catch (err) {
        lastErr = err
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new VerimeshError('DEADLINE_EXCEEDED', `mesh did not form within ${timeoutMs} ms: router sees ${last?.peers.length ?? 0}/${peers} peers, shards ${JSON.stringify(last?.coveredShards ?? [])}`, { lastError: lastErr instanceof Error ? lastErr.message : undefined })
  }

  buildRequest (wallet: Wallet, p: InferParams): InferenceRequest {
    const latencyBoundMs = p.latencyBoundMs ?? 30_000
    return {
      model: p.model,
      prompt: p.prompt,
      maxTokens: p.maxTokens ?? 16,
      temperatureMilli: p.temperatureMilli ?? 0,
      topK: p.topK ?? 1,
      topPMilli: p.topPMilli ?? 1000,
      seed: (p.seed ?? 0n).toString(),
      feeCap: (p.feeCapWei ?? 10n ** 15n).toString(),
      latencyBoundMs,
      verification: p.verification ?? 'quorum',
      nonce: BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)) + '',
      deadline: Date.now() + latencyBoundMs,
      client: wallet.address
    }
  }

  /** Sign and submit; resolves with the router's result or rejects with its error. */
  async infer (routerPeer: string, wallet: Wallet, p: InferParams): Promise<{ requestId: string, result: InferResultMsg }> {
    const request = this.buildRequest(wallet, p)
    const signature = await signRequest(wallet, request, this.#chainId)
    const result = await this.submit(routerPeer, request, signature)
    return { requestId: requestId(request, this.#chainId), result }
  }

  async submit (routerPeer: string, request: InferenceRequest, signature: string): Promise<InferResultMsg> {
    // Leave the router its whole latency bound plus settlement time before giving up.
    const timeoutMs = request.latencyBoundMs + 30_000
    return await this.#peer.system.ref(`${routerPeer}/user/router`).ask<InferResultMsg>({ type: 'infer.submit', request, signature }, { timeoutMs })
  }

  /** Ask any actor in the mesh (`peer` + a path such as /user/quorum): tools and tests. */
  async ask<R extends Message = Message> (peer: string, actorPath: string, msg: Message, timeoutMs = 10_000): Promise<R> {
    return await this.#peer.system.ref(`${peer}${actorPath}`).ask<R>(msg, { timeoutMs })
  }

  async stop (): Promise<void> {
    await this.#peer.stop()
  }
}
