// The Verimesh native addon as this suite sees it: the int8 GEMM kernels and the peak
// loops, each optional, so the suite reports what the addon offers and says what it
// lacks instead of failing.

import { loadAddon, type VerimeshAddon } from '../../runtime/addon.js'

export interface NativeGemm {
  /** Kernel paths this CPU can run, e.g. ['scalar', 'avx2', 'avx512vnni', 'amx']. */
  kernels: string[]
  /** The addon's own choice, measured as a path of its own: 'auto' (on an AMX host: AMX
   *  tiles, and avx512vnni over the same packed weights for products of few rows). */
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

type Kernel = Parameters<NonNullable<VerimeshAddon['gemmS8Bench']>>[3]

export function loadNativeGemm (): { gemm?: NativeGemm, reason: string } {
  let addon: VerimeshAddon
  try {
    addon = loadAddon()
  } catch (e) {
    return { reason: (e as Error).message }
  }
  const { gemmS8, gemmS8Bench, kernels: kernelsFn } = addon
  if (gemmS8 === undefined || kernelsFn === undefined) return { reason: `the addon at ${addon.path} exports no gemmS8/kernels (an older build?)` }
  const kernels: string[] = kernelsFn()
  const product = (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel: string): Int32Array => gemmS8(a, w, m, n, k, kernel as Kernel)
  let timeGemm: NativeGemm['timeGemm']
  let timing: string
  if (gemmS8Bench !== undefined) {
    // Its own seeded operands, weights packed once outside the timed loop (as a shard
    // does at load), one untimed warm-up product, then `iters` timed products.
    timing = 'gemmS8Bench: timed loop inside the addon, weights prepacked'
    timeGemm = async (_a, _w, m, n, k, kernel, threads, iters) => gemmS8Bench(m, n, k, kernel as Kernel, threads, iters) / iters
  } else {
    // gemmS8 packs the weights on every call: slower than a model's prepacked weights.
    timing = 'gemmS8 called from JS per product (includes weight packing, N-API call and output allocation)'
    timeGemm = async (a, w, m, n, k, kernel, threads, iters) => {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < iters; i++) gemmS8(a, w, m, n, k, kernel as Kernel, threads)
      return Number(process.hrtime.bigint() - t0) / 1e9 / iters
    }
  }
  // A peak loop is not part of the addon's typed API (yet); look for one by name.
  const raw = addon as unknown as Record<string, unknown>
  const peakFn = raw.peakInt8 as ((kind: string, threads: number, seconds: number) => number) | undefined
  const peakKindsFn = raw.peakKinds as (() => string[]) | undefined
  return {
    gemm: {
      kernels,
      defaultKernel: 'auto',
      product,
      timeGemm,
      timing,
      peakKinds: typeof peakKindsFn === 'function' ? peakKindsFn() : [],
      ...(typeof peakFn === 'function' ? { peak: peakFn } : {})
    },
    reason: ''
  }
}
