// CUDA kernels of verimesh_native. Host-side logic (probe, error handling)
// lives in native/src/gpu.cc; this file only holds device code and the thin
// launchers that gpu.cc calls, so the .cc side never needs nvcc.

#include <cuda_runtime.h>

#include "../src/gpu.h"

// One thread writes one value: the smallest kernel that still proves the
// fatbin has an image for the device (SASS for sm_80/sm_90, PTX JIT otherwise).
static __global__ void vm_write_marker_kernel(int * out, int value) {
    *out = value;
}

int vm_cuda_write_marker(int * d_out, int value) {
    vm_write_marker_kernel<<<1, 1>>>(d_out, value);
    // Launch errors (e.g. cudaErrorNoKernelImageForDevice) are reported here,
    // execution errors by the following synchronisation.
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) {
        err = cudaDeviceSynchronize();
    }
    return (int) err;
}
