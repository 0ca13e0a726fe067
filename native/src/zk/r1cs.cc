#include "r1cs.h"

#include <cstring>

namespace vm_zk {

R1cs read_r1cs(const std::string & path) {
    return parse_r1cs(BinFile::read(path, "r1cs", 1));
}

R1cs parse_r1cs(const BinFile & file) {
    const std::string & what = file.name();
    R1cs r;
    if (file.has(4) || file.has(5)) {
        throw ZkError("ZK_BAD_R1CS", what + ": has custom gates (PLONK-only circom feature); Groth16 cannot use it");
    }
    {
        SectionReader h(file.section(1), what + " header");
        const uint32_t n8 = h.u32();
        const uint8_t * prime = h.bytes(n8);
        if (n8 != 32 || std::memcmp(prime, FrParams::MOD, 32) != 0) {   // MOD limbs are little-endian in memory (x86-64)
            throw ZkError("ZK_WRONG_CURVE", what + ": the circuit's prime is not BN254's scalar field (compile with circom's default --prime bn128)");
        }
        r.n_vars = h.u32();
        r.n_outputs = h.u32();
        r.n_pub_inputs = h.u32();
        r.n_prv_inputs = h.u32();
        r.n_labels = h.u64();
        r.n_constraints = h.u32();
        if (r.n_vars == 0 || (uint64_t) r.n_outputs + r.n_pub_inputs + r.n_prv_inputs >= r.n_vars) {
            throw ZkError("ZK_BAD_R1CS", what + ": inconsistent header (" + std::to_string(r.n_vars) + " wires, " +
                          std::to_string(r.n_outputs) + " outputs, " + std::to_string(r.n_pub_inputs) + " public and " +
                          std::to_string(r.n_prv_inputs) + " private inputs)");
        }
    }
    if (file.has(3) && file.section(3).size != 8 * (uint64_t) r.n_vars) {
        throw ZkError("ZK_BAD_R1CS", what + ": the wire map (section 3) has " + std::to_string(file.section(3).size / 8) +
                      " entries for " + std::to_string(r.n_vars) + " wires");
    }
    SectionReader s(file.section(2), what + " constraints");
    // Every constraint takes at least its three term counts: a count the
    // section cannot hold is refused before anything is reserved for it.
    if (12 * (uint64_t) r.n_constraints > s.left()) {
        throw ZkError("ZK_TRUNCATED", what + ": " + std::to_string(r.n_constraints) + " constraints cannot fit in a " +
                      std::to_string(s.left()) + "-byte constraints section");
    }
    // Each term takes 36 bytes: a cheap bound that keeps a lying count from
    // reserving gigabytes before the reader fails.
    r.lc_start.reserve(3 * (uint64_t) r.n_constraints + 1);
    r.terms.reserve(s.left() / 36);
    for (uint32_t c = 0; c < r.n_constraints; ++c) {
        for (int m = 0; m < 3; ++m) {
            r.lc_start.push_back(r.terms.size());
            const uint32_t n = s.u32();
            if ((uint64_t) n * 36 > s.left()) {
                throw ZkError("ZK_TRUNCATED", what + ": constraint " + std::to_string(c) + " claims " + std::to_string(n) +
                              " terms, more than the section holds");
            }
            for (uint32_t t = 0; t < n; ++t) {
                const uint32_t wire = s.u32();
                if (wire >= r.n_vars) {
                    throw ZkError("ZK_BAD_R1CS", what + ": constraint " + std::to_string(c) + " uses wire " +
                                  std::to_string(wire) + " of " + std::to_string(r.n_vars));
                }
                R1csTerm term;
                term.wire = wire;
                if (!Fr::from_bytes_le(s.bytes(32), term.coef)) {
                    throw ZkError("ZK_BAD_R1CS", what + ": constraint " + std::to_string(c) + " has a coefficient >= r");
                }
                r.terms.push_back(term);
            }
        }
    }
    r.lc_start.push_back(r.terms.size());
    if (s.left() != 0) {
        throw ZkError("ZK_BAD_R1CS", what + ": " + std::to_string(s.left()) + " bytes left after " +
                      std::to_string(r.n_constraints) + " constraints");
    }
    return r;
}

} // namespace vm_zk
