// Building the libp2p node every Verimesh process runs: TCP + noise + yamux,
// identify, ping, gossipsub, optional bootstrap, and a stable Ed25519 identity.
//
// The caller must have loaded runtime/polyfills.js first (libp2p 3 needs
// Promise.withResolvers, which Node 20 lacks).

import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { VerimeshError } from '../errors.js'

export interface VerimeshServices {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  [key: string]: unknown
}

export type VerimeshLibp2p = Libp2p<VerimeshServices>

/** Where the node's key comes from; first match wins: privateKey, seed, keyFile, else a fresh key. */
export interface IdentityOptions {
  privateKey?: PrivateKey
  /**
   * Deterministic key for devnets and tests. A 32-byte Uint8Array or a `0x` + 64 hex
   * string (the config's identitySeed) is the Ed25519 seed itself; any other string
   * or byte length is hashed with SHA-256 first, so 'node-a' works too. The same seed
   * always gives the same peer id: never use a guessable one on a real network.
   */
  seed?: string | Uint8Array
  /**
   * Persistent key: read (protobuf-encoded private key, as libp2p marshals it) or,
   * when the file does not exist yet, generated and written with mode 0600.
   */
  keyFile?: string
}

export interface Libp2pNodeOptions {
  identity?: IdentityOptions
  /** Listen multiaddrs. Default: one ephemeral loopback TCP port. */
  listen?: string[]
  /** Addresses to announce instead of the listen addresses (e.g. behind NAT). */
  announce?: string[]
  /** Multiaddrs with /p2p/<peerId> of peers to dial at start (and keep tagged). */
  bootstrap?: string[]
  /** Start the node before returning. Default true. */
  start?: boolean
  /** Gossipsub options beyond our defaults. */
  pubsub?: Parameters<typeof gossipsub>[0]
  /** Connection manager limits etc.; passed through. */
  connectionManager?: Libp2pOptions['connectionManager']
}

export async function createLibp2pNode (opts: Libp2pNodeOptions = {}): Promise<VerimeshLibp2p> {
  const privateKey = await loadIdentity(opts.identity ?? {})
  const bootstrapList = opts.bootstrap ?? []
  const node = await createLibp2p<VerimeshServices>({
    privateKey,
    start: opts.start ?? true,
    addresses: {
      listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      ...(opts.announce !== undefined ? { announce: opts.announce } : {})
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The bootstrap module refuses an empty list, so it is only added when there is one.
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 0 })] : [],
    ...(opts.connectionManager !== undefined ? { connectionManager: opts.connectionManager } : {}),
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Heartbeats and other announcements are published whether or not anyone
        // listens yet; a lone node must not get an error for that.
        allowPublishToZeroTopicPeers: true,
        ...opts.pubsub
      })
    }
  })
  return node
}

/** Resolve the identity options to a private key (see IdentityOptions for precedence). */
export async function loadIdentity (id: IdentityOptions): Promise<PrivateKey> {
  if (id.privateKey !== undefined) return id.privateKey
  if (id.seed !== undefined) return await keyFromSeed(id.seed)
  if (id.keyFile !== undefined) return await loadOrCreateKeyFile(id.keyFile)
  return await generateKeyPair('Ed25519')
}

export async function keyFromSeed (seed: string | Uint8Array): Promise<PrivateKey> {
  return await generateKeyPairFromSeed('Ed25519', seedBytes(seed))
}

/** The peer id a node started with this identity seed will have (to register it before it runs). */
export async function peerIdOfSeed (seed: string | Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await keyFromSeed(seed)).toString()
}

function seedBytes (seed: string | Uint8Array): Uint8Array {
  if (seed instanceof Uint8Array && seed.byteLength === 32) return seed
  if (typeof seed === 'string' && /^0x[0-9a-fA-F]{64}$/.test(seed)) return new Uint8Array(Buffer.from(seed.slice(2), 'hex'))
  return new Uint8Array(createHash('sha256').update(seed).digest())
}

export async function loadOrCreateKeyFile (path: string): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new VerimeshError('CONFIG_INVALID', `cannot read key file ${path}: ${(err as Error).message}`, { path }, { cause: err })
    }
    const key = await generateKeyPair('Ed25519')
    await mkdir(dirname(path), { recursive: true })
    // 'wx' so two processes starting at once cannot both write (and disagree on) the key.
    try {
      await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
      return key
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return await loadOrCreateKeyFile(path)
      throw new VerimeshError('CONFIG_INVALID', `cannot write key file ${path}: ${(e as Error).message}`, { path }, { cause: e })
    }
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `key file ${path} does not hold a libp2p private key: ${(err as Error).message}`, { path }, { cause: err })
  }
}
