// The native backend: the addon's NativeShard (C++ kernels with CPU dispatch, or CUDA
// in the cmake-js build), run off the event loop by its async worker.

import { loadAddon, type EngineKernel, type NativeShard, type VerimeshAddon } from '../../../runtime/addon.js'
import { ErrorCodes, VerimeshError, type ErrorCode } from '../../../runtime/errors.js'
import type { BackendOptions, ShardBackend } from './backend.js'
import type { ShardInputArrays, ShardOutput } from './forward.js'
import type { ShardWeights } from './types.js'

/** The addon throws plain Errors with a `code`; keep that code across the boundary. */
function asVerimeshError (err: unknown, context: Record<string, unknown>): VerimeshError {
  const code = (err as { code?: unknown }).code
  const known = typeof code === 'string' && (ErrorCodes as readonly string[]).includes(code) ? code as ErrorCode : 'EXECUTION_FAILED'
  return new VerimeshError(known, (err as Error).message, context)
}

export class NativeBackend implements ShardBackend {
  readonly name: string
  readonly #shard: NativeShard

  constructor (shard: NativeShard) {
    this.#shard = shard
    this.name = `native/${shard.kernel}`
  }

  async forward (session: string, pos: number, input: ShardInputArrays): Promise<ShardOutput> {
    try {
      return await this.#shard.forwardAsync(session, pos, input)
    } catch (err) {
      throw asVerimeshError(err, { session, pos, backend: this.name })
    }
  }

  endSession (session: string): void { this.#shard.endSession(session) }

  async close (): Promise<void> { this.#shard.close() }
}

/**
 * Which build to load: the CUDA build when CUDA is asked for, or for 'auto' when that
 * build is present, has the engine and sees a GPU; the CPU build otherwise.
 */
function pickAddon (kernel: string | undefined): VerimeshAddon {
  if (kernel === 'cuda') return loadAddon({ prefer: 'cuda' })
  if (kernel === undefined || kernel === 'auto') {
    try {
      const cuda = loadAddon({ prefer: 'cuda' })
      if (cuda.NativeShard !== undefined && cuda.capabilities().gpu.present) return cuda
    } catch { /* no CUDA build: the CPU build below says why if it fails too */ }
  }
  return loadAddon({ prefer: 'cpu' })
}

/** A native backend for these weights, or the reason there is none. */
export function createNativeBackend (w: ShardWeights, opts: BackendOptions): { backend?: NativeBackend, reason: string } {
  let ctor
  let where: string
  try {
    const addon = pickAddon(opts.kernel)
    ctor = addon.NativeShard
    where = addon.path
  } catch (err) {
    return { reason: (err as Error).message }
  }
  if (ctor === undefined) return { reason: `the addon at ${where} has no NativeShard (an older build: run npm install)` }
  try {
    const shard = new ctor(w, {
      ...(opts.threads === undefined ? {} : { threads: opts.threads }),
      ...(opts.kernel === undefined ? {} : { kernel: opts.kernel as EngineKernel | 'auto' })
    })
    return { backend: new NativeBackend(shard), reason: '' }
  } catch (err) {
    // Bad weights or an unusable kernel are errors, not a reason to fall back quietly.
    throw asVerimeshError(err, { range: w.range, kernel: opts.kernel ?? 'auto' })
  }
}
