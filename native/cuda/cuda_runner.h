#pragma once

// CUDA backend of the integer engine (docs/engine-spec.md). Declared in a plain
// C++ header so that the N-API bindings (compiled by g++) can call it; the
// definition lives in engine_cuda.cu and only exists in the CUDA build
// (CMakeLists.txt with -DVERIMESH_CUDA=ON).

#include <memory>
#include <string>

#include "../src/engine/shard.h"

namespace vm_engine {

// Validates `desc` (throws EngineError when it is invalid, as make_cpu_runner
// does), then uploads every weight to `device` and returns a runner whose whole
// forward pass runs on that GPU. Returns nullptr and sets *why_not (when not
// null) if no usable GPU is there: no driver or device, no kernel image for its
// architecture, not enough device memory, or shapes beyond the kernels' limits.
// The caller may then fall back to the CPU runner and report the reason.
std::unique_ptr<ShardRunner> make_cuda_runner(const ShardDesc & desc, int device, std::string * why_not);

} // namespace vm_engine
