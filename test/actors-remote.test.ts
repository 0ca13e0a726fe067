// The remote path of the actor runtime, with two ActorSystems in one process joined by
// an in-memory transport. This tests the code around the transport (envelopes,
// correlation, refusals), not the libp2p transport itself.
import test from 'ava'
import { isVerimeshError, VerimeshError } from '../runtime/errors.js'
import { MessageRegistry } from '../runtime/protocol/registry.js'
import { registerSystemMessages } from '../runtime/protocol/system-messages.js'
import { ActorSystem, type DeadLetter, type Message, type OutboundEnvelope, type RemoteTransport } from '../runtime/actors/index.js'

const silent = (): void => {}
const systemMessages = registerSystemMessages(new MessageRegistry())

function codeOf (err: unknown): string | undefined {
  return isVerimeshError(err) ? err.code : undefined
}

/** Delivers envelopes between systems asynchronously, copied as a codec would. */
class FakeNetwork {
  readonly systems = new Map<string, ActorSystem>()
  readonly sent: OutboundEnvelope[] = []
  /** Drop envelopes matching this (a lossy link). */
  drop: (env: OutboundEnvelope) => boolean = () => false
  stopped = new Set<string>()

  join (sys: ActorSystem): ActorSystem {
    this.systems.set(sys.peerId, sys)
    const transport: RemoteTransport = {
      send: env => {
        if (this.stopped.has(sys.peerId)) throw new VerimeshError('TRANSPORT_CLOSED', 'transport stopped', {})
        const peer = env.target.slice(0, env.target.indexOf('/'))
        const to = this.systems.get(peer)
        if (to === undefined) throw new VerimeshError('PEER_UNREACHABLE', `no route to ${peer}`, { peer })
        // What the real transport checks on the way in: system messages match their schemas.
        const version = systemMessages.version(env.message.type)
        if (version !== undefined) systemMessages.validate(env.message.type, version, env.message)
        this.sent.push(env)
        const copy = structuredClone(env)
        if (this.drop(copy)) return
        setImmediate(() => { to.deliverRemote(copy) })
      },
      stop: async () => { this.stopped.add(sys.peerId) }
    }
    sys.setTransport(transport)
    return sys
  }
}

function pair (): { net: FakeNetwork, a: ActorSystem, b: ActorSystem } {
  const net = new FakeNetwork()
  const a = net.join(new ActorSystem({ peerId: 'peerA', logger: silent }))
  const b = net.join(new ActorSystem({ peerId: 'peerB', logger: silent }))
  return { net, a, b }
}

test('remote ask round trip: msg with correlation id and temp reply target, answered by a reply envelope', async t => {
  const { net, a, b } = pair()
  let askerAddress: string | undefined
  b.spawn('echo', () => ({ receive (msg, ctx) { askerAddress = ctx.sender?.address; ctx.reply({ type: 'echoed', text: msg.text }) } }))
  const reply = await a.ref('peerB/user/echo').ask({ type: 'echo', text: 'hi' })
  t.deepEqual(reply, { type: 'echoed', text: 'hi' })
  const [out, back] = net.sent
  t.like(out, { kind: 'msg', target: 'peerB/user/echo', message: { type: 'echo', text: 'hi' } })
  t.regex(out!.sender!, /^peerA\/temp\/.+/)
  t.is(out!.sender, `peerA/temp/${out!.correlationId!}`)
  t.is(askerAddress, out!.sender)
  t.like(back, { kind: 'reply', target: out!.sender, sender: 'peerB/user/echo', correlationId: out!.correlationId })
  await Promise.all([a.stop(), b.stop()])
})

