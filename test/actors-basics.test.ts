// Local actor runtime: addressing, tell/ask, timeouts, dead letters, bounded mailboxes
// and what happens to accepted messages when an actor stops.
import test from 'ava'
import { isVerimeshError, VerimeshError } from '../runtime/errors.js'
import { ActorSystem, type DeadLetter, type Message } from '../runtime/actors/index.js'
import { Mailbox } from '../runtime/actors/mailbox.js'

const silent = (): void => {}

function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

async function until (cond: () => boolean, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > 5000) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

function system (opts: ConstructorParameters<typeof ActorSystem>[0] = {}): ActorSystem {
  return new ActorSystem({ logger: silent, ...opts })
}

function codeOf (err: unknown): string | undefined {
  return isVerimeshError(err) ? err.code : undefined
}

/** An actor whose receive waits on a gate for every message, recording what it handled. */
function gated (handled: Message[], gate: Promise<void>) {
  return () => ({
    async receive (msg: Message, ctx: { reply: (m: Message) => void }) {
      await gate
      handled.push(msg)
      if (msg.type === 'ask') ctx.reply({ type: 'ok', n: msg.n })
    }
  })
}

test('paths: top-level actors under /user, children under their parent; lookup and ref resolve them', async t => {
  const sys = system({ peerId: 'peerA' })
  let childRef: ReturnType<ActorSystem['spawn']> | undefined
  const router = sys.spawn('router', () => ({
    preStart (ctx) { childRef = ctx.spawn('child', () => ({ receive (m, c) { c.reply({ type: 'pong', path: c.self.path }) } })) },
    receive () {}
  }))
  t.is(router.path, '/user/router')
  t.is(router.address, 'peerA/user/router')
  t.is(String(router), 'peerA/user/router')
  t.is(childRef?.path, '/user/router/child')
  t.is(sys.lookup('/user/router/child'), childRef)
  t.is(sys.lookup('peerA/user/router'), router)
  t.is(sys.lookup('/user/nobody'), undefined)
  const viaAddress = sys.ref('peerA/user/router/child')
  t.deepEqual(await viaAddress.ask({ type: 'ping' }), { type: 'pong', path: '/user/router/child' })
  t.deepEqual(await sys.ref('/user/router/child').ask({ type: 'ping' }), { type: 'pong', path: '/user/router/child' })
  const taken = t.throws(() => sys.spawn('router', () => ({ receive () {} })))
  t.is(codeOf(taken), 'NAME_TAKEN')
  t.is(codeOf(t.throws(() => sys.spawn('a/b', () => ({ receive () {} })))), 'CONFIG_INVALID')
  t.is(codeOf(t.throws(() => sys.ref('no-slash'))), 'NO_SUCH_ACTOR')
  await sys.stop()
})

test('a factory that throws fails the spawn synchronously and registers nothing', async t => {
  const sys = system()
  t.throws(() => sys.spawn('bad', () => { throw new Error('no') }), { message: 'no' })
  t.is(sys.lookup('/user/bad'), undefined)
  sys.spawn('bad', () => ({ receive () {} }))
  t.truthy(sys.lookup('/user/bad'))
  await sys.stop()
})

test('messages are handled one at a time, in order, with private state', async t => {
  const sys = system()
  const counter = sys.spawn('counter', () => {
    let n = 0
    const seen: number[] = []
    return {
      async receive (msg, ctx) {
        if (msg.type === 'add') {
          // An await inside receive must not let the next message in.
          const before = n
          await new Promise(resolve => setImmediate(resolve))
          n = before + (msg.by as number)
          seen.push(msg.by as number)
        } else ctx.reply({ type: 'total', n, seen })
      }
    }
  })
  for (let i = 1; i <= 50; i++) counter.tell({ type: 'add', by: i })
  const total = await counter.ask<{ type: 'total', n: number, seen: number[] }>({ type: 'get' })
  t.is(total.n, 1275)
  t.deepEqual(total.seen, Array.from({ length: 50 }, (_, i) => i + 1))
  await sys.stop()
})

test('ask times out with ASK_TIMEOUT naming target, message type and timeout', async t => {
  const sys = system({ askTimeoutMs: 40 })
  const mute = sys.spawn('mute', () => ({ receive () {} }))
  const err = await t.throwsAsync(mute.ask({ type: 'hello' })) as VerimeshError
  t.is(err.code, 'ASK_TIMEOUT')
  t.deepEqual(err.context, { target: 'local/user/mute', messageType: 'hello', timeoutMs: 40 })
  t.regex(err.message, /hello.*local\/user\/mute.*40 ms/)
  const custom = await t.throwsAsync(mute.ask({ type: 'x' }, { timeoutMs: 5 })) as VerimeshError
  t.is(custom.context.timeoutMs, 5)
  await sys.stop()
})

