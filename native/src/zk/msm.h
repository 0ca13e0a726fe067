#pragma once

// Pippenger multi-scalar multiplication Σ scalar_i · base_i over G1 and G2.
// Bases: affine, Montgomery coordinates (zkey layout), infinity allowed.
// Scalars: standard form, < r (254 bits). Signed window digits in
// [-2^(c-1), 2^(c-1)] halve the buckets; a zero digit (and so a zero scalar)
// costs nothing but a read. Work items are (window, chunk of points) pairs taken
// dynamically by the threads of the engine's process-wide pool.

#include <cstddef>

#include "curve.h"

namespace vm_zk {

// Window width (bits) for n non-trivial terms: minimises windows × (n + bucket reduction).
unsigned msm_window_bits(size_t n);

// window_bits 0: msm_window_bits(number of non-zero scalars); else 2..15 (tests).
G1Jac msm_g1(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
G2Jac msm_g2(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);

} // namespace vm_zk
