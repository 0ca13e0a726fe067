// The remote end of the actors benchmark, a separate OS process: the Verimesh
// transport with an echo and a sink actor, and beside it raw libp2p protocols over
// the same node (TCP + noise + yamux) for the comparisons:
//   RAW_ECHO  writes back every chunk it receives (request/response RTT)
//   RAW_SINK  reads a u32 message count, then that many [u32 length][payload]
//             messages, and answers one byte when it has them all (throughput)
// Prints `READY <json>` once serving; exits on SIGTERM or when stdin closes.
import '../../runtime/polyfills.js'
import { ActorSystem, type ActorContext, type Message } from '../../runtime/actors/index.js'
import { createLibp2pNode } from '../../runtime/net/libp2p.js'
import { Libp2pTransport } from '../../runtime/net/transport.js'
import { benchRegistry, RAW_ECHO, RAW_SINK } from './messages.js'
import type { Stream } from '@libp2p/interface'

const node = await createLibp2pNode({ identity: { seed: process.argv[2] ?? 'bench-peer' } })
const peerId = node.peerId.toString()
const system = new ActorSystem({ peerId, logger: () => {} })
await Libp2pTransport.create({ libp2p: node, system, registry: benchRegistry() })

system.spawn('echo', () => ({ receive: (msg: Message, ctx: ActorContext) => { ctx.reply(msg) } }))
system.spawn('sink', () => {
  let count = 0
  let outOfOrder = 0
  let last = -1
  return {
    receive: (msg: Message, ctx: ActorContext) => {
      if (msg.type === 'bench.report') {
        ctx.reply({ type: 'bench.report.result', count, outOfOrder })
        count = 0; outOfOrder = 0; last = -1
        return
      }
      const seq = msg.seq as number
      if (seq !== last + 1) outOfOrder++
      last = seq
      count++
    }
  }
}, { mailboxCapacity: 1_000_000 })

const chunksOf = (data: Uint8Array | Iterable<Uint8Array>): Iterable<Uint8Array> => data instanceof Uint8Array ? [data] : data

await node.handle(RAW_ECHO, (stream: Stream) => {
  stream.addEventListener('message', (evt) => {
    for (const c of chunksOf(evt.data)) stream.send(c)
  })
})

await node.handle(RAW_SINK, (stream: Stream) => {
  // Walk the length prefixes across chunk boundaries: the minimum a receiver of
  // framed messages must do.
  let expected = -1
  let count = 0
  const hdr = new Uint8Array(4)
  let hdrFill = 0
  let skip = 0
  stream.addEventListener('message', (evt) => {
    for (const c of chunksOf(evt.data)) {
      let pos = 0
      while (pos < c.byteLength) {
        if (skip > 0) {
          const n = Math.min(skip, c.byteLength - pos)
          skip -= n
          pos += n
          if (skip === 0) count++
          continue
        }
        hdr[hdrFill++] = c[pos++]
        if (hdrFill < 4) continue
        hdrFill = 0
        const v = ((hdr[0] << 24) >>> 0) + (hdr[1] << 16) + (hdr[2] << 8) + hdr[3]
        if (expected < 0) { expected = v; continue }
        skip = v
      }
      if (expected >= 0 && count === expected) {
        stream.send(new Uint8Array([1]))
        expected = -1
        count = 0
      }
    }
  })
})

async function stop (): Promise<void> {
  await system.stop()
  await node.stop()
  process.exit(0)
}
process.on('SIGTERM', () => { void stop() })
process.stdin.on('end', () => { void stop() })
process.stdin.resume()
process.stdout.write(`READY ${JSON.stringify({ peerId, addrs: node.getMultiaddrs().map(a => a.toString()) })}\n`)
