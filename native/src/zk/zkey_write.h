#pragma once

// Writes a Groth16 proving key in snarkjs's .zkey format (see zkey.h for the
// layout), sections in the order `snarkjs zkey new` writes them (1, 2, 4, 3,
// 9, 8, 5, 6, 7). Section 10 (the phase-2 contribution log: circuit hash and
// contributions) is not written: snarkjs's prover, exportVerificationKey and
// exportSolidityVerifier do not read it; only `zkey contribute/verify` do,
// and those belong to a real ceremony, which starts from `snarkjs zkey new`.
//
// The file is written to `path.tmp-<pid>` and renamed over `path`, so a
// reader (or a cache check) never sees a half-written key.

#include <string>

#include "zkey.h"

namespace vm_zk {

// Throws ZkError ZK_IO on a write failure, ZK_BAD_INPUT on inconsistent sizes.
void write_zkey(const std::string & path, const Groth16Zkey & z);

} // namespace vm_zk
