#pragma once

// Groth16 prover over BN254 following snarkjs 0.7 groth16_prove.js step by step,
// so that its proofs verify with snarkjs.groth16.verify against the same zkey.

#include <string>
#include <vector>

#include "curve.h"
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

// r, s: blinding scalars (< r). Public for tests; prove() draws them from the OS CSPRNG.
Groth16Proof groth16_prove_with(const Groth16Zkey & z, const Witness & w, const Fr & r, const Fr & s,
                                int threads, ProveTimings * t);
Groth16Proof groth16_prove(const Groth16Zkey & z, const Witness & w, int threads, ProveTimings * t);

// A uniformly random Fr element from getrandom(2) (rejection sampling).
Fr fr_random();

// snarkjs's JSON: { pi_a: [x, y, "1"], pi_b: [[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]],
// pi_c: [x, y, "1"], protocol: "groth16", curve: "bn128" } as decimal strings.
std::string proof_to_json(const Groth16Proof & p);

} // namespace vm_zk
