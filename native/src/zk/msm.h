#pragma once

// Pippenger multi-scalar multiplication Σ scalar_i · base_i over G1 and G2.
// Bases: affine, Montgomery coordinates (zkey layout), infinity allowed.
// Scalars: standard form, < r (254 bits). Signed window digits in
// [-2^(c-1), 2^(c-1)] halve the buckets; a zero digit (and so a zero scalar)
// costs nothing but a read. Work items are (window, chunk of points) pairs taken
// dynamically by the threads of the engine's process-wide pool.

#include <cstddef>
#include <vector>

#include "curve.h"

namespace vm_zk {

// Window width (bits) for n non-trivial terms: minimises windows × (n + bucket reduction).
unsigned msm_window_bits(size_t n);

// window_bits 0: msm_window_bits(number of non-zero scalars); else 2..15 (tests).
G1Jac msm_g1(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
G2Jac msm_g2(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
// msm_g1 and msm_g2 split each scalar by the GLV endomorphism (glv.h) from 64
// points on: 2n terms of 128 bits, so half the windows. The _plain / _glv
// variants force one path (tests, benchmarks); all return the same point.
G1Jac msm_g1_plain(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
G1Jac msm_g1_glv(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
G2Jac msm_g2_plain(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);
G2Jac msm_g2_glv(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits = 0);

// Fixed-base tables for repeated MSMs over the same bases (a prover's zkey):
// pts[j·n + i] = 2^(c·j)·base_i for every window j, so all windows share one set
// of buckets and the running-sum reduction (about half the work at 2^12 points)
// is paid once instead of once per window. Memory: W·n affine points.
template <class F>
struct MsmTable {
    unsigned c = 0, W = 0;
    size_t n = 0;
    std::vector<Affine<F>> pts;
    bool empty() const { return pts.empty(); }
};
using G1Table = MsmTable<Fq>;
using G2Table = MsmTable<Fq2>;

// Builds the table unless it would exceed max_bytes (then leaves it empty, false).
bool msm_table_build(G1Table & t, const G1Affine * bases, size_t n, int threads, size_t max_bytes);
bool msm_table_build(G2Table & t, const G2Affine * bases, size_t n, int threads, size_t max_bytes);
// Σ scalar_i · base_i with the table (scalars.size() == t.n).
G1Jac msm_g1(const G1Table & t, const U256 * scalars, int threads);
G2Jac msm_g2(const G2Table & t, const U256 * scalars, int threads);

} // namespace vm_zk
