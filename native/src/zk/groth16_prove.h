#pragma once

// Groth16 prover over BN254 following snarkjs 0.7 groth16_prove.js step by step,
// so that its proofs verify with snarkjs.groth16.verify against the same zkey.

#include <string>
#include <vector>

#include "curve.h"
#include "msm.h"
#include "wtns.h"
#include "zkey.h"

namespace vm_zk {

struct Groth16Proof {
    G1Affine pi_a;
    G2Affine pi_b;
    G1Affine pi_c;
    std::vector<U256> public_signals;   // witness[1..nPublic]
};

struct ProveTimings {
    double abc_ms = 0;     // a, b, c on the domain from section 4
    double ntt_ms = 0;     // 3 × (iNTT, coset shift, NTT) and h
    double msm_ms = 0;     // the five MSMs
    double total_ms = 0;
};

// Optional fixed-base MSM tables for a zkey that proves many times (msm.h).
// A table is left empty when it would exceed the byte budget; that MSM then
// runs without one.
struct ProverTables {
    G1Table A, B1, C, H;
    G2Table B2;
    size_t bytes() const {
        return (A.pts.size() + B1.pts.size() + C.pts.size() + H.pts.size()) * sizeof(G1Affine) + B2.pts.size() * sizeof(G2Affine);
    }
};
void build_prover_tables(const Groth16Zkey & z, ProverTables & t, int threads, size_t max_bytes_per_table);

// GPU dispatch hook (CUDA build: zk_cuda_prove_accel() in native/cuda/zk/). When
// given, the three coset evaluations and the five MSMs run through these
// functions (fixed-base tables are then unused); results are identical.
struct ProveAccel {
    void (*to_coset)(Fr * a, unsigned log2n, const Fr & inc);   // iNTT, × inc^i, NTT
    G1Jac (*msm_g1)(const G1Affine * bases, const U256 * scalars, size_t n);
    G2Jac (*msm_g2)(const G2Affine * bases, const U256 * scalars, size_t n);
};

// r, s: blinding scalars (< r). Public for tests; prove() draws them from the OS CSPRNG.
Groth16Proof groth16_prove_with(const Groth16Zkey & z, const Witness & w, const Fr & r, const Fr & s,
                                int threads, ProveTimings * t, const ProverTables * tables = nullptr,
                                const ProveAccel * accel = nullptr);
Groth16Proof groth16_prove(const Groth16Zkey & z, const Witness & w, int threads, ProveTimings * t,
                           const ProverTables * tables = nullptr, const ProveAccel * accel = nullptr);

// A uniformly random Fr element from getrandom(2) (rejection sampling).
Fr fr_random();

// snarkjs's JSON: { pi_a: [x, y, "1"], pi_b: [[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]],
// pi_c: [x, y, "1"], protocol: "groth16", curve: "bn128" } as decimal strings.
std::string proof_to_json(const Groth16Proof & p);

} // namespace vm_zk
