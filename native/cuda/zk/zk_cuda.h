#pragma once

// GPU MSM and NTT for the Groth16 prover (native/cuda/zk_cuda.cu), on the CPU
// prover's types (native/src/zk/). Compiled only into the CUDA build
// (VERIMESH_CUDA); results are byte-identical to msm_g1 / msm_g2 / ntt /
// apply_key after normalisation (affine points, reduced field elements).
//
// Every function throws std::invalid_argument for bad arguments and
// std::runtime_error (with the CUDA error text) when the device fails; callers
// that want a fallback check zk_cuda_available() first.

#include <cstddef>
#include <string>

#include "../../src/zk/curve.h"

namespace vm_zk {

// True when a CUDA device is present and runs this build's kernels (probed once
// with a tiny launch). Otherwise false and *why_not says why.
bool zk_cuda_available(std::string * why_not);
// "<name> (sm_XY, N MB)" of device 0 when available, else "".
std::string zk_cuda_device_name();

// Σ scalars[i] · bases[i]. Bases affine (zkey layout, infinity = zeros);
// scalars standard form, < 2^254 (every Fr value is).
G1Jac zk_cuda_msm_g1(const G1Affine * bases, const U256 * scalars, size_t n);
G2Jac zk_cuda_msm_g2(const G2Affine * bases, const U256 * scalars, size_t n);

// In place, n = 2^log2n (log2n <= 28), natural order, ffjavascript's roots: as ntt().
void zk_cuda_ntt(Fr * a, unsigned log2n, bool inverse);
// a[i] *= first · inc^i: as apply_key().
void zk_cuda_apply_key(Fr * a, size_t n, const Fr & first, const Fr & inc);
// iNTT, apply_key(1, inc), NTT with one upload and one download: the prover's
// evaluation on the odd coset.
void zk_cuda_to_coset(Fr * a, unsigned log2n, const Fr & inc);

} // namespace vm_zk
