// Two libp2p nodes in this process, each with a Libp2pTransport over a stub
// actor system: the transport's own behaviour, independent of the actor runtime.
import test from 'ava'
import { Type } from '@sinclair/typebox'
import { isVerimeshError, type VerimeshError } from '../runtime/errors.js'
import { createLibp2pNode, keyFromSeed, loadIdentity, type VerimeshLibp2p } from '../runtime/net/libp2p.js'
import { Libp2pTransport, VERIMESH_ACTOR_PROTOCOL } from '../runtime/net/transport.js'
import { TopicPubSub } from '../runtime/net/pubsub.js'
import { EnvelopeCodec } from '../runtime/protocol/codec.js'
import { encodeFrame } from '../runtime/protocol/frame.js'
import { defineMessage, MessageRegistry } from '../runtime/protocol/registry.js'
import { collect, noticeCode } from './fixtures/raw-stream.js'
import { StubSystem } from './fixtures/stub-system.js'
import { ActorSystem, type Message } from '../runtime/actors/index.js'

const Echo = defineMessage('echo', 1, { text: Type.String() })
const Blob = defineMessage('blob', 1, { data: Type.Uint8Array() })
const Slow = defineMessage('slow', 1, {})
const Beat = defineMessage('beat', 1, { n: Type.Integer() })

interface Side {
  node: VerimeshLibp2p
  system: StubSystem
  transport: Libp2pTransport
  peer: string
}

async function side (seed: string, registry: MessageRegistry, opts: { maxFrameBytes?: number } = {}): Promise<Side> {
  const node = await createLibp2pNode({ identity: { seed } })
  const peer = node.peerId.toString()
  const system = new StubSystem(peer)
  const transport = await Libp2pTransport.create({ libp2p: node, system, registry, logger: { warn: () => {}, debug: () => {} }, ...opts })
  return { node, system, transport, peer }
}

async function pair (t: { teardown: (fn: () => Promise<void>) => void }, bRegistry = new MessageRegistry([Echo, Blob, Slow, Beat])): Promise<{ a: Side, b: Side }> {
  const a = await side(`a-${Math.random()}`, new MessageRegistry([Echo, Blob, Slow, Beat]))
  const b = await side(`b-${Math.random()}`, bRegistry, { maxFrameBytes: 64 * 1024 })
  b.system.handle('/user/echo', (msg, ctx) => { ctx.reply(msg) })
  b.system.handle('/user/slow', () => { /* never answers */ })
  await a.transport.addPeer(b.peer, b.node.getMultiaddrs())
  t.teardown(async () => {
    await a.transport.stop(); await b.transport.stop()
    await a.node.stop(); await b.node.stop()
  })
  return { a, b }
}

async function echoOk (t: { is: (a: unknown, b: unknown) => void }, a: Side, b: Side, text = 'still alive'): Promise<void> {
  const r = await a.system.ref(`${b.peer}/user/echo`).ask<Message & { text: string }>({ type: 'echo', text })
  t.is(r.text, text)
}

test('identity: a seed gives a stable peer id; a key file persists', async (t) => {
  const k1 = await keyFromSeed('node-1')
  const k2 = await keyFromSeed('node-1')
  t.deepEqual(k1.raw, k2.raw)
  const hex = '0x' + '11'.repeat(32)
  t.deepEqual((await keyFromSeed(hex)).raw, (await keyFromSeed(new Uint8Array(32).fill(0x11))).raw)
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const dir = await mkdtemp(`${tmpdir()}/vm-key-`)
  const a = await loadIdentity({ keyFile: `${dir}/sub/key` })
  const b = await loadIdentity({ keyFile: `${dir}/sub/key` })
  t.deepEqual(a.raw, b.raw)
  await rm(dir, { recursive: true })
})

test('remote ask round trip, and the stream is reused', async (t) => {
  const { a, b } = await pair(t)
  await echoOk(t, a, b, 'hello')
  for (let i = 0; i < 20; i++) await echoOk(t, a, b, `n${i}`)
  const s = a.transport.stats()
  t.is(s.dials, 1)
  t.is(s.openStreams, 1)
  t.is(s.pendingAsks, 0)
})

