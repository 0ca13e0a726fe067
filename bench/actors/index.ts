// Suite 'actors': the actor runtime and its libp2p transport against the floor
// under each of them, measured in the same run.
//
//   local tell        ActorSystem tell → counting actor      vs  array queue drained per setImmediate
//   local ask         await ref.ask() to a local echo        vs  await of an async function
//   remote tell 1 KB  tells between two OS processes         vs  raw libp2p stream, same 1 KB messages,
//                     (one connection, coalesced frames)          same 64 KiB batching and drain handling
//   remote ask        await ask() to an echo in the peer     vs  raw request/response on a libp2p stream
//   backpressure      sender memory growth while sending     vs  the raw stream when send()=false is ignored
//                     as fast as it can
//
// Both processes share the 2-core machine, so the remote numbers include the peer's CPU.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { ActorSystem, type ActorContext, type Message } from '../../runtime/actors/index.js'
import { createLibp2pNode, type VerimeshLibp2p } from '../../runtime/net/libp2p.js'
import { Libp2pTransport } from '../../runtime/net/transport.js'
import { median, metric, msSince, percentile, yieldToLoop, type Metric, type Suite, type SuiteContext } from '../suite.js'
import { benchRegistry, RAW_ECHO, RAW_SINK } from './messages.js'
import type { Stream } from '@libp2p/interface'

const TARGET_LOCAL_TELL = 2_000_000
const TARGET_REMOTE_TELL = 100_000
const TARGET_REMOTE_ASK_P50_MS = 0.3
const PAYLOAD = 1024
const BATCH_BYTES = 64 * 1024

export const suite: Suite = {
  name: 'actors',
  description: 'actor runtime + libp2p transport vs the floor under each (same run, same machine)',
  run: async (ctx) => {
    const metrics: Metric[] = []
    metrics.push(...await localTell(ctx))
    metrics.push(...await localAsk(ctx))
    metrics.push(...await remote(ctx))
    return metrics
  }
}

// ---- local ------------------------------------------------------------------------

async function localTell (ctx: SuiteContext): Promise<Metric[]> {
  const N = ctx.quick ? 200_000 : 2_000_000
  // Per turn of the event loop the producer tells at most what the actor drains per
  // turn (its throughput budget, 1024), so the mailbox never overflows.
  const BATCH = 1000
  const msg = { type: 'tick', n: 1 }
  const runActor = async (): Promise<number> => {
    const system = new ActorSystem({ peerId: 'local', logger: () => {} })
    let got = 0
    let done!: () => void
    const finished = new Promise<void>(resolve => { done = resolve })
    const ref = system.spawn('count', () => ({ receive: () => { if (++got === N) done() } }), { mailboxCapacity: BATCH * 10 })
    const t0 = process.hrtime.bigint()
    for (let sent = 0; sent < N; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) ref.tell(msg)
      await yieldToLoop()
    }
    await finished
    const ms = msSince(t0)
    await system.stop()
    return N / (ms / 1000)
  }
  // Floor: what any asynchronous mailbox costs at least: push, and a drain of up to
  // 1024 per setImmediate calling the handler (the runtime's own drain budget).
  const runFloor = async (): Promise<number> => {
    const queue: Array<typeof msg> = []
    let head = 0
    let got = 0
    let scheduled = false
    let done!: () => void
    const finished = new Promise<void>(resolve => { done = resolve })
    const handle = (_m: typeof msg): void => { if (++got === N) done() }
    const drain = (): void => {
      scheduled = false
      let budget = 1024
      while (head < queue.length && budget-- > 0) handle(queue[head++])
      if (head === queue.length) { queue.length = 0; head = 0 } else { scheduled = true; setImmediate(drain) }
    }
    const tell = (m: typeof msg): void => {
      queue.push(m)
      if (!scheduled) { scheduled = true; queueMicrotask(drain) }
    }
    const t0 = process.hrtime.bigint()
    for (let sent = 0; sent < N; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) tell(msg)
      await yieldToLoop()
    }
    await finished
    return N / (msSince(t0) / 1000)
  }
  await runActor(); await runFloor() // warm-up (JIT)
  const actor: number[] = []
  const floor: number[] = []
  for (let r = 0; r < 3; r++) { actor.push(await runActor()); floor.push(await runFloor()) }
  ctx.log(`local tell: actor ${actor.map(Math.round).join(', ')} msg/s; floor ${floor.map(Math.round).join(', ')}`)
  return [metric({ name: 'local tell throughput', value: median(actor), unit: 'msg/s', better: 'higher', peer: 'array queue + setImmediate drain', peerValue: median(floor), target: TARGET_LOCAL_TELL, note: `median of 3 runs of ${N.toLocaleString('en-US')} tells in batches of ${BATCH}` })]
}