test('a reply after the ask timed out becomes a dead letter', async t => {
  const sys = system()
  const letters: DeadLetter[] = []
  sys.on('deadLetter', l => letters.push(l))
  const late = sys.spawn('late', () => ({
    receive (msg, ctx) { const sender = ctx.sender; setTimeout(() => { sender?.tell({ type: 'late-answer' }) }, 30) }
  }))
  const err = await t.throwsAsync(late.ask({ type: 'q' }, { timeoutMs: 5 })) as VerimeshError
  t.is(err.code, 'ASK_TIMEOUT')
  await until(() => letters.length === 1, 'dead letter')
  t.is(letters[0]!.message.type, 'late-answer')
  t.regex(letters[0]!.target, /^local\/temp\//)
  t.regex(letters[0]!.reason, /already answered or timed out/)
  await sys.stop()
})

test('dead letters: tell to a missing actor throws NO_SUCH_ACTOR and emits a dead letter; ask rejects at once', async t => {
  const sys = system()
  const letters: DeadLetter[] = []
  sys.on('deadLetter', l => letters.push(l))
  const ghost = sys.ref('/user/ghost')
  const thrown = t.throws(() => { ghost.tell({ type: 'boo' }) }) as VerimeshError
  t.is(thrown.code, 'NO_SUCH_ACTOR')
  t.is(thrown.context.target, 'local/user/ghost')
  t.is(letters.length, 1)
  t.like(letters[0], { target: 'local/user/ghost', message: { type: 'boo' } })
  t.regex(letters[0]!.reason, /no actor/)
  // A long timeout: a NO_SUCH_ACTOR answer proves the ask did not wait for it.
  const err = await t.throwsAsync(ghost.ask({ type: 'q' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(err.code, 'NO_SUCH_ACTOR')
  t.is(letters.length, 2)
  t.is(sys.deadLetterCount, 2)
  await sys.stop()
})

test('a ref keeps naming its path: it reaches an actor spawned there later, and refuses after stop', async t => {
  const sys = system()
  const ref = sys.ref('/user/later')
  t.is(codeOf(t.throws(() => { ref.tell({ type: 'x' }) })), 'NO_SUCH_ACTOR')
  const first = sys.spawn('later', () => ({ receive (m, c) { c.reply({ type: 'gen', gen: 1 }) } }))
  t.deepEqual(await ref.ask({ type: 'q' }), { type: 'gen', gen: 1 })
  await sys.stopActor(first)
  t.is(codeOf(t.throws(() => { first.tell({ type: 'x' }) })), 'NO_SUCH_ACTOR')
  sys.spawn('later', () => ({ receive (m, c) { c.reply({ type: 'gen', gen: 2 }) } }))
  t.deepEqual(await first.ask({ type: 'q' }), { type: 'gen', gen: 2 })
  await sys.stop()
})

test('full mailbox: tell throws MAILBOX_FULL synchronously, ask rejects with it, accepted messages are all handled', async t => {
  const sys = system()
  const gate = deferred()
  const handled: Message[] = []
  const ref = sys.spawn('slow', gated(handled, gate.promise), { mailboxCapacity: 4 })
  let accepted = 0
  let refused: VerimeshError | undefined
  for (let i = 0; i < 10; i++) {
    try {
      ref.tell({ type: 'tell', n: i })
      accepted++
    } catch (err) {
      refused = err as VerimeshError
      break
    }
  }
  t.is(accepted, 4)
  t.is(refused?.code, 'MAILBOX_FULL')
  t.like(refused?.context, { target: 'local/user/slow', capacity: 4, messageType: 'tell' })
  const askErr = await t.throwsAsync(ref.ask({ type: 'ask', n: 99 })) as VerimeshError
  t.is(askErr.code, 'MAILBOX_FULL')
  // The first message is now in flight, which frees one slot.
  const answered = ref.ask({ type: 'ask', n: 5 })
  t.is(codeOf(t.throws(() => { ref.tell({ type: 'tell', n: 6 }) })), 'MAILBOX_FULL')
  gate.resolve()
  t.deepEqual(await answered, { type: 'ok', n: 5 })
  t.deepEqual(handled.map(m => m.n), [0, 1, 2, 3, 5])
  await sys.stop()
})

test('stopping an actor: queued asks fail with ACTOR_STOPPED, queued tells become dead letters, the in-flight ask is settled', async t => {
  const sys = system()
  const letters: DeadLetter[] = []
  sys.on('deadLetter', l => letters.push(l))
  const gate = deferred()
  const handled: Message[] = []
  const ref = sys.spawn('victim', () => ({
    async receive (msg: Message) { await gate.promise; handled.push(msg) }
  }))
  const inFlight = ref.ask({ type: 'first' })
  await new Promise(resolve => setImmediate(resolve))
  ref.tell({ type: 'queued-tell', n: 1 })
  const queuedAsk = ref.ask({ type: 'queued-ask' })
  ref.tell({ type: 'queued-tell', n: 2 })
  const stopped = sys.stopActor(ref)
  // New messages are refused (and reported) while it stops and once it is gone.
  t.is(codeOf(t.throws(() => { ref.tell({ type: 'too-late' }) })), 'ACTOR_STOPPED')
  const err = await t.throwsAsync(queuedAsk) as VerimeshError
  t.is(err.code, 'ACTOR_STOPPED')
  t.like(err.context, { target: 'local/user/victim', messageType: 'queued-ask' })
  t.deepEqual(letters.slice(0, 2).map(l => [l.message.n, l.reason]), [[1, 'actor stopped'], [2, 'actor stopped']])
  t.like(letters[2], { message: { type: 'too-late' } })
  await stopped
  t.is(codeOf(t.throws(() => { ref.tell({ type: 'too-late' }) })), 'NO_SUCH_ACTOR')
  t.is(letters.length, 4)
  // The in-flight receive finishes without replying: its asker hears ACTOR_STOPPED, not a timeout.
  gate.resolve()
  const inFlightErr = await t.throwsAsync(inFlight) as VerimeshError
  t.is(inFlightErr.code, 'ACTOR_STOPPED')
  t.deepEqual(handled.map(m => m.type), ['first'])
  await sys.stop()
})

test('overload accounting: every accepted message is handled or reported, none vanish', async t => {
  const sys = system({ askTimeoutMs: 60_000 })
  let tellLetters = 0
  sys.on('deadLetter', l => { if (l.message.type === 'tell') tellLetters++ })
  let handledTells = 0
  let handledAsks = 0
  const ref = sys.spawn('busy', () => ({
    async receive (msg, ctx) {
      if ((msg.n as number) % 7 === 0) await new Promise(resolve => setImmediate(resolve))
      if (msg.type === 'tell') {
        handledTells++
      } else {
        handledAsks++
        ctx.reply({ type: 'ok' })
      }
    }
  }), { mailboxCapacity: 16 })
  let acceptedTells = 0
  let refusedFull = 0
  let refusedGone = 0
  const outcomes: string[] = []
  const asks: Array<Promise<void>> = []
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 25; i++) {
      const n = round * 25 + i
      if (n % 3 === 0) {
        asks.push(ref.ask({ type: 'ask', n }).then(() => 'ok', (err: unknown) => codeOf(err) ?? String(err)).then(o => { outcomes.push(o) }))
        continue
      }
      try {
        ref.tell({ type: 'tell', n })
        acceptedTells++
      } catch (err) {
        const code = codeOf(err)
        if (code === 'MAILBOX_FULL') refusedFull++
        else if (code === 'ACTOR_STOPPED' || code === 'NO_SUCH_ACTOR') refusedGone++
        else throw err
      }
    }
    if (round === 30) void sys.stopActor(ref)
    await new Promise(resolve => setImmediate(resolve))
  }
  await Promise.all(asks)
  t.true(refusedFull > 0, 'the bursts overloaded the mailbox')
  t.true(refusedGone > 0, 'tells after the stop were refused')
  // Refused-because-gone tells are reported as dead letters too; the rest were queued at stop.
  t.is(handledTells + (tellLetters - refusedGone), acceptedTells)
  t.is(outcomes.filter(o => o === 'ok').length, handledAsks)
  t.deepEqual([...new Set(outcomes)].filter(o => !['ok', 'MAILBOX_FULL', 'ACTOR_STOPPED', 'NO_SUCH_ACTOR'].includes(o)), [])
  t.true(outcomes.includes('ACTOR_STOPPED') || outcomes.includes('NO_SUCH_ACTOR'))
  await sys.stop()
})

test('ctx.reply to a tell with a sender reaches the sender actor; ctx.replyError sends it a sys.error', async t => {
  const sys = system()
  const got: Message[] = []
  const done = deferred()
  const server = sys.spawn('server', () => ({
    receive (msg, ctx) {
      if (msg.type === 'hi') ctx.reply({ type: 'hello' })
      else ctx.replyError(new VerimeshError('REQUEST_INVALID', 'nope', { why: 'test' }))
    }
  }))
  sys.spawn('client', () => ({
    preStart (ctx) { server.tell({ type: 'hi' }, ctx.self); server.tell({ type: 'bad' }, ctx.self) },
    receive (msg, ctx) {
      got.push({ ...msg, from: ctx.sender?.path })
      if (got.length === 2) done.resolve()
    }
  }))
  await done.promise
  t.deepEqual(got[0], { type: 'hello', from: '/user/server' })
  t.like(got[1], { type: 'sys.error', error: { code: 'REQUEST_INVALID', message: 'nope', context: { why: 'test' } }, from: '/user/server' })
  const err = await t.throwsAsync(server.ask({ type: 'bad' })) as VerimeshError
  t.is(err.code, 'REQUEST_INVALID')
  await sys.stop()
})

test('lifecycle: preStart before messages (async preStart holds them), children stop before the parent postStop', async t => {
  const sys = system()
  const events: string[] = []
  const ready = deferred()
  const parent = sys.spawn('parent', () => ({
    async preStart (ctx) {
      events.push('parent.preStart')
      ctx.spawn('kid', () => ({ receive () {}, postStop () { events.push('kid.postStop') } }))
      await ready.promise
      events.push('parent.ready')
    },
    receive (msg, ctx) { events.push(`parent.${msg.type}`); ctx.reply({ type: 'ok' }) },
    postStop () { events.push('parent.postStop') }
  }))
  const answer = parent.ask({ type: 'work' })
  await new Promise(resolve => setTimeout(resolve, 10))
  t.deepEqual(events, ['parent.preStart'])
  ready.resolve()
  await answer
  await sys.stop()
  t.deepEqual(events, ['parent.preStart', 'parent.ready', 'parent.work', 'kid.postStop', 'parent.postStop'])
})

test('an actor may stop itself after replying; ctx.stop of a non-child rejects', async t => {
  const sys = system()
  const other = sys.spawn('other', () => ({ receive () {} }))
  const ref = sys.spawn('once', () => ({
    async receive (msg, ctx) {
      if (msg.type === 'stranger') {
        const err = await ctx.stop(other).catch((e: unknown) => e)
        ctx.reply({ type: 'result', code: codeOf(err) })
        return
      }
      ctx.reply({ type: 'bye' })
      await ctx.stop()
    }
  }))
  t.deepEqual(await ref.ask({ type: 'stranger' }), { type: 'result', code: 'NO_SUCH_ACTOR' })
  t.deepEqual(await ref.ask({ type: 'q' }), { type: 'bye' })
  await until(() => sys.lookup('/user/once') === undefined, 'self stop')
  t.truthy(sys.lookup('/user/other'))
  await sys.stop()
})

test('a busy actor yields to the event loop between batches', async t => {
  const sys = system({ throughput: 256, defaultMailboxCapacity: 100_000 })
  let n = 0
  const ref = sys.spawn('hot', () => ({ receive () { n++ } }))
  for (let i = 0; i < 50_000; i++) ref.tell({ type: 'x' })
  const atImmediate = await new Promise<number>(resolve => setImmediate(() => { resolve(n) }))
  t.true(atImmediate < 50_000, `I/O phase ran after ${atImmediate} messages`)
  await until(() => n === 50_000, 'drain')
  await sys.stop()
})

test('two systems in one process are independent', async t => {
  const a = system({ peerId: 'a' })
  const b = system({ peerId: 'b' })
  let bLetters = 0
  b.on('deadLetter', () => { bLetters++ })
  a.spawn('same', () => ({ receive (m, c) { c.reply({ type: 'from', sys: 'a' }) } }))
  b.spawn('same', () => ({ receive (m, c) { c.reply({ type: 'from', sys: 'b' }) } }))
  t.deepEqual(await a.ref('/user/same').ask({ type: 'q' }), { type: 'from', sys: 'a' })
  t.deepEqual(await b.ref('/user/same').ask({ type: 'q' }), { type: 'from', sys: 'b' })
  t.throws(() => { a.ref('/user/missing').tell({ type: 'x' }) })
  t.is(bLetters, 0)
  await a.stop()
  t.deepEqual(await b.ref('/user/same').ask({ type: 'q' }), { type: 'from', sys: 'b' })
  t.is(codeOf(t.throws(() => a.spawn('x', () => ({ receive () {} })))), 'SYSTEM_STOPPED')
  t.is(codeOf(await t.throwsAsync(a.ref('/user/same').ask({ type: 'q' }))), 'SYSTEM_STOPPED')
  await b.stop()
})

test('mailbox ring buffer keeps FIFO order across growth and wrap-around, and refuses past capacity', t => {
  const box = new Mailbox(100)
  let next = 0
  let expect = 0
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7 && box.size < 100; i++) t.true(box.push({ type: 'm', n: next++ }, undefined, String(next)))
    for (let i = 0; i < 5 && box.size > 0; i++) {
      const m = box.shift()
      t.is(m?.n, expect++)
      t.is(box.correlationId, String(expect))
    }
  }
  while (box.size < 100) box.push({ type: 'm', n: next++ }, undefined, undefined)
  t.false(box.push({ type: 'm', n: -1 }, undefined, undefined))
  while (box.size > 0) t.is(box.shift()?.n, expect++)
  t.is(expect, next)
  t.is(box.shift(), undefined)
})
