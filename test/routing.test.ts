import test from 'ava'
import { MeshTable, percentile, type PeerInfo } from '../runtime/node/mesh.js'
import { sampleQuorum, scorePeers, selectCluster } from '../actors/router/scoring.js'
import { isVerimeshError } from '../runtime/errors.js'
import type { MeshHeartbeatMsg } from '../runtime/protocol/messages.js'

const op = (i: number): string => '0x' + i.toString(16).padStart(40, '0')

function peer (i: number, over: Partial<PeerInfo> = {}): PeerInfo {
  return {
    peer: `peer-${i}`, operator: op(i), addrs: [], roles: ['router', 'executor', 'quorum'], model: 'm', shards: [0, 1],
    startedAt: 0, lastSeen: 0, uptime: 1, p95LatencyMs: 1, live: true, ...over
  }
}

test('score weighs stake, uptime and latency', (t) => {
  const stakes = { [op(1)]: '1000', [op(2)]: '500' }
  const [a, b] = scorePeers([peer(1), peer(2)], stakes)
  t.true(a!.score > b!.score)
  const [slow, fast] = scorePeers([peer(1, { p95LatencyMs: 100 }), peer(2, { p95LatencyMs: 1 })], { [op(1)]: '1000', [op(2)]: '1000' })
  t.true(fast!.score > slow!.score)
  const [down, up] = scorePeers([peer(1, { uptime: 0.2 }), peer(2)], { [op(1)]: '1000', [op(2)]: '1000' })
  t.true(up!.score > down!.score)
})

test('stakes larger than 2^53 score without precision loss', (t) => {
  const big = (2n ** 80n).toString()
  const [a, b] = scorePeers([peer(1), peer(2)], { [op(1)]: big, [op(2)]: (2n ** 79n).toString() })
  t.is(a!.score - b!.score, 0.25)
})

test('cluster selection covers every shard, prefers distinct peers, and is deterministic', (t) => {
  const peers = [peer(1, { shards: [0] }), peer(2, { shards: [1] }), peer(3, { shards: [0, 1] })]
  const stakes = { [op(1)]: '100', [op(2)]: '100', [op(3)]: '900' }
  const scored = scorePeers(peers, stakes)
  const hops = selectCluster(scored, 'm', 2)
  t.deepEqual(hops.map((h) => h.shard), [0, 1])
  // peer-3 has the best score for shard 0; shard 1 then goes to a peer not yet used.
  t.deepEqual(hops.map((h) => h.peer.info.peer), ['peer-3', 'peer-2'])
  t.deepEqual(selectCluster([...scored].reverse(), 'm', 2).map((h) => h.peer.info.peer), ['peer-3', 'peer-2'])
  // excluding the suspect reroutes around it
  t.deepEqual(selectCluster(scored, 'm', 2, new Set(['peer-3'])).map((h) => h.peer.info.peer), ['peer-1', 'peer-2'])
})

test('cluster selection names the shards nobody holds', (t) => {
  const scored = scorePeers([peer(1, { shards: [0] }), peer(2, { shards: [1], live: false })], {})
  const err = t.throws(() => selectCluster(scored, 'm', 2))
  t.true(isVerimeshError(err, 'NO_CLUSTER'))
  t.deepEqual((err as unknown as { context: { missing: number[] } }).context.missing, [1])
})

test('quorum sampling is reproducible, request-dependent, and avoids executors when it can', (t) => {
  const vals = [1, 2, 3, 4, 5, 6].map((i) => peer(i))
  const id1 = '0x' + '11'.repeat(32)
  const id2 = '0x' + '22'.repeat(32)
  const q1 = sampleQuorum(id1, vals, 2, new Set())
  t.deepEqual(q1, sampleQuorum(id1, [...vals].reverse(), 2, new Set()))
  const picks = new Set<string>()
  for (let i = 0; i < 16; i++) sampleQuorum('0x' + i.toString(16).padStart(64, '0'), vals, 2, new Set()).forEach((p) => picks.add(p.peer))
  t.true(picks.size > 2, 'different requests draw different quorums')
  const avoid = new Set(q1.map((p) => p.peer))
  const q2 = sampleQuorum(id1, vals, 2, avoid)
  t.false(q2.some((p) => avoid.has(p.peer)))
  t.is(sampleQuorum(id2, vals.slice(0, 2), 2, new Set(['peer-1'])).length, 2, 'falls back to executors when needed')
})

test('mesh table: liveness, uptime from heartbeat arrivals, p95 from pings, restart resets history', (t) => {
  let now = 0
  const mesh = new MeshTable({ heartbeatMs: 100, livenessMs: 350, now: () => now })
  const hb = (seq: number, startedAt = 1): MeshHeartbeatMsg => ({ type: 'mesh.heartbeat', peer: 'p', operator: op(1), addrs: [], roles: ['executor'], model: 'm', shards: [0], seq, startedAt, sentAt: now })
  for (let i = 0; i < 10; i++) { mesh.observeHeartbeat(hb(i)); now += 100 }
  now -= 100
  t.is(mesh.peer('p')!.uptime, 1)
  t.true(mesh.peer('p')!.live)
  now += 1000 // ten missed beats
  t.false(mesh.peer('p')!.live)
  t.true(mesh.peer('p')!.uptime < 0.6)
  for (const ms of [1, 2, 3, 4, 100]) mesh.observeLatency('p', ms)
  t.is(mesh.peer('p')!.p95LatencyMs, 100)
  mesh.observeHeartbeat(hb(0, 2))
  t.true(mesh.peer('p')!.live)
  t.is(mesh.peer('p')!.uptime, 1, 'a restarted peer starts a fresh uptime window')
  mesh.observeHeartbeat(hb(5, 1 /* stale incarnation */))
  t.is(percentile([], 0.95), null)
})