async function localAsk (ctx: SuiteContext): Promise<Metric[]> {
  const N = ctx.quick ? 20_000 : 200_000
  const system = new ActorSystem({ peerId: 'local', logger: () => {} })
  const ref = system.spawn('echo', () => ({ receive: (m: Message, c: ActorContext) => { c.reply(m) } }))
  const msg = { type: 'ping', n: 1 }
  const samples = new Float64Array(N)
  for (let i = 0; i < 10_000; i++) await ref.ask(msg)
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint()
    await ref.ask(msg)
    samples[i] = msSince(t0)
  }
  await system.stop()
  const handler = async (m: typeof msg): Promise<typeof msg> => m
  const floor = new Float64Array(N)
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint()
    await handler(msg)
    floor[i] = msSince(t0)
  }
  const us = (ms: number): number => ms * 1000
  return [
    metric({ name: 'local ask round trip p50', value: us(percentile(samples, 50)), unit: 'µs', better: 'lower', peer: 'await async function', peerValue: us(percentile(floor, 50)) }),
    metric({ name: 'local ask round trip p99', value: us(percentile(samples, 99)), unit: 'µs', better: 'lower', peer: 'await async function', peerValue: us(percentile(floor, 99)), note: `${N.toLocaleString('en-US')} sequential asks` })
  ]
}

// ---- remote -----------------------------------------------------------------------

interface Peer { peerId: string, addrs: string[], child: ChildProcess, stop: () => Promise<void> }

async function spawnPeer (): Promise<Peer> {
  const script = fileURLToPath(new URL('./peer.js', import.meta.url))
  const profDir = process.env.VERIMESH_BENCH_PROF_DIR
  const execArgv = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]
  const child = spawn(process.execPath, [...execArgv, script, `bench-peer-${process.pid}`], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const ready = await new Promise<{ peerId: string, addrs: string[] }>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { reject(new Error('bench peer did not start in 20 s')) }, 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find(l => l.startsWith('READY '))
      if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line.slice(6))) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`bench peer exited with ${String(code)}`)) })
  })
  return {
    ...ready,
    child,
    stop: async () => {
      child.kill('SIGTERM')
      const t = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      await exited
      clearTimeout(t)
    }
  }
}

async function remote (ctx: SuiteContext): Promise<Metric[]> {
  const peer = await spawnPeer()
  const node = await createLibp2pNode({ identity: { seed: `bench-parent-${process.pid}` } })
  const system = new ActorSystem({ peerId: node.peerId.toString(), askTimeoutMs: 30_000, logger: () => {} })
  const transport = await Libp2pTransport.create({ libp2p: node, system, registry: benchRegistry() })
  await transport.addPeer(peer.peerId, peer.addrs)
  try {
    return await measureRemote(ctx, node, system, transport, peer)
  } finally {
    await system.stop()
    await node.stop()
    await peer.stop()
  }
}

