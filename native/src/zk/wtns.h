#pragma once

// Witness in iden3's .wtns format (version 1 or 2): section 1 = u32 n8, prime
// (n8 bytes), u32 nWitness; section 2 = nWitness field elements, 32 bytes
// little-endian, standard form. witness[0] is 1, witness[1..nPublic] are the
// public signals.

#include <cstdint>
#include <string>
#include <vector>

#include "binfile.h"
#include "field.h"

namespace vm_zk {

struct Witness {
    std::vector<U256> values;   // standard form, each < r
};

// Throws ZkError: ZK_BAD_MAGIC, ZK_BAD_VERSION, ZK_TRUNCATED, ZK_BAD_SECTION, ZK_WRONG_CURVE.
Witness parse_wtns(std::vector<uint8_t> bytes, const std::string & what);
Witness read_wtns(const std::string & path);

} // namespace vm_zk
