// Supervision: the three strategies, restart intensity and escalation (to a parent and
// at the root), backoff between restarts, what the crashing message's asker sees, the
// mailbox surviving restarts, and crashes never escaping to the process.
import test from 'ava'
import { isVerimeshError, type VerimeshError } from '../runtime/errors.js'
import { ActorSystem, type Actor, type ActorRef, type Escalation, type Message, type SupervisorSpec } from '../runtime/actors/index.js'
import { backoffDelay } from '../runtime/actors/supervisor.js'

const silent = (): void => {}
const fast: Partial<SupervisorSpec> = { intensity: 5, periodMs: 10_000, backoff: { minMs: 1, maxMs: 5, factor: 2 } }

function codeOf (err: unknown): string | undefined {
  return isVerimeshError(err) ? err.code : undefined
}

async function until (cond: () => boolean, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > 5000) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

/** Process-level failures seen while `fn` runs (and shortly after). */
async function watchProcess (fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const onError = (err: unknown): void => { seen.push(err) }
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  try {
    await fn()
    await new Promise(resolve => setTimeout(resolve, 30))
  } finally {
    process.off('uncaughtException', onError)
    process.off('unhandledRejection', onError)
  }
  return seen
}

/** A worker that crashes on 'crash' and otherwise answers with its name and generation. */
function worker (name: string, starts: Record<string, number>, preRestarts: string[]): () => Actor {
  return () => {
    const gen = (starts[name] = (starts[name] ?? 0) + 1)
    return {
      receive (msg, ctx) {
        if (msg.type === 'crash') throw new Error(`${name} crashed`)
        ctx.reply({ type: 'pong', name, gen })
      },
      preRestart () { preRestarts.push(name) }
    }
  }
}

async function strategyRun (strategy: SupervisorSpec['strategy']): Promise<{ starts: Record<string, number>, preRestarts: string[], gens: unknown[] }> {
  const sys = new ActorSystem({ logger: silent })
  const starts: Record<string, number> = {}
  const preRestarts: string[] = []
  sys.spawn('sup', () => ({
    preStart (ctx) {
      for (const name of ['a', 'b', 'c']) ctx.spawn(name, worker(name, starts, preRestarts))
    },
    receive () {}
  }), { supervisor: { ...fast, strategy } })
  sys.ref('/user/sup/b').tell({ type: 'crash' })
  const replies = await Promise.all(['a', 'b', 'c'].map(n => sys.ref(`/user/sup/${n}`).ask<Message & { gen: number }>({ type: 'ping' })))
  await sys.stop()
  return { starts, preRestarts, gens: replies.map(r => r.gen) }
}

test('one_for_one restarts only the failed child', async t => {
  const { starts, preRestarts, gens } = await strategyRun('one_for_one')
  t.deepEqual(starts, { a: 1, b: 2, c: 1 })
  t.deepEqual(preRestarts, ['b'])
  t.deepEqual(gens, [1, 2, 1])
})

test('one_for_all restarts every child (terminated in reverse start order)', async t => {
  const { starts, preRestarts, gens } = await strategyRun('one_for_all')
  t.deepEqual(starts, { a: 2, b: 2, c: 2 })
  t.deepEqual(preRestarts, ['c', 'b', 'a'])
  t.deepEqual(gens, [2, 2, 2])
})

test('rest_for_one restarts the failed child and those started after it', async t => {
  const { starts, preRestarts, gens } = await strategyRun('rest_for_one')
  t.deepEqual(starts, { a: 1, b: 2, c: 2 })
  t.deepEqual(preRestarts, ['c', 'b'])
  t.deepEqual(gens, [1, 2, 2])
})

