// Pure, deterministic routing decisions: the same mesh view and request give the same
// cluster and the same quorum on every router.

import { keccak256, toUtf8Bytes, concat, getBytes } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { PeerInfo } from '../../runtime/node/mesh.js'

export interface ScoreWeights {
  stake: number
  uptime: number
  latency: number
}

export const DEFAULT_WEIGHTS: ScoreWeights = { stake: 0.5, uptime: 0.3, latency: 0.2 }

/** p95 at which the latency term is worth half its weight. */
const LATENCY_HALF_MS = 10

export interface ScoredPeer {
  info: PeerInfo
  stake: bigint
  score: number
}

/**
 * Score in [0, 1]: stake relative to the largest stake seen, uptime, and a latency term
 * 1 / (1 + p95 / 10 ms) (0.5 before any ping sample). Rounded to 1e-9 so that float
 * noise cannot reorder peers whose inputs are equal.
 */
export function scorePeers (peers: readonly PeerInfo[], stakes: Readonly<Record<string, string>>, w: ScoreWeights = DEFAULT_WEIGHTS): ScoredPeer[] {
  const stakeOf = (p: PeerInfo): bigint => BigInt(stakes[p.operator.toLowerCase()] ?? stakes[p.operator] ?? '0')
  const maxStake = peers.reduce((m, p) => { const s = stakeOf(p); return s > m ? s : m }, 0n)
  return peers.map((info) => {
    const stake = stakeOf(info)
    // bigint ratio to 1e-6 precision, then to number: stakes can exceed 2^53.
    const stakeTerm = maxStake === 0n ? 0 : Number((stake * 1_000_000n) / maxStake) / 1_000_000
    const latencyTerm = info.p95LatencyMs === null ? 0.5 : 1 / (1 + info.p95LatencyMs / LATENCY_HALF_MS)
    const raw = w.stake * stakeTerm + w.uptime * info.uptime + w.latency * latencyTerm
    return { info, stake, score: Math.round(raw * 1e9) / 1e9 }
  })
}

function byScoreThenId (a: ScoredPeer, b: ScoredPeer): number {
  return (b.score - a.score) || (a.info.peer < b.info.peer ? -1 : a.info.peer > b.info.peer ? 1 : 0)
}

export interface Hop {
  shard: number
  peer: ScoredPeer
}

/**
 * One executor per shard, best score first. Peers not yet used are preferred, so that
 * when the mesh allows it no single node runs (and sees) the whole model.
 */
export function selectCluster (candidates: readonly ScoredPeer[], model: string, shardCount: number, exclude: ReadonlySet<string> = new Set()): Hop[] {
  const eligible = candidates
    .filter((c) => c.info.live && c.info.model === model && c.info.roles.includes('executor') && !exclude.has(c.info.peer))
    .sort(byScoreThenId)
  const used = new Set<string>()
  const hops: Hop[] = []
  const missing: number[] = []
  for (let shard = 0; shard < shardCount; shard++) {
    const holders = eligible.filter((c) => c.info.shards.includes(shard))
    const pick = holders.find((c) => !used.has(c.info.peer)) ?? holders[0]
    if (pick === undefined) {
      missing.push(shard)
      continue
    }
    used.add(pick.info.peer)
    hops.push({ shard, peer: pick })
  }
  if (missing.length > 0) {
    throw new VerimeshError('NO_CLUSTER', `no live executor holds shard(s) ${missing.join(', ')} of model '${model}'`, { model, missing, excluded: [...exclude] })
  }
  return hops
}

/**
 * A quorum drawn by ranking validators by keccak(requestId ‖ peerId): unpredictable
 * before the request exists, reproducible by anyone after. Validators that executed the
 * request are taken only when there are not enough others.
 */
export function sampleQuorum (requestId: string, validators: readonly PeerInfo[], size: number, avoid: ReadonlySet<string>): PeerInfo[] {
  const rank = (p: PeerInfo): string => keccak256(concat([getBytes(requestId), toUtf8Bytes(p.peer)]))
  const ranked = validators
    .filter((v) => v.live && v.roles.includes('quorum'))
    .map((v) => ({ v, r: rank(v) }))
    .sort((a, b) => a.r < b.r ? -1 : a.r > b.r ? 1 : 0)
  const fresh = ranked.filter((x) => !avoid.has(x.v.peer))
  const reused = ranked.filter((x) => avoid.has(x.v.peer))
  return [...fresh, ...reused].slice(0, size).map((x) => x.v)
}
