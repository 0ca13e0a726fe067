#include "zkey.h"

#include <cstring>

namespace vm_zk {

namespace {

constexpr uint32_t GROTH16_PROTOCOL = 1;

template <class P>
P read_point(SectionReader & rd, const std::string & what, const char * name) {
    P pt;
    std::memcpy(&pt, rd.bytes(sizeof(P)), sizeof(P));
    if (!pt.on_curve()) throw ZkError("ZK_BAD_SECTION", what + ": " + name + " is not on the curve");
    return pt;
}

template <class P>
std::vector<P> read_points(const BinFile & f, uint32_t id, uint64_t count, const char * name) {
    const BinSection & s = f.section(id);
    if (s.size != count * sizeof(P)) {
        throw ZkError("ZK_BAD_SECTION", f.name() + ": section " + std::to_string(id) + " (" + name + ") has " +
                      std::to_string(s.size) + " bytes, expected " + std::to_string(count) + " points = " +
                      std::to_string(count * sizeof(P)) + " bytes");
    }
    std::vector<P> out(count);
    if (count) std::memcpy(out.data(), s.data, s.size);
    for (uint64_t i = 0; i < count; ++i) {
        if (!out[i].on_curve()) {
            throw ZkError("ZK_BAD_SECTION", f.name() + ": " + name + "[" + std::to_string(i) + "] is not on the curve");
        }
    }
    return out;
}

} // namespace

bool bytes_equal_modulus(const uint8_t * b, const u64 mod[4]) {
    for (int i = 0; i < 4; ++i) {
        u64 w = 0;
        for (int j = 7; j >= 0; --j) w = (w << 8) | b[8 * i + j];
        if (w != mod[i]) return false;
    }
    return true;
}

Groth16Zkey read_zkey(const std::string & path) {
    return parse_zkey(BinFile::read(path, "zkey", 1));
}

Groth16Zkey parse_zkey(const BinFile & f) {
    const std::string & nm = f.name();
    Groth16Zkey z;
    {
        SectionReader rd(f.section(1), nm + " section 1");
        const uint32_t protocol = rd.u32();
        if (protocol != GROTH16_PROTOCOL) {
            throw ZkError("ZK_BAD_SECTION", nm + ": protocol " + std::to_string(protocol) + " is not groth16 (1)");
        }
    }
    SectionReader rd(f.section(2), nm + " section 2");
    z.n8q = rd.u32();
    if (z.n8q != 32) throw ZkError("ZK_WRONG_CURVE", nm + ": base field of " + std::to_string(z.n8q) + " bytes, BN254 has 32");
    if (!bytes_equal_modulus(rd.bytes(32), FqParams::MOD)) throw ZkError("ZK_WRONG_CURVE", nm + ": base field prime is not BN254's");
    z.n8r = rd.u32();
    if (z.n8r != 32) throw ZkError("ZK_WRONG_CURVE", nm + ": scalar field of " + std::to_string(z.n8r) + " bytes, BN254 has 32");
    if (!bytes_equal_modulus(rd.bytes(32), FrParams::MOD)) throw ZkError("ZK_WRONG_CURVE", nm + ": scalar field prime is not BN254's");
    z.nVars = rd.u32();
    z.nPublic = rd.u32();
    z.domainSize = rd.u32();
    if (z.nVars == 0 || z.nPublic >= z.nVars) {
        throw ZkError("ZK_BAD_SECTION", nm + ": nPublic " + std::to_string(z.nPublic) + " must be below nVars " + std::to_string(z.nVars));
    }
    if (z.domainSize < 2 || (z.domainSize & (z.domainSize - 1)) != 0 || z.domainSize > (1u << 28)) {
        throw ZkError("ZK_BAD_SECTION", nm + ": domainSize " + std::to_string(z.domainSize) + " is not a power of two in [2, 2^28]");
    }
    z.power = (uint32_t) __builtin_ctz(z.domainSize);
    z.alpha1 = read_point<G1Affine>(rd, nm, "alpha1");
    z.beta1  = read_point<G1Affine>(rd, nm, "beta1");
    z.beta2  = read_point<G2Affine>(rd, nm, "beta2");
    z.gamma2 = read_point<G2Affine>(rd, nm, "gamma2");
    z.delta1 = read_point<G1Affine>(rd, nm, "delta1");
    z.delta2 = read_point<G2Affine>(rd, nm, "delta2");

    z.IC = read_points<G1Affine>(f, 3, (uint64_t) z.nPublic + 1, "IC");
    {
        const BinSection & s = f.section(4);
        SectionReader cr(s, nm + " section 4");
        const uint32_t n = cr.u32();
        if (s.size != 4 + (uint64_t) n * 44) {
            throw ZkError("ZK_BAD_SECTION", nm + ": section 4 has " + std::to_string(s.size) + " bytes for " +
                          std::to_string(n) + " coefficients (expected " + std::to_string(4 + (uint64_t) n * 44) + ")");
        }
        z.coefs.resize(n);
        for (uint32_t i = 0; i < n; ++i) {
            ZkeyCoef & c = z.coefs[i];
            c.matrix = cr.u32();
            c.constraint = cr.u32();
            c.signal = cr.u32();
            std::memcpy(c.value.v, cr.bytes(32), 32);
            if (c.matrix > 1 || c.constraint >= z.domainSize || c.signal >= z.nVars ||
                detail::geq(c.value.v, FrParams::MOD)) {
                throw ZkError("ZK_BAD_SECTION", nm + ": coefficient " + std::to_string(i) + " out of range (matrix " +
                              std::to_string(c.matrix) + ", constraint " + std::to_string(c.constraint) + ", signal " +
                              std::to_string(c.signal) + ")");
            }
        }
    }
    z.A  = read_points<G1Affine>(f, 5, z.nVars, "A");
    z.B1 = read_points<G1Affine>(f, 6, z.nVars, "B1");
    z.B2 = read_points<G2Affine>(f, 7, z.nVars, "B2");
    z.C  = read_points<G1Affine>(f, 8, (uint64_t) z.nVars - z.nPublic - 1, "C");
    z.H  = read_points<G1Affine>(f, 9, z.domainSize, "H");
    return z;
}

} // namespace vm_zk
