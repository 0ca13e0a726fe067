import test from 'ava'
import { createLibp2pNode } from '../runtime/net/libp2p.js'
import { TopicPubSub } from '../runtime/net/pubsub.js'
import { HEARTBEAT_TOPIC, HeartbeatService } from '../runtime/node/heartbeat.js'
import { MeshTable } from '../runtime/node/mesh.js'
import { MessageRegistry } from '../runtime/protocol/registry.js'
import { MeshHeartbeat, type MeshHeartbeatMsg } from '../runtime/protocol/messages.js'
import { silentLogger } from '../runtime/node/logger.js'

test('heartbeats: a peer is learned from its own announcements, one claiming another id is refused', async (t) => {
  const a = await createLibp2pNode({ identity: { seed: 'heartbeat-a' } })
  const b = await createLibp2pNode({ identity: { seed: 'heartbeat-b' } })
  const mesh = new MeshTable({ heartbeatMs: 100, livenessMs: 1000 })
  const service = new HeartbeatService({
    libp2p: a, mesh, logger: silentLogger(), heartbeatMs: 100, pingMs: 10_000,
    announce: () => ({ type: 'mesh.heartbeat', peer: a.peerId.toString(), operator: '0x' + '11'.repeat(20), addrs: [], roles: [], model: 'm', shards: [], startedAt: 1 })
  })
  const topic = new TopicPubSub({ pubsub: b.services.pubsub, registry: new MessageRegistry([MeshHeartbeat]) })
  t.teardown(async () => { service.stop(); topic.close(); await a.stop(); await b.stop() })
  service.start()
  topic.subscribe(HEARTBEAT_TOPIC, () => {})
  await b.dial(a.getMultiaddrs()[0]!)

  const bId = b.peerId.toString()
  const beat = (peer: string, seq: number): MeshHeartbeatMsg => ({
    type: 'mesh.heartbeat', peer, operator: '0x' + '22'.repeat(20), addrs: [], roles: ['executor'], model: 'm', shards: [0], seq, startedAt: 1, sentAt: Date.now()
  })
  const deadline = Date.now() + 10_000
  for (let seq = 0; (mesh.peer(bId) === undefined || service.invalidHeartbeats === 0) && Date.now() < deadline; seq++) {
    if (topic.subscribers(HEARTBEAT_TOPIC).length > 0) {
      await topic.publish(HEARTBEAT_TOPIC, beat('12D3KooWSomebodyElse', seq))
      await topic.publish(HEARTBEAT_TOPIC, beat(bId, seq))
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.truthy(mesh.peer(bId), 'honest heartbeat learned')
  t.is(mesh.peer('12D3KooWSomebodyElse'), undefined, 'spoofed heartbeat not learned')
  t.true(service.invalidHeartbeats >= 1)
  t.truthy(mesh.peer(a.peerId.toString()), 'a node sees itself')
})
