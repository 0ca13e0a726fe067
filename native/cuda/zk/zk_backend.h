#pragma once

// Backend choice for ZkProver.prove({ backend }) (native/src/zk/bindings.cc):
// 'cpu', 'cuda' or 'auto'. Header-only so that the CPU build (binding.gyp, which
// compiles nothing under native/cuda/) gets the same answers minus the GPU.
// A request for the GPU that cannot be met runs on the CPU and says why.

#include <string>

#include "../../src/zk/groth16_prove.h"

namespace vm_zk {

#if defined(VERIMESH_CUDA)
// The GPU's to_coset / msm_g1 / msm_g2 (zk_bindings.cc), or null with *why_not.
const ProveAccel * zk_cuda_prove_accel(std::string * why_not);
#endif

struct ProveBackendChoice {
    const ProveAccel * accel = nullptr;   // null: the CPU prover
    std::string ran = "cpu";               // what runs: 'cpu' | 'cuda'
    std::string fallback;                  // why the GPU was asked for but not used ('' otherwise)
};

inline bool prove_backend_valid(const std::string & b) { return b == "cpu" || b == "cuda" || b == "auto"; }

inline ProveBackendChoice pick_prove_backend(const std::string & want) {
    ProveBackendChoice c;
    if (want == "cpu") return c;
#if defined(VERIMESH_CUDA)
    std::string why;
    if ((c.accel = zk_cuda_prove_accel(&why)) != nullptr) c.ran = "cuda";
    else c.fallback = "no usable GPU: " + why;
#else
    c.fallback = "this addon was built without CUDA (npm run build:cuda)";
#endif
    return c;
}

} // namespace vm_zk
