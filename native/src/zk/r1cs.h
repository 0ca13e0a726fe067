#pragma once

// circom's .r1cs (iden3 container, magic "r1cs", version 1), read for the
// development setup. Sections: 1 header (n8, prime, nWires, nOutputs,
// nPubInputs, nPrvInputs, nLabels, nConstraints), 2 constraints (per
// constraint three linear combinations A, B, C: u32 nTerms, then u32 wire +
// n8-byte coefficient in standard form, little-endian), 3 wire → label map
// (not needed here). Custom gates (sections 4, 5: PLONK only) are refused.
//
// Errors (ZkError, binfile.h): ZK_IO, ZK_BAD_MAGIC, ZK_BAD_VERSION,
// ZK_TRUNCATED, ZK_BAD_SECTION, ZK_WRONG_CURVE (prime is not BN254's r),
// ZK_BAD_R1CS (a wire index or coefficient out of range, custom gates).

#include <cstdint>
#include <string>
#include <vector>

#include "binfile.h"
#include "field.h"

namespace vm_zk {

struct R1csTerm {
    uint32_t wire;
    Fr coef;            // Montgomery form
};

struct R1cs {
    uint32_t n_vars = 0;          // wires, including the constant 1 at index 0
    uint32_t n_outputs = 0;
    uint32_t n_pub_inputs = 0;
    uint32_t n_prv_inputs = 0;
    uint64_t n_labels = 0;
    uint32_t n_constraints = 0;
    // Terms of constraint c, matrix m (0 = A, 1 = B, 2 = C):
    // terms[lc_start[3c + m] .. lc_start[3c + m + 1]).
    std::vector<uint64_t> lc_start;
    std::vector<R1csTerm> terms;

    uint32_t n_public() const { return n_outputs + n_pub_inputs; }
};

R1cs read_r1cs(const std::string & path);
R1cs parse_r1cs(const BinFile & file);

} // namespace vm_zk
