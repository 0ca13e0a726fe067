#pragma once

// Node-API surface of the prover's GPU kernels, CUDA build only (VERIMESH_CUDA):
//   zkCudaStatus() -> { available, reason, device }
//   zkCudaCheck(kind, size, seed?, pattern?, threads?) -> Promise<{ equal, detail,
//       summary, cpuMs, gpuMs }>: seeded inputs through the GPU and the CPU prover,
//       compared byte for byte (kind 'msm_g1' | 'msm_g2' with size = n,
//       'ntt' with size = log2 n; see zk_selfcheck.h).

#include <napi.h>

namespace vm_zk {

void cuda_init(Napi::Env env, Napi::Object exports);

} // namespace vm_zk