test('the asker of the crashing message gets ACTOR_CRASHED; the restarted actor serves the next one', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: fast })
  const starts: Record<string, number> = {}
  const ref = sys.spawn('w', worker('w', starts, []))
  const err = await t.throwsAsync(ref.ask({ type: 'crash' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(err.code, 'ACTOR_CRASHED')
  t.like(err.context, { target: 'local/user/w', messageType: 'crash', reason: 'w crashed' })
  t.deepEqual(await ref.ask({ type: 'ping' }), { type: 'pong', name: 'w', gen: 2 })
  // An async receive that rejects is a crash too.
  const asyncActor = sys.spawn('async', () => ({
    async receive (msg, ctx) {
      await new Promise(resolve => setImmediate(resolve))
      if (msg.type === 'crash') throw new Error('async boom')
      ctx.reply({ type: 'ok' })
    }
  }))
  const asyncErr = await t.throwsAsync(asyncActor.ask({ type: 'crash' }, { timeoutMs: 60_000 })) as VerimeshError
  t.is(asyncErr.code, 'ACTOR_CRASHED')
  t.deepEqual(await asyncActor.ask({ type: 'ping' }), { type: 'ok' })
  await sys.stop()
})

test('restarts keep the mailbox: queued work, and work sent during backoff, is handled by the new incarnation', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: { ...fast, backoff: { minMs: 40, maxMs: 40, factor: 1 } } })
  let gen = 0
  const handled: Array<[number, number]> = []
  const ref = sys.spawn('keeper', () => {
    const mine = ++gen
    return {
      receive (msg, ctx) {
        if (msg.type === 'crash') throw new Error('boom')
        handled.push([msg.n as number, mine])
        if (msg.type === 'ask') ctx.reply({ type: 'done' })
      }
    }
  }, { mailboxCapacity: 8 })
  ref.tell({ type: 'crash' })
  for (let n = 0; n < 5; n++) ref.tell({ type: 'work', n })
  await new Promise(resolve => setTimeout(resolve, 10)) // now inside the 40 ms backoff
  t.is(gen, 1)
  t.is(handled.length, 0)
  ref.tell({ type: 'work', n: 5 })
  ref.tell({ type: 'work', n: 6 })
  const last = ref.ask({ type: 'ask', n: 7 })
  // Capacity still applies while the actor waits to restart.
  t.is(codeOf(t.throws(() => { ref.tell({ type: 'work', n: 8 }) })), 'MAILBOX_FULL')
  await last
  t.deepEqual(handled, [0, 1, 2, 3, 4, 5, 6, 7].map(n => [n, 2]))
  await sys.stop()
})

test('backoff: consecutive restarts wait longer each time (minMs * factor^n, capped)', async t => {
  t.deepEqual([0, 1, 2, 3, 4, 5].map(n => backoffDelay({ minMs: 10, maxMs: 200, factor: 3 }, n)), [10, 30, 90, 200, 200, 200])
  const sys = new ActorSystem({ logger: silent, rootSupervisor: { intensity: 10, periodMs: 60_000, backoff: { minMs: 30, maxMs: 5000, factor: 3 } } })
  const startedAt: number[] = []
  const ref = sys.spawn('flappy', () => ({
    preStart () { startedAt.push(performance.now()) },
    receive (msg, ctx) {
      if (msg.type === 'crash') throw new Error('flap')
      ctx.reply({ type: 'ok' })
    }
  }))
  for (let i = 0; i < 3; i++) ref.tell({ type: 'crash' })
  await ref.ask({ type: 'ok' })
  t.is(startedAt.length, 4)
  const gaps = startedAt.slice(1).map((at, i) => at - startedAt[i]!)
  // Nominal 30, 90, 270 ms. Timers never fire early, so each lower bound proves the wait
  // grew; a loaded machine may make any gap late, so no upper bound and no ordering.
  t.true(gaps[0]! >= 28, `first gap ${gaps[0]}`)
  t.true(gaps[1]! >= 85, `second gap ${gaps[1]}`)
  t.true(gaps[2]! >= 260, `third gap ${gaps[2]}`)
  await sys.stop()
})

