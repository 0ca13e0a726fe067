#include "gpu.h"

#ifdef VERIMESH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef VERIMESH_CUDA_ARCHS
#define VERIMESH_CUDA_ARCHS ""
#endif

#ifdef VERIMESH_CUDA

namespace {

std::string cuda_error(const char * call, cudaError_t err) {
    return std::string(call) + " failed: " + cudaGetErrorString(err) + " (" + std::to_string((int) err) + ")";
}

vm_gpu_info probe() {
    vm_gpu_info info = {};

    // 0 when no driver is installed; only informative, never fatal.
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess) {
        info.driver_version = driver;
    }

    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // Any failure means "no GPU": 35 (insufficient driver) with no driver
        // at all, 100 (no device) with a driver but no GPU, others under MIG
        // or a broken install. Clear the error so it does not leak into later calls.
        info.reason = cuda_error("cudaGetDeviceCount", err);
        cudaGetLastError();
        return info;
    }
    if (count == 0) {
        info.reason = "no CUDA devices";
        return info;
    }

    std::string failures;
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop;
        const cudaError_t perr = cudaGetDeviceProperties(&prop, i);
        if (perr != cudaSuccess) {
            failures += (failures.empty() ? "" : "; ") + cuda_error("cudaGetDeviceProperties", perr);
            continue;
        }
        vm_gpu_device d;
        d.index           = i;
        d.name            = prop.name;
        d.cc_major        = prop.major;
        d.cc_minor        = prop.minor;
        d.memory_bytes    = (uint64_t) prop.totalGlobalMem;
        d.multiprocessors = prop.multiProcessorCount;
        info.devices.push_back(d);
    }
    info.present = !info.devices.empty();
    if (!info.present) {
        info.reason = failures;
    }
    return info;
}

} // namespace

vm_gpu_build_info vm_gpu_get_build_info() {
    vm_gpu_build_info b;
    b.cuda          = true;
    b.cuda_version  = std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10);
    b.architectures = VERIMESH_CUDA_ARCHS;
    return b;
}

const vm_gpu_info & vm_gpu_get_info() {
    static const vm_gpu_info info = probe();
    return info;
}

vm_gpu_self_test_result vm_gpu_self_test(int device) {
    vm_gpu_self_test_result r = {false, ""};
    const vm_gpu_info & info = vm_gpu_get_info();
    if (!info.present) {
        r.reason = info.reason;
        return r;
    }
    if (device < 0 || device >= (int) info.devices.size()) {
        r.reason = "no CUDA device " + std::to_string(device);
        return r;
    }

    cudaError_t err = cudaSetDevice(info.devices[device].index);
    if (err != cudaSuccess) {
        r.reason = cuda_error("cudaSetDevice", err);
        return r;
    }
    int * d_out = nullptr;
    err = cudaMalloc((void **) &d_out, sizeof(int));
    if (err != cudaSuccess) {
        r.reason = cuda_error("cudaMalloc", err);
        return r;
    }
    const int expected = 0x5eed0000 + device;
    int got = 0;
    err = (cudaError_t) vm_cuda_write_marker(d_out, expected);
    if (err != cudaSuccess) {
        r.reason = cuda_error("kernel launch", err);
    } else if ((err = cudaMemcpy(&got, d_out, sizeof(int), cudaMemcpyDeviceToHost)) != cudaSuccess) {
        r.reason = cuda_error("cudaMemcpy", err);
    } else if (got != expected) {
        r.reason = "kernel wrote " + std::to_string(got) + ", expected " + std::to_string(expected);
    } else {
        r.ok = true;
    }
    cudaFree(d_out);
    return r;
}

#else // !VERIMESH_CUDA

vm_gpu_build_info vm_gpu_get_build_info() {
    vm_gpu_build_info b;
    b.cuda = false;
    return b;
}

const vm_gpu_info & vm_gpu_get_info() {
    static const vm_gpu_info info = [] {
        vm_gpu_info i = {};
        i.reason = "addon built without CUDA";
        return i;
    }();
    return info;
}

vm_gpu_self_test_result vm_gpu_self_test(int) {
    return {false, "addon built without CUDA"};
}

#endif