test('unknown type, wrong version, invalid schema: the ask rejects with that code, node keeps serving', async (t) => {
  // b does not know 'blob', speaks echo v1; a will send echo v2 from a registry of its own.
  const { a, b } = await pair(t, new MessageRegistry([Echo]))
  const ref = a.system.ref(`${b.peer}/user/echo`)
  const unknown = await t.throwsAsync(ref.ask({ type: 'blob', data: new Uint8Array(3) })) as VerimeshError
  t.is(unknown.code, 'UNKNOWN_MESSAGE_TYPE')
  t.true(unknown.context.remote)
  await echoOk(t, a, b)
  const invalid = await t.throwsAsync(ref.ask({ type: 'echo', text: 42 })) as VerimeshError
  t.is(invalid.code, 'SCHEMA_INVALID')
  t.is(invalid.context.path, '/text')
  await echoOk(t, a, b)

  const v2 = await side(`v2-${Math.random()}`, new MessageRegistry([defineMessage('echo', 2, { text: Type.String() })]))
  t.teardown(async () => { await v2.transport.stop(); await v2.node.stop() })
  await v2.transport.addPeer(b.peer, b.node.getMultiaddrs())
  const version = await t.throwsAsync(v2.system.ref(`${b.peer}/user/echo`).ask({ type: 'echo', text: 'x' })) as VerimeshError
  t.is(version.code, 'UNSUPPORTED_VERSION')
  await echoOk(t, a, b)
  t.is(b.transport.stats().inboundErrors.UNKNOWN_MESSAGE_TYPE, 1)
  t.is(b.transport.stats().inboundErrors.SCHEMA_INVALID, 1)
  t.is(b.transport.stats().inboundErrors.UNSUPPORTED_VERSION, 1)
})

test('a refused tell with a sender comes back as sys.rejected', async (t) => {
  const { a, b } = await pair(t)
  a.system.ref(`${b.peer}/user/nobody`).tell({ type: 'echo', text: 'x' }, a.system.ref('/user/me'))
  await echoOk(t, a, b) // an ask after it: by then the rejection has arrived (same streams, in order)
  t.is(a.system.rejections.length, 1)
  t.like(a.system.rejections[0], { type: 'sys.rejected', target: `${b.peer}/user/nobody`, messageType: 'echo', error: { code: 'NO_SUCH_ACTOR' } })
})

test('a message over the frame limit is refused to its sender before sending', async (t) => {
  const { a, b } = await pair(t)
  // b accepts 64 KiB frames; a's limit is the default 4 MiB, so use a 5 MiB message.
  const err = await t.throwsAsync(a.system.ref(`${b.peer}/user/echo`).ask({ type: 'blob', data: new Uint8Array(5 * 1024 * 1024) })) as VerimeshError
  t.is(err.code, 'FRAME_TOO_LARGE')
  t.is(a.transport.stats().framesOut, 0)
  await echoOk(t, a, b)
})

test('raw stream: garbage, a bad length prefix and an oversized frame are each refused with a notice; node keeps serving', async (t) => {
  const { a, b } = await pair(t)
  const cases: Array<[string, Uint8Array]> = [
    ['MALFORMED_FRAME', new TextEncoder().encode('this is not a frame at all')],
    ['MALFORMED_FRAME', new Uint8Array([0x56, 0x4d, 1, 0, 0, 0, 0, 0])],
    ['FRAME_TOO_LARGE', (() => { const h = new Uint8Array([0x56, 0x4d, 1, 0, 0, 0, 0, 0]); new DataView(h.buffer).setUint32(4, 1024 * 1024); return h })()]
  ]
  for (const [code, bytes] of cases) {
    const stream = await a.node.dialProtocol(b.node.peerId, VERIMESH_ACTOR_PROTOCOL)
    const reply = collect(stream, envs => envs.length > 0)
    stream.send(bytes)
    const { envelopes } = await reply
    t.is(noticeCode(envelopes), code)
    const after = await collect(stream, () => false, 3000)
    t.true(after.closed, `${code}: stream closed after a fatal frame`)
    await echoOk(t, a, b)
  }
  t.is(b.transport.stats().inboundErrors.MALFORMED_FRAME, 2)
  t.is(b.transport.stats().inboundErrors.FRAME_TOO_LARGE, 1)
})