test('intensity exceeded: the supervisor stops its children and fails; its parent restarts it', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: fast })
  const starts: Record<string, number> = {}
  const reasons: unknown[] = []
  let childStops = 0
  sys.spawn('sup', () => {
    starts.sup = (starts.sup ?? 0) + 1
    return {
      preStart (ctx) {
        ctx.spawn('kid', () => {
          const gen = (starts.kid = (starts.kid ?? 0) + 1)
          return {
            receive (msg, c) {
              if (msg.type === 'crash') throw new Error('kid crashed')
              c.reply({ type: 'pong', gen })
            },
            postStop () { childStops++ }
          }
        })
      },
      receive () {},
      preRestart (reason) { reasons.push(reason) }
    }
  }, { supervisor: { ...fast, intensity: 1 } })
  const kid = sys.ref('/user/sup/kid')
  kid.tell({ type: 'crash' }) // restart 1 of 1 allowed
  kid.tell({ type: 'crash' }) // queued, crashes the restarted kid: more than 1 restart -> escalate
  await until(() => starts.sup === 2, 'supervisor restart')
  t.deepEqual(await kid.ask({ type: 'ping' }), { type: 'pong', gen: 3 })
  t.is(starts.kid, 3) // first, its one restart, and the new supervisor's own
  t.is(childStops, 1) // the supervisor stopped the kid when it gave up
  t.is(reasons.length, 1)
  const reason = reasons[0] as VerimeshError
  t.is(reason.code, 'ACTOR_CRASHED')
  t.like(reason.context, { target: 'local/user/sup', child: '/user/sup/kid', intensity: 1 })
  t.regex(reason.message, /gave up/)
  await sys.stop()
})

test('an escalated failure is handled by the grandparent strategy (one_for_all restarts the sibling)', async t => {
  const sys = new ActorSystem({ logger: silent })
  const starts: Record<string, number> = {}
  const count = (name: string): number => (starts[name] = (starts[name] ?? 0) + 1)
  sys.spawn('top', () => ({
    preStart (ctx) {
      ctx.spawn('mid', () => {
        count('mid')
        return {
          preStart (c) { c.spawn('leaf', () => { count('leaf'); return { receive () { throw new Error('leaf crashed') } } }) },
          receive () {}
        }
      }, { supervisor: { ...fast, intensity: 0 } })
      ctx.spawn('sibling', () => { const gen = count('sibling'); return { receive (m, c) { c.reply({ type: 'pong', gen }) } } })
    },
    receive () {}
  }), { supervisor: { ...fast, strategy: 'one_for_all' } })
  sys.ref('/user/top/mid/leaf').tell({ type: 'anything' })
  await until(() => starts.mid === 2, 'mid restart')
  t.deepEqual(await sys.ref('/user/top/sibling').ask({ type: 'ping' }), { type: 'pong', gen: 2 })
  t.deepEqual(starts, { mid: 2, leaf: 2, sibling: 2 })
  await sys.stop()
})

test('root escalation: the guardian stops the failed subtree, emits escalated, and the process survives', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: { ...fast, intensity: 1 } })
  const escalations: Escalation[] = []
  const stops: string[] = []
  let bystander: ActorRef | undefined
  const seen = await watchProcess(async () => {
    const escalated = new Promise<void>(resolve => { sys.on('escalated', e => { escalations.push(e); resolve() }) })
    bystander = sys.spawn('bystander', () => ({ receive (m, c) { c.reply({ type: 'alive' }) } }))
    const doomed = sys.spawn('doomed', () => ({
      preStart (ctx) { ctx.spawn('inner', () => ({ receive () {}, postStop () { stops.push('inner') } })) },
      receive () { throw new Error('always fails') },
      postStop () { stops.push('doomed') }
    }))
    doomed.tell({ type: 'x' })
    doomed.tell({ type: 'x' })
    const queued = doomed.ask({ type: 'queued' }, { timeoutMs: 60_000 }).catch((err: unknown) => codeOf(err))
    await escalated
    t.is(await queued, 'ACTOR_STOPPED')
  })
  t.deepEqual(seen, [])
  t.is(escalations.length, 1)
  t.like(escalations[0], { path: '/user/doomed', address: 'local/user/doomed', restarts: 1, intensity: 1 })
  t.is((escalations[0]!.reason as Error).message, 'always fails')
  // The first 'inner' stop is the restart (children belong to the old incarnation).
  t.deepEqual(stops, ['inner', 'inner', 'doomed'])
  t.is(sys.lookup('/user/doomed'), undefined)
  t.is(sys.lookup('/user/doomed/inner'), undefined)
  t.deepEqual(await bystander!.ask({ type: 'q' }), { type: 'alive' })
  await sys.stop()
})

