// Joining the protocol as a node operator: fund the stake, register the node (peer id,
// roles, BLS key with its proof of possession) and bond the stake. Used by the devnet
// for its nodes; the same steps an operator runs against a public deployment.

import { getAddress, type Signer } from 'ethers'
import { peerIdFromString } from '@libp2p/peer-id'
import { VerimeshError } from '../errors.js'
import { proofOfPossession, type BlsKeyPair } from '../crypto/bls.js'
import { TxSender } from './tx-sender.js'
import { connectNodeRegistry, connectVerimeshToken } from './types/index.js'

/** NodeRegistry role bits (contracts/NodeRegistry.sol ROLE_*). */
export const ROLE_BITS = { router: 1, executor: 2, prover: 4, quorum: 8, settler: 16 } as const
export type RoleBitName = keyof typeof ROLE_BITS

export function roleMask (roles: readonly string[]): number {
  let mask = 0
  for (const r of roles) {
    const bit = ROLE_BITS[r as RoleBitName]
    if (bit === undefined) throw new VerimeshError('CONFIG_INVALID', `unknown role '${r}' (roles: ${Object.keys(ROLE_BITS).join(', ')})`, { role: r })
    mask |= bit
  }
  return mask
}

export interface RegisterOperatorOptions {
  nodeRegistry: string
  token: string
  /** The libp2p peer id as its string form (12D3Koo…). */
  peerId: string
  roles: readonly string[]
  /** Required for the quorum role. */
  bls?: BlsKeyPair
  /** Bonded at registration (token units); the operator must hold it. */
  stake: bigint
  /** Sends the transactions (its events, its settings); default: one made for `operator`. */
  sender?: TxSender
}

/** Register `operator`'s node and bond its stake; resolves once every transaction is mined. */
export async function registerOperator (operator: Signer, opts: RegisterOperatorOptions): Promise<{ gasUsed: bigint }> {
  const provider = operator.provider
  if (provider === null) throw new VerimeshError('CONFIG_INVALID', 'the operator signer has no provider')
  const address = getAddress(await operator.getAddress())
  const { chainId } = await provider.getNetwork()
  const sender = opts.sender ?? await TxSender.create(operator, { pollIntervalMs: 50 })
  const registry = connectNodeRegistry(opts.nodeRegistry, provider)
  const token = connectVerimeshToken(opts.token, provider)
  let peerBytes: Uint8Array
  try {
    peerBytes = peerIdFromString(opts.peerId).toMultihash().bytes
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `peer id ${opts.peerId} is not a libp2p peer id`, { peerId: opts.peerId }, { cause: err })
  }
  const zero2 = [0n, 0n] as const
  const keys = opts.bls === undefined
    ? { g1: zero2, g2: [0n, 0n, 0n, 0n] as const, pop: zero2 }
    : { g1: opts.bls.g1, g2: opts.bls.g2, pop: proofOfPossession(opts.bls.secretKey, chainId, address) }
  let gasUsed = 0n
  gasUsed += (await sender.sendCall(registry, 'register', [peerBytes, roleMask(opts.roles), keys.g1, keys.g2, keys.pop], { label: `NodeRegistry.register(${address})` })).gasUsed
  if (opts.stake > 0n) {
    gasUsed += (await sender.sendCall(token, 'approve', [opts.nodeRegistry, opts.stake], { label: 'VerimeshToken.approve(registry)' })).gasUsed
    gasUsed += (await sender.sendCall(registry, 'stake', [opts.stake], { label: `NodeRegistry.stake(${opts.stake})` })).gasUsed
  }
  return { gasUsed }
}
