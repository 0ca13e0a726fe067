#pragma once

// GPU probe. The same sources build two ways:
//  - node-gyp (npm install): no CUDA; the probe reports "addon built without CUDA".
//  - cmake-js with -DVERIMESH_CUDA=ON (npm run build:cuda): the probe asks the
//    CUDA runtime, which is linked statically so the addon still loads on a
//    machine with no GPU or no driver; it then reports present=false and why.
// Only the runtime API is used: there is no libcuda stub to link the driver API against.

#include <cstdint>
#include <string>
#include <vector>

struct vm_gpu_device {
    int         index;
    std::string name;
    int         cc_major;
    int         cc_minor;
    uint64_t    memory_bytes;
    int         multiprocessors;
};

struct vm_gpu_info {
    bool                       present;     // at least one usable device
    std::string                reason;      // why not present; empty when present
    int                        driver_version;  // e.g. 13000; 0 when unknown / no driver
    std::vector<vm_gpu_device> devices;
};

struct vm_gpu_build_info {
    bool        cuda;           // compiled with VERIMESH_CUDA
    std::string cuda_version;   // CUDA runtime compiled in, e.g. "13.0"; empty without CUDA
    std::string architectures;  // CMAKE_CUDA_ARCHITECTURES, comma-separated: "80-real,90-real,90-virtual"
};

struct vm_gpu_self_test_result {
    bool        ok;
    std::string reason;         // empty when ok
};

vm_gpu_build_info vm_gpu_get_build_info();

// Probed once per process; the CUDA runtime initialises on first use and its
// initialisation errors are sticky anyway, so re-probing would learn nothing.
const vm_gpu_info & vm_gpu_get_info();

// Launches a one-thread kernel on `device` and reads its result back. Proves the
// fatbin holds code this GPU can run (SASS for its arch or PTX to JIT); a
// mismatch shows up here as "no kernel image is available", not later mid-inference.
vm_gpu_self_test_result vm_gpu_self_test(int device);

#ifdef VERIMESH_CUDA
// Implemented in native/cuda/*.cu. Returns a cudaError_t as int so that this
// header stays free of CUDA includes.
int vm_cuda_write_marker(int * d_out, int value);
#endif