test('no crash escapes to the process: throws, rejections, non-Error values, hooks and listeners', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: { ...fast, intensity: 50 } })
  const seen = await watchProcess(async () => {
    sys.on('deadLetter', () => { throw new Error('listener throws') })
    let failStart = true
    const crashers: Record<string, () => Actor> = {
      sync: () => ({ receive () { throw new Error('sync') } }),
      async: () => ({ async receive () { await Promise.resolve(); throw new Error('async') } }),
      string: () => ({ receive () { throw 'a string' as unknown as Error } }),
      undef: () => ({ receive () { throw undefined as unknown as Error } }),
      thenable: () => ({ receive () { return { then (_ok: () => void, fail: (e: unknown) => void) { fail(new Error('thenable')) } } as unknown as Promise<void> } }),
      badThen: () => ({ receive () { return { then () { throw new Error('then throws') } } as unknown as Promise<void> } }),
      twice: () => ({ receive () { return { then (ok: () => void, fail: (e: unknown) => void) { ok(); fail(new Error('late')); ok() } } as unknown as Promise<void> } }),
      preStart: () => ({ preStart () { if (failStart) { failStart = false; throw new Error('preStart') } }, receive () {} }),
      asyncPreStart: () => ({ async preStart () { await Promise.resolve(); throw new Error('async preStart') }, receive () {} }),
      hooks: () => ({
        receive () { throw new Error('crash') },
        preRestart () { throw new Error('preRestart') },
        postRestart () { return Promise.reject(new Error('postRestart')) },
        postStop () { return Promise.reject(new Error('postStop')) }
      })
    }
    const refs = Object.entries(crashers).map(([name, f]) => sys.spawn(name, f))
    for (const ref of refs) {
      // asyncPreStart never starts: the guardian gives up on it, and then the tell is refused.
      try { ref.tell({ type: 'boom' }) } catch (err) { t.is(codeOf(err), 'NO_SUCH_ACTOR') }
      await ref.ask({ type: 'boom' }, { timeoutMs: 200 }).catch(() => {})
    }
    t.throws(() => { sys.ref('/user/nobody').tell({ type: 'x' }) })
    await new Promise(resolve => setTimeout(resolve, 50))
    await sys.stop()
  })
  t.deepEqual(seen, [])
})

test('a child failing inside its supervisor preStart escalates through the supervisor to the root', async t => {
  const sys = new ActorSystem({ logger: silent, rootSupervisor: { ...fast, intensity: 2 } })
  let supStarts = 0
  let kidStarts = 0
  const seen = await watchProcess(async () => {
    const escalated = new Promise<Escalation>(resolve => { sys.on('escalated', resolve) })
    sys.spawn('sup', () => {
      supStarts++
      return {
        preStart (ctx) { ctx.spawn('kid', () => ({ preStart () { kidStarts++; throw new Error('kid cannot start') }, receive () {} })) },
        receive () {}
      }
    }, { supervisor: { ...fast, intensity: 0 } })
    const e = await escalated
    t.is(e.path, '/user/sup')
    t.is((e.reason as VerimeshError).code, 'ACTOR_CRASHED')
  })
  t.deepEqual(seen, [])
  t.is(supStarts, 3) // first start and the root's two restarts
  t.is(kidStarts, 3)
  t.is(sys.lookup('/user/sup'), undefined)
  await sys.stop()
})