test('raw stream: an undecodable envelope inside a good frame is refused, the stream stays usable', async (t) => {
  const { a, b } = await pair(t)
  const stream = await a.node.dialProtocol(b.node.peerId, VERIMESH_ACTOR_PROTOCOL)
  const codec = new EnvelopeCodec()
  const echo = codec.encode({ kind: 'msg', type: 'echo', version: 1, target: `${b.peer}/user/echo`, sender: `${a.peer}/temp/raw1`, correlationId: 'raw1', payload: { text: 'after' } })
  const reply = collect(stream, envs => envs.length > 0)
  stream.send(encodeFrame([new Uint8Array([0xc1, 0xc1]), echo]))
  t.is(noticeCode((await reply).envelopes), 'MALFORMED_FRAME')
  t.is(stream.status, 'open')
  // The valid envelope after the bad one was delivered: its reply goes to a's stub as an unknown ask.
  await echoOk(t, a, b)
  t.is(a.system.deadLetters.length, 1)
})

test('unreachable peer: the ask rejects with PEER_UNREACHABLE, not a hang', async (t) => {
  const { a } = await pair(t)
  const ghost = await createLibp2pNode({ identity: { seed: `ghost-${Math.random()}` } })
  const ghostId = ghost.peerId.toString()
  const addrs = ghost.getMultiaddrs()
  await ghost.stop()
  await a.transport.addPeer(ghostId, addrs)
  const started = Date.now()
  const err = await t.throwsAsync(a.system.ref(`${ghostId}/user/echo`).ask({ type: 'echo', text: 'x' }, { timeoutMs: 10_000 })) as VerimeshError
  t.is(err.code, 'PEER_UNREACHABLE')
  t.true(Date.now() - started < 5000)
  // A peer with no known address at all.
  const nowhere = (await createLibp2pNode({ identity: { seed: `nowhere-${Math.random()}` }, start: false })).peerId.toString()
  t.is((await t.throwsAsync(a.system.ref(`${nowhere}/user/echo`).ask({ type: 'echo', text: 'x' })) as VerimeshError).code, 'PEER_UNREACHABLE')
})

