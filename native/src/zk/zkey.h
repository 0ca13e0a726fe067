#pragma once

// Groth16 proving key in snarkjs's .zkey format (version 1), BN254 only.
//   1 header: u32 protocol (1 = groth16)
//   2 groth16 header: u32 n8q, q, u32 n8r, r, u32 nVars, u32 nPublic,
//     u32 domainSize, alpha1, beta1, beta2, gamma2, delta1, delta2
//   3 IC: nPublic + 1 G1          4 coefficients: u32 n, then n × (u32 matrix,
//   5 A: nVars G1                   u32 constraint, u32 signal, Fr coef·R² mod r)
//   6 B1: nVars G1                7 B2: nVars G2
//   8 C: nVars - nPublic - 1 G1   9 H: domainSize G1 (odd coset of the 2n domain)
//   10 contributions (ignored by the prover)
// Points are affine with Montgomery coordinates, infinity = all zeros; the
// structs in curve.h have exactly this layout. Plain owning struct so that a
// writer (setup) can fill it as well.

#include <cstdint>
#include <string>
#include <vector>

#include "binfile.h"
#include "curve.h"

namespace vm_zk {

struct ZkeyCoef {
    uint32_t matrix;       // 0 = A, 1 = B
    uint32_t constraint;   // row, < domainSize
    uint32_t signal;       // witness index, < nVars
    Fr       value;        // as stored: Montgomery form of coef·R (i.e. coef·R² mod r)
};

struct Groth16Zkey {
    uint32_t n8q = 32, n8r = 32;
    uint32_t nVars = 0, nPublic = 0, domainSize = 0, power = 0;
    G1Affine alpha1, beta1, delta1;
    G2Affine beta2, gamma2, delta2;
    std::vector<G1Affine> IC;          // nPublic + 1
    std::vector<ZkeyCoef> coefs;
    std::vector<G1Affine> A, B1, C, H;
    std::vector<G2Affine> B2;
};

// Reads and validates (sizes, indices, BN254 primes, points on their curves).
// Throws ZkError: ZK_IO, ZK_BAD_MAGIC, ZK_BAD_VERSION, ZK_TRUNCATED,
// ZK_BAD_SECTION, ZK_WRONG_CURVE.
Groth16Zkey read_zkey(const std::string & path);
Groth16Zkey parse_zkey(const BinFile & f);

// True when the 32 little-endian bytes are the given modulus.
bool bytes_equal_modulus(const uint8_t * b, const u64 mod[4]);

} // namespace vm_zk
