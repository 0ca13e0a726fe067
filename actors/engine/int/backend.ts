// Where a shard's integer kernels run. The engine talks to one ShardBackend per shard
// it holds; each backend keeps its sessions' KV caches and produces the bytes of
// docs/engine-spec.md, whatever hardware it uses.

import type { ShardInputArrays, ShardOutput } from './forward.js'

export interface ShardBackend {
  /** e.g. 'native/amx', 'native/cuda', 'js/piscina'. Reported in receipts and metrics. */
  readonly name: string
  /** Runs positions [pos, pos + n) of a session; pos below the cached length rewinds. */
  forward: (session: string, pos: number, input: ShardInputArrays) => Promise<ShardOutput>
  endSession: (session: string) => void
  close: () => Promise<void>
}

export type BackendChoice = 'auto' | 'native' | 'js'

export interface BackendOptions {
  readonly backend?: BackendChoice
  /** Native kernel path: 'auto' | 'scalar' | 'avx2' | 'avx512vnni' | 'amx' | 'cuda'. */
  readonly kernel?: string
  /** Native threads per shard, or JS pool workers. */
  readonly threads?: number
}
