// Suite 'tensor': Verimesh's integer compute against established engines, measured in
// the same run on the same machine (bench/tensor/README.md).
//
//   int8 GEMM / GEMV   every native kernel path, 1 and 2 threads   vs  onnxruntime MatMulInteger u8×s8
//   peak int8          vpdpbusd / tdpbssd loops (when the addon has them), else the best GEMM
//   prefill / decode   the same synthetic GGUF Q8_0 model             vs  llama.cpp (node-llama-cpp)
//   JS fallback        the TypeScript reference engine beside native
//   quality            integer engine vs the fp32 reference (and llama.cpp's top-1)
//
// Peers are installed on first use into bench/.peers (gitignored); an unavailable peer
// leaves its metrics without a peer value and says why.
import { metric, type Metric, type Suite } from '../suite.js'
import { gemmMetrics, peakProbe } from './gemm.js'
import { loadNativeGemm, type NativeGemm } from './native.js'
import { modelMetrics } from './model-metrics.js'
import { loadLlama, loadOrt } from './peers.js'

export const suite: Suite = {
  name: 'tensor',
  description: 'int8 GEMM/GEMV, prefill/decode and quality: Verimesh native + JS vs onnxruntime and llama.cpp (same run)',
  run: async (ctx) => {
    const metrics: Metric[] = []
    const ort = await loadOrt(ctx.log)
    ctx.log(ort.mod !== undefined ? `peer onnxruntime-node ${ort.version ?? '?'}` : `peer onnxruntime-node unavailable: ${ort.reason ?? '?'}`)
    const native = loadNativeGemm()
    ctx.log(native.gemm !== undefined ? `Verimesh kernels: ${native.gemm.kernels.join(', ')} (${native.gemm.timing})` : `Verimesh native GEMM unavailable: ${native.reason}`)

    const g = await gemmMetrics(ctx, native.gemm, native.reason, ort)
    metrics.push(...g.metrics)
    metrics.push(...await peakMetrics(native.gemm, g.best, ctx.quick))
    if (g.differingBytes !== undefined) {
      metrics.push(metric({ name: 'GEMM products: differing bytes across kernels', value: g.differingBytes, unit: 'bytes', better: 'lower', target: 0, note: 'every kernel path on every shape, int32 outputs compared byte by byte' }))
    }

    const llama = await loadLlama(ctx.log)
    ctx.log(llama.mod !== undefined ? `peer node-llama-cpp ${llama.version ?? '?'}` : `peer node-llama-cpp unavailable: ${llama.reason ?? '?'}`)
    metrics.push(...await modelMetrics(ctx, llama))
    return metrics
  }
}

async function peakMetrics (native: NativeGemm | undefined, best: Map<string, number>, quick: boolean): Promise<Metric[]> {
  const out: Metric[] = []
  if (native?.peak !== undefined && native.peakKinds.length > 0) {
    for (const kind of native.peakKinds) {
      for (const threads of [1, 2]) {
        out.push(metric({ name: `peak int8 ${kind} ${threads}T`, value: native.peak(kind, threads, quick ? 0.1 : 0.5), unit: 'GOPS', better: 'higher', note: 'register-only multiply-add loop in the addon: the machine\'s ceiling for this instruction' }))
      }
    }
    return out
  }
  for (const threads of [1, 2]) {
    let top = 0; let where = ''
    for (const [key, v] of best) if (key.endsWith(`@${threads}`) && v > top) { top = v; where = key.split('@')[0]! }
    const probe = native === undefined ? undefined : await peakProbe(native, threads, quick ? 2 : 5, quick ? 0.02 : 0.05)
    const useProbe = probe !== undefined && probe.gops > top
    const value = useProbe ? probe.gops : top
    if (value > 0) {
      out.push(metric({
        name: `peak int8 (best measured GEMM) ${threads}T`,
        value,
        unit: 'GOPS',
        better: 'higher',
        note: `the addon exposes no register-only vpdpbusd/tdpbssd loop, so this is the best Verimesh GEMM timing of the run: ${useProbe ? `${probe.kernel} on cache-resident ${probe.shape} (sweep of small shapes, best of 5)` : `best batch of ${where}`}; a lower bound of the machine's peak`
      }))
    }
  }
  return out
}
