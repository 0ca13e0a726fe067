// The Verimesh native addon as this suite sees it: the int8 GEMM kernels, the peak
// loops and the shard runner, each optional, so the suite reports what the addon
// offers and says what it lacks instead of failing.

import { loadAddon } from '../../runtime/addon.js'

export interface NativeGemm {
  /** Kernel paths this CPU can run, e.g. ['scalar', 'avx2', 'avx512vnni', 'amx']. */
  kernels: string[]
  /** The path the addon picks on its own ('auto'). */
  defaultKernel: string
  /** C[m][n] = Σ a[m][k]·w[n][k] with one kernel. */
  product: (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel: string) => Int32Array
  /** Seconds per product over `iters` products on `threads` threads (warm buffers). */
  timeGemm: (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel: string, threads: number, iters: number) => Promise<number>
  /** How timeGemm measures (stated in the report). */
  timing: string
  /** Peak loops (vpdpbusd / tdpbssd), GOPS, when the addon exposes them. */
  peak?: (kind: string, threads: number, seconds: number) => number
  peakKinds: string[]
}

type Fn = (...args: unknown[]) => unknown

/** The raw addon object, looked at by name (the typed wrapper may not list every export yet). */
function exportsOf (addon: unknown): Record<string, unknown> {
  return addon as Record<string, unknown>
}

export function loadNativeGemm (): { gemm?: NativeGemm, reason: string } {
  let addon: unknown
  try {
    addon = loadAddon()
  } catch (e) {
    return { reason: (e as Error).message }
  }
  const x = exportsOf(addon)
  const gemmS8 = x.gemmS8 as Fn | undefined
  const kernelsFn = x.kernels as Fn | undefined
  if (typeof gemmS8 !== 'function' || typeof kernelsFn !== 'function') {
    return { reason: `the addon at ${String(x.path)} exports no gemmS8/kernels yet` }
  }
  const kernels = (kernelsFn() as string[]).slice()
  const bench = x.gemmS8Bench as Fn | undefined
  const setThreads = x.setThreads as Fn | undefined
  const product = (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel: string): Int32Array => gemmS8(a, w, m, n, k, kernel) as Int32Array
  let timeGemm: NativeGemm['timeGemm']
  let timing: string
  if (typeof bench === 'function') {
    timing = 'gemmS8Bench: timed loop inside the addon'
    timeGemm = async (_a, _w, m, n, k, kernel, threads, iters) => (bench(m, n, k, kernel, threads, iters) as number) / iters
  } else {
    timing = 'gemmS8 called from JS per product (includes N-API call and output allocation)'
    timeGemm = async (a, w, m, n, k, kernel, threads, iters) => {
      if (typeof setThreads === 'function') setThreads(threads)
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < iters; i++) gemmS8(a, w, m, n, k, kernel)
      return Number(process.hrtime.bigint() - t0) / 1e9 / iters
    }
  }
  const peakFn = x.peakInt8 as Fn | undefined
  const gemm: NativeGemm = {
    kernels,
    defaultKernel: kernels[kernels.length - 1] ?? 'scalar',
    product,
    timeGemm,
    timing,
    peakKinds: [],
    ...(typeof peakFn === 'function' ? { peak: (kind: string, threads: number, seconds: number) => peakFn(kind, threads, seconds) as number } : {})
  }
  return { gemm, reason: '' }
}
