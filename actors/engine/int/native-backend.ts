// The native backend: the addon's NativeShard (C++ kernels with CPU dispatch, or CUDA
// in the cmake-js build), run off the event loop by its async worker.

import { loadAddon } from '../../../runtime/addon.js'
import type { BackendOptions, ShardBackend } from './backend.js'
import type { ShardInputArrays, ShardOutput } from './forward.js'
import type { ShardWeights } from './types.js'

/** The part of the addon's NativeShard this backend uses. */
interface NativeShardLike {
  readonly kernel: string
  forwardAsync: (session: string, pos: number, input: ShardInputArrays) => Promise<ShardOutput>
  endSession: (session: string) => void
  close: () => void
}

type NativeShardCtor = new (w: ShardWeights, opts: { threads?: number, kernel?: string }) => NativeShardLike

export class NativeBackend implements ShardBackend {
  readonly name: string
  readonly #shard: NativeShardLike

  constructor (shard: NativeShardLike) {
    this.#shard = shard
    this.name = `native/${shard.kernel}`
  }

  async forward (session: string, pos: number, input: ShardInputArrays): Promise<ShardOutput> {
    return await this.#shard.forwardAsync(session, pos, input)
  }

  endSession (session: string): void { this.#shard.endSession(session) }

  async close (): Promise<void> { this.#shard.close() }
}

/** A native backend for these weights, or the reason there is none. */
export function createNativeBackend (w: ShardWeights, opts: BackendOptions): { backend?: NativeBackend, reason: string } {
  let ctor: NativeShardCtor | undefined
  try {
    const addon = loadAddon({ prefer: opts.kernel === 'cuda' || opts.kernel === 'auto' || opts.kernel === undefined ? 'cuda' : 'cpu' })
    ctor = (addon as unknown as { NativeShard?: NativeShardCtor }).NativeShard
    if (ctor === undefined) return { reason: `the addon at ${addon.path} has no NativeShard (an older build?)` }
  } catch (err) {
    return { reason: (err as Error).message }
  }
  const shard = new ctor(w, {
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    ...(opts.kernel === undefined ? {} : { kernel: opts.kernel })
  })
  return { backend: new NativeBackend(shard), reason: '' }
}
