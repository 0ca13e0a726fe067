#include "wtns.h"

#include <cstring>

#include "zkey.h"

namespace vm_zk {

namespace {

Witness parse(const BinFile & f) {
    const std::string & nm = f.name();
    SectionReader rd(f.section(1), nm + " section 1");
    const uint32_t n8 = rd.u32();
    if (n8 != 32) throw ZkError("ZK_WRONG_CURVE", nm + ": field elements of " + std::to_string(n8) + " bytes, BN254's Fr has 32");
    if (!bytes_equal_modulus(rd.bytes(32), FrParams::MOD)) throw ZkError("ZK_WRONG_CURVE", nm + ": witness prime is not BN254's scalar field");
    const uint32_t n = rd.u32();
    const BinSection & s = f.section(2);
    if (s.size != (uint64_t) n * 32) {
        throw ZkError("ZK_BAD_SECTION", nm + ": section 2 has " + std::to_string(s.size) + " bytes for " + std::to_string(n) +
                      " values (expected " + std::to_string((uint64_t) n * 32) + ")");
    }
    Witness w;
    w.values.resize(n);
    if (n) std::memcpy(w.values.data(), s.data, s.size);
    for (uint32_t i = 0; i < n; ++i) {
        if (detail::geq(w.values[i].v, FrParams::MOD)) {
            throw ZkError("ZK_BAD_SECTION", nm + ": witness[" + std::to_string(i) + "] is not below the field prime");
        }
    }
    if (n == 0) throw ZkError("ZK_BAD_SECTION", nm + ": empty witness");
    return w;
}

} // namespace

Witness parse_wtns(std::vector<uint8_t> bytes, const std::string & what) {
    return parse(BinFile::parse(std::move(bytes), "wtns", 2, what));
}

Witness read_wtns(const std::string & path) {
    return parse(BinFile::read(path, "wtns", 2));
}

} // namespace vm_zk