test('connection closing with asks in flight rejects them promptly', async (t) => {
  const { a, b } = await pair(t)
  await echoOk(t, a, b)
  const pending = Promise.allSettled(Array.from({ length: 5 }, async () => await a.system.ref(`${b.peer}/user/slow`).ask({ type: 'slow' }, { timeoutMs: 20_000 })))
  await new Promise(resolve => setTimeout(resolve, 100))
  t.is(a.transport.stats().pendingAsks, 5)
  const started = Date.now()
  await b.node.stop()
  const results = await pending
  t.true(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
  for (const r of results) {
    t.is(r.status, 'rejected')
    const code = ((r as PromiseRejectedResult).reason as VerimeshError).code
    t.true(code === 'TRANSPORT_CLOSED' || code === 'PEER_UNREACHABLE', code)
  }
})

test('an ask forwarded to a third peer is answered straight to the asker (real ActorSystems)', async (t) => {
  const reg = (): MessageRegistry => new MessageRegistry([Echo])
  const mk = async (name: string): Promise<{ node: VerimeshLibp2p, system: ActorSystem, transport: Libp2pTransport, peer: string }> => {
    const node = await createLibp2pNode({ identity: { seed: `${name}-${Math.random()}` } })
    const system = new ActorSystem({ peerId: node.peerId.toString(), logger: () => {} })
    const transport = await Libp2pTransport.create({ libp2p: node, system, registry: reg(), logger: { warn: () => {}, debug: () => {} } })
    return { node, system, transport, peer: node.peerId.toString() }
  }
  const [a, b, c] = [await mk('fa'), await mk('fb'), await mk('fc')]
  t.teardown(async () => { for (const x of [a, b, c]) { await x.system.stop(); await x.node.stop() } })
  await a.transport.addPeer(b.peer, b.node.getMultiaddrs())
  await b.transport.addPeer(c.peer, c.node.getMultiaddrs())
  await c.transport.addPeer(a.peer, a.node.getMultiaddrs())
  c.system.spawn('worker', () => ({ receive: (m: Message, ctx) => { ctx.reply({ type: 'echo', text: `${String(m.text)} via c` }) } }))
  b.system.spawn('relay', () => ({ receive: (m: Message, ctx) => { b.system.ref(`${c.peer}/user/worker`).tell(m, ctx.sender) } }))
  const r = await a.system.ref(`${b.peer}/user/relay`).ask<Message & { text: string }>({ type: 'echo', text: 'job' })
  t.is(r.text, 'job via c')
  // c refused nothing, and a's transport stopped tracking the ask although b never answered it.
  t.deepEqual(c.transport.stats().inboundErrors, {})
  t.is(a.transport.stats().pendingAsks, 0)
})

test('bootstrap: a node started with a bootstrap address reaches that peer without addPeer', async (t) => {
  const a = await side(`boot-a-${Math.random()}`, new MessageRegistry([Echo]))
  a.system.handle('/user/echo', (msg, ctx) => { ctx.reply(msg) })
  const bootstrapAddr = a.node.getMultiaddrs()[0].toString()
  const node = await createLibp2pNode({ identity: { seed: `boot-b-${Math.random()}` }, bootstrap: [bootstrapAddr] })
  const system = new StubSystem(node.peerId.toString())
  const transport = await Libp2pTransport.create({ libp2p: node, system, registry: new MessageRegistry([Echo]), logger: { warn: () => {}, debug: () => {} } })
  t.teardown(async () => {
    await transport.stop(); await a.transport.stop()
    await node.stop(); await a.node.stop()
  })
  const deadline = Date.now() + 5000
  while (node.getConnections(a.node.peerId).length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.true(node.getConnections(a.node.peerId).length > 0, 'bootstrap dialled the peer')
  const r = await system.ref(`${a.peer}/user/echo`).ask<Message & { text: string }>({ type: 'echo', text: 'via bootstrap' })
  t.is(r.text, 'via bootstrap')
})

test('pubsub: schema-checked messages on a gossipsub topic', async (t) => {
  const { a, b } = await pair(t)
  await echoOk(t, a, b) // connected
  const reg = new MessageRegistry([Beat])
  const pa = new TopicPubSub({ pubsub: a.node.services.pubsub, registry: reg })
  const pb = new TopicPubSub({ pubsub: b.node.services.pubsub, registry: reg })
  t.teardown(() => { pa.close(); pb.close() })
  const got: Array<[Message, string]> = []
  pb.subscribe('beats', (m, from) => { got.push([m, from]) })
  pa.subscribe('beats', () => {})
  const deadline = Date.now() + 8000
  while (got.length === 0 && Date.now() < deadline) {
    await pa.publish('beats', { type: 'beat', n: 7 })
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.true(got.length > 0)
  t.deepEqual(got[0][0], { n: 7, type: 'beat' })
  t.is(got[0][1], a.peer)
  await t.throwsAsync(pa.publish('beats', { type: 'unknown' }), { instanceOf: Error })
  // Garbage on the topic is counted, not delivered.
  await a.node.services.pubsub.publish('beats', new Uint8Array([1, 2, 3]))
  await new Promise(resolve => setTimeout(resolve, 500))
  t.true(isVerimeshError(new Error('x')) === false)
  t.is(pb.stats().invalid.MALFORMED_FRAME, 1)
})