test('remote errors: replyError, a missing actor and a crash reject the ask with the remote error', async t => {
  const { net, a, b } = pair()
  b.spawn('picky', () => ({
    receive (msg, ctx) {
      if (msg.type === 'crash') throw new Error('remote boom')
      ctx.replyError(new VerimeshError('REQUEST_INVALID', 'bad request', { field: 'prompt' }))
    }
  }))
  const refused = await t.throwsAsync(a.ref('peerB/user/picky').ask({ type: 'q' })) as VerimeshError
  t.is(refused.code, 'REQUEST_INVALID')
  t.is(refused.message, 'bad request')
  t.like(refused.context, { field: 'prompt', remote: true })
  const errEnvelope = net.sent.find(e => e.kind === 'error')
  t.like(errEnvelope, { message: { type: 'sys.error', error: { code: 'REQUEST_INVALID', message: 'bad request' } } })

  const missing = await t.throwsAsync(a.ref('peerB/user/nobody').ask({ type: 'q' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(missing.code, 'NO_SUCH_ACTOR')
  t.like(missing.context, { target: 'peerB/user/nobody', remote: true })

  const crashed = await t.throwsAsync(a.ref('peerB/user/picky').ask({ type: 'crash' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(crashed.code, 'ACTOR_CRASHED')
  t.like(crashed.context, { target: 'peerB/user/picky', messageType: 'crash', remote: true })
  await Promise.all([a.stop(), b.stop()])
})

test('remote overload: a remote ask into a full mailbox rejects with MAILBOX_FULL', async t => {
  const { a, b } = pair()
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  b.spawn('narrow', () => ({ async receive (msg, ctx) { await gate; ctx.reply({ type: 'ok' }) } }), { mailboxCapacity: 1 })
  const target = a.ref('peerB/user/narrow')
  const outcomes = Promise.all([1, 2, 3, 4].map(async () => await target.ask({ type: 'q' }, { timeoutMs: 60_000 }).then(() => 'ok', (e: unknown) => codeOf(e))))
  await new Promise(resolve => setTimeout(resolve, 20))
  release()
  const results = await outcomes
  t.true(results.includes('MAILBOX_FULL'))
  t.true(results.includes('ok'))
  t.deepEqual(results.filter(r => r !== 'ok' && r !== 'MAILBOX_FULL'), [])
  await Promise.all([a.stop(), b.stop()])
})

test('a refused remote tell comes back to its sender actor as sys.rejected', async t => {
  const { net, a, b } = pair()
  const rejected: Array<{ msg: Message, from: string | undefined }> = []
  let done!: () => void
  const both = new Promise<void>(resolve => { done = resolve })
  b.spawn('narrow', () => ({ async receive () { await new Promise(resolve => setTimeout(resolve, 50)) } }), { mailboxCapacity: 1 })
  a.spawn('teller', () => ({
    preStart (ctx) {
      a.ref('peerB/user/nobody').tell({ type: 'hello' }, ctx.self)
      for (let i = 0; i < 3; i++) a.ref('peerB/user/narrow').tell({ type: 'work', i }, ctx.self)
    },
    receive (msg, ctx) {
      rejected.push({ msg, from: ctx.sender?.address })
      if (rejected.length === 2) done()
    }
  }))
  await both
  const missing = rejected.find(r => r.msg.target === 'peerB/user/nobody')
  t.like(missing?.msg, { type: 'sys.rejected', target: 'peerB/user/nobody', messageType: 'hello', error: { code: 'NO_SUCH_ACTOR' } })
  t.is(missing?.from, 'peerB/user/nobody')
  const full = rejected.find(r => r.msg.target === 'peerB/user/narrow')
  t.like(full?.msg, { type: 'sys.rejected', messageType: 'work', error: { code: 'MAILBOX_FULL', context: { capacity: 1 } } })
  t.true(net.sent.some(e => e.kind === 'reject' && e.target === 'peerA/user/teller'))
  await Promise.all([a.stop(), b.stop()])
})

test('remote tell with a sender: ctx.reply travels back as a plain message; without a sender a refusal is a dead letter there', async t => {
  const { a, b } = pair()
  const bLetters: DeadLetter[] = []
  b.on('deadLetter', l => bLetters.push(l))
  b.spawn('greeter', () => ({ receive (msg, ctx) { ctx.reply({ type: 'greeting', to: msg.name }) } }))
  let got!: (m: Message & { from?: string }) => void
  const answer = new Promise<Message & { from?: string }>(resolve => { got = resolve })
  a.spawn('client', () => ({
    preStart (ctx) { a.ref('peerB/user/greeter').tell({ type: 'greet', name: 'ada' }, ctx.self) },
    receive (msg, ctx) { got({ ...msg, from: ctx.sender?.address }) }
  }))
  t.deepEqual(await answer, { type: 'greeting', to: 'ada', from: 'peerB/user/greeter' })
  a.ref('peerB/user/nobody').tell({ type: 'anonymous' })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.is(bLetters.length, 1)
  t.like(bLetters[0], { target: 'peerB/user/nobody', message: { type: 'anonymous' } })
  await Promise.all([a.stop(), b.stop()])
})

test('an ask forwarded to another peer is answered by the final actor', async t => {
  const { net, a, b } = pair()
  const c = net.join(new ActorSystem({ peerId: 'peerC', logger: silent }))
  c.spawn('worker', () => ({ receive (msg, ctx) { ctx.reply({ type: 'done', by: 'peerC' }) } }))
  b.spawn('relay', () => ({ receive (msg, ctx) { c.ref('peerC/user/worker').tell(msg, ctx.sender) } }))
  t.deepEqual(await a.ref('peerB/user/relay').ask({ type: 'job' }), { type: 'done', by: 'peerC' })
  await Promise.all([a.stop(), b.stop(), c.stop()])
})

test('no transport, a failing transport, a lossy link and stop', async t => {
  const lonely = new ActorSystem({ peerId: 'lonely', logger: silent })
  t.is(codeOf(t.throws(() => { lonely.ref('peerX/user/x').tell({ type: 'x' }) })), 'PEER_UNREACHABLE')
  t.is(codeOf(await t.throwsAsync(lonely.ref('peerX/user/x').ask({ type: 'x' }))), 'PEER_UNREACHABLE')
  await lonely.stop()

  const { net, a, b } = pair()
  const unreachable = await t.throwsAsync(a.ref('peerZ/user/x').ask({ type: 'x' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(unreachable.code, 'PEER_UNREACHABLE')
  t.like(unreachable.context, { peer: 'peerZ' })

  const aLetters: DeadLetter[] = []
  a.on('deadLetter', l => aLetters.push(l))
  b.spawn('slowpoke', () => ({ receive (msg, ctx) { const s = ctx.sender; setTimeout(() => { s?.tell({ type: 'late' }) }, 30) } }))
  const timedOut = await t.throwsAsync(a.ref('peerB/user/slowpoke').ask({ type: 'q' }, { timeoutMs: 5 })) as VerimeshError
  t.is(timedOut.code, 'ASK_TIMEOUT')
  t.is(timedOut.context.target, 'peerB/user/slowpoke')
  await new Promise(resolve => setTimeout(resolve, 60))
  t.like(aLetters.at(-1), { message: { type: 'late' } })

  net.drop = env => env.kind === 'msg'
  const pending = a.ref('peerB/user/slowpoke').ask({ type: 'q' }, { timeoutMs: 60_000 })
  await a.stop()
  t.is(codeOf(await t.throwsAsync(pending)), 'SYSTEM_STOPPED')
  t.true(net.stopped.has('peerA'), 'stop() stops the transport')
  await b.stop()
})
