#pragma once

// INSECURE development setup: the secrets are derived from a public seed.
//
// Produces the Groth16 proving key that `snarkjs powersoftau` + `prepare
// phase2` + `zkey new` + phase-2 contributions would produce if the toxic
// waste τ, α, β, δ (and γ) were these known scalars, but computes it directly:
// every point is a fixed-base multiplication of a generator by a scalar that
// is itself computed in Fr (Lagrange basis values L_i(τ) by batch inversion,
// A_i(τ), B_i(τ), C_i(τ) as sums over the r1cs). This turns snarkjs's
// O(n log n) point FFTs (40+ minutes at 2^16) into seconds.
//
// Anyone who knows the seed can forge proofs for the circuit. Fine for a
// devnet and tests; a real deployment runs the ceremony in docs/prover.md.
//
// Differences from snarkjs's own output, none of which its prover or verifier
// reads: no section 10 (contribution log), and γ is a secret too (snarkjs
// keeps γ = 1, i.e. gamma2 = the G2 generator).

#include <cstdint>
#include <functional>
#include <string>

#include "field.h"

namespace vm_zk {

struct DevSecrets {
    Fr tau, alpha, beta, gamma, delta;
};

// The documented default seed (docs/prover.md, "Development setup").
extern const char * const DEV_SETUP_DEFAULT_SEED;

// secret_k = SHA-256("verimesh-insecure-dev-setup/v1/" + name_k + "/" + seed)
// read as a big-endian integer mod r, name_k in {tau, alpha, beta, gamma, delta}
// (a zero result, probability ~2^-254, is replaced by 1).
DevSecrets dev_secrets_from_seed(const std::string & seed);

struct DevSetupInfo {
    uint32_t n_constraints = 0, n_vars = 0, n_public = 0, domain_size = 0;
    double ms = 0;
};

// phase ∈ {"lagrange", "tables", "points", "write"}, fraction in [0, 1].
using SetupProgress = std::function<void(const char * phase, double fraction)>;

// Reads r1cs_path, writes zkey_path (atomically). Throws ZkError
// (r1cs.h codes; ZK_TOO_LARGE when the circuit needs a domain above 2^27;
// ZK_IO for the output).
DevSetupInfo setup_dev(const std::string & r1cs_path, const std::string & zkey_path, const DevSecrets & secrets,
                       int threads, const SetupProgress & progress = nullptr);

// SHA-256 (FIPS 180-4), for the seed derivation.
void sha256(const uint8_t * data, size_t n, uint8_t out[32]);

} // namespace vm_zk
