// Commitments every role agrees on: the output hash over the generated token ids, and
// the execution trace — a hash chain over every (step, shard, boundary hash) in
// execution order. Two runs agree on the trace iff every shard boundary agreed.

import { createHash } from 'node:crypto'

export function sha256Hex (bytes: Uint8Array): string {
  return '0x' + createHash('sha256').update(bytes).digest('hex')
}

export function hashTokens (tokens: readonly number[]): string {
  const buf = new Uint8Array(tokens.length * 4)
  const view = new DataView(buf.buffer)
  tokens.forEach((t, i) => view.setUint32(i * 4, t, true))
  return sha256Hex(buf)
}

export const EMPTY_TRACE = '0x' + '00'.repeat(32)

export function extendTrace (trace: string, step: number, shard: number, outputHash: string): string {
  const buf = Buffer.alloc(32 + 8 + 32)
  Buffer.from(trace.slice(2), 'hex').copy(buf, 0)
  buf.writeUInt32LE(step, 32)
  buf.writeUInt32LE(shard, 36)
  Buffer.from(outputHash.slice(2), 'hex').copy(buf, 40)
  return sha256Hex(buf)
}