async function measureRemote (ctx: SuiteContext, node: VerimeshLibp2p, system: ActorSystem, transport: Libp2pTransport, peer: Peer): Promise<Metric[]> {
  const peerId = peerIdFromString(peer.peerId)
  const echo = system.ref(`${peer.peerId}/user/echo`)
  const sink = system.ref(`${peer.peerId}/user/sink`)
  const src = system.spawn('src', () => ({ receive: () => {} }))
  const data = new Uint8Array(PAYLOAD).fill(0xab)
  const N = ctx.quick ? 20_000 : 200_000
  const ASKS = ctx.quick ? 1000 : 5000

  // Verimesh tells: as fast as the transport takes them, pausing when its queue is
  // above the high-water mark; done when the sink has counted them all.
  const verimeshTells = async (n: number): Promise<number> => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      sink.tell({ type: 'bench.blob', seq: i, data }, src)
      if (!transport.isWritable(peer.peerId)) await transport.whenWritable(peer.peerId)
    }
    const r = await sink.ask<Message & { count: number, outOfOrder: number }>({ type: 'bench.report' })
    const ms = msSince(t0)
    if (r.count !== n || r.outOfOrder !== 0) throw new Error(`sink counted ${r.count}/${n}, ${r.outOfOrder} out of order`)
    return n / (ms / 1000)
  }

  // Raw: the same 1 KB messages, length-prefixed, copied into 64 KiB batches, one
  // send() per batch, waiting for 'drain' whenever send() returns false.
  const rawTells = async (n: number, respectBackpressure = true): Promise<{ rate: number, peakBuffered: number }> => {
    const stream = await node.dialProtocol(peerId, RAW_SINK)
    const done = new Promise<void>(resolve => { stream.addEventListener('message', () => { resolve() }, { once: true }) })
    const head = new Uint8Array(4)
    new DataView(head.buffer).setUint32(0, n)
    let peakBuffered = 0
    const t0 = process.hrtime.bigint()
    stream.send(head)
    const per = 4 + PAYLOAD
    const perBatch = Math.floor(BATCH_BYTES / per)
    for (let i = 0; i < n;) {
      const k = Math.min(perBatch, n - i)
      const batch = new Uint8Array(k * per)
      const view = new DataView(batch.buffer)
      for (let j = 0; j < k; j++) {
        view.setUint32(j * per, PAYLOAD)
        batch.set(data, j * per + 4)
      }
      i += k
      const ok = stream.send(batch)
      if (stream.writeBufferLength > peakBuffered) peakBuffered = stream.writeBufferLength
      if (!ok && respectBackpressure) await new Promise<void>(resolve => { stream.addEventListener('drain', () => { resolve() }, { once: true }) })
    }
    await done
    const ms = msSince(t0)
    await stream.close()
    return { rate: n / (ms / 1000), peakBuffered }
  }

  // Warm-up both paths (JIT, windows, connection).
  for (let i = 0; i < 500; i++) await echo.ask({ type: 'bench.echo', n: i })
  await verimeshTells(Math.min(N, 20_000))
  await rawTells(Math.min(N, 20_000))

  // -- remote ask RTT
  const askSamples = new Float64Array(ASKS)
  for (let i = 0; i < ASKS; i++) {
    const t0 = process.hrtime.bigint()
    await echo.ask({ type: 'bench.echo', n: i })
    askSamples[i] = msSince(t0)
  }
  const rawSamples = new Float64Array(ASKS)
  {
    const stream: Stream = await node.dialProtocol(peerId, RAW_ECHO)
    const req = new Uint8Array(32).fill(1)
    let got = 0
    let wake: (() => void) | undefined
    stream.addEventListener('message', (evt) => {
      got += evt.data.byteLength
      if (got >= req.byteLength) { got -= req.byteLength; wake?.() }
    })
    for (let i = 0; i < ASKS + 200; i++) {
      const answered = new Promise<void>(resolve => { wake = resolve })
      const t0 = process.hrtime.bigint()
      stream.send(req)
      await answered
      if (i >= 200) rawSamples[i - 200] = msSince(t0)
    }
    await stream.close()
  }
  ctx.log(`remote ask p50 ${percentile(askSamples, 50).toFixed(3)} ms (raw ${percentile(rawSamples, 50).toFixed(3)} ms)`)

  // -- remote tell throughput, 3 runs each, interleaved so drift hits both
  const vm: number[] = []
  const raw: number[] = []
  const statsBefore = transport.stats()
  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  const rssTimer = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss) }, 20)
  for (let r = 0; r < 3; r++) {
    vm.push(await verimeshTells(N))
    raw.push((await rawTells(N)).rate)
    ctx.log(`remote tell run ${r + 1}: verimesh ${Math.round(vm[r])} msg/s, raw ${Math.round(raw[r])} msg/s`)
  }
  clearInterval(rssTimer)
  const s = transport.stats()
  const framesPerRun = (s.framesOut - statsBefore.framesOut) / 3
  const drainWaits = s.drainWaits - statsBefore.drainWaits

  // -- what backpressure bounds: the same amount sent by a raw stream that ignores
  // send()=false ends up buffered in the sender (libp2p's stream write buffer).
  const rssBeforeIgnoring = process.memoryUsage().rss
  let rssPeakIgnoring = rssBeforeIgnoring
  const ignoringTimer = setInterval(() => { rssPeakIgnoring = Math.max(rssPeakIgnoring, process.memoryUsage().rss) }, 20)
  const ignoring = await rawTells(N, false)
  clearInterval(ignoringTimer)
  rssPeakIgnoring = Math.max(rssPeakIgnoring, process.memoryUsage().rss)

  return [
    metric({ name: 'remote tell throughput (1 KB, 1 connection)', value: median(vm), unit: 'msg/s', better: 'higher', peer: 'raw libp2p stream, 64 KiB batches', peerValue: median(raw), target: TARGET_REMOTE_TELL, note: `median of 3 runs of ${N.toLocaleString('en-US')} messages; ~${Math.round(N / framesPerRun)} envelopes per frame; ${drainWaits} drain waits` }),
    metric({ name: 'remote tell throughput (1 KB)', value: median(vm) * PAYLOAD / 2 ** 20, unit: 'MiB/s', better: 'higher', peer: 'raw libp2p stream, 64 KiB batches', peerValue: median(raw) * PAYLOAD / 2 ** 20 }),
    metric({ name: 'remote ask round trip p50', value: percentile(askSamples, 50), unit: 'ms', better: 'lower', peer: 'raw request/response', peerValue: percentile(rawSamples, 50), target: TARGET_REMOTE_ASK_P50_MS }),
    metric({ name: 'remote ask round trip p99', value: percentile(askSamples, 99), unit: 'ms', better: 'lower', peer: 'raw request/response', peerValue: percentile(rawSamples, 99), note: `${ASKS.toLocaleString('en-US')} sequential asks, loopback TCP. The raw echo answers inside the read callback, before yamux writes that frame's window update; an actor answers after it (one more socket write and wake-up per hop)` }),
    metric({ name: `sender RSS growth, ${N.toLocaleString('en-US')} x 1 KB flat out`, value: Math.max(0, rssPeak - rssBefore) / 2 ** 20, unit: 'MiB', better: 'lower', peer: 'raw stream ignoring send()=false', peerValue: Math.max(0, rssPeakIgnoring - rssBeforeIgnoring) / 2 ** 20, note: `transport queue peak ${(s.peakQueuedBytes / 2 ** 20).toFixed(1)} MiB (high-water 4 MiB), libp2p stream buffer peak ${(s.peakStreamBufferedBytes / 1024).toFixed(0)} KiB; the raw stream's buffer peaked at ${(ignoring.peakBuffered / 2 ** 20).toFixed(0)} MiB` })
  ]
}
