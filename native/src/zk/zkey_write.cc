#include "zkey_write.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vm_zk {

namespace {

class Out {
public:
    explicit Out(const std::string & path) : path_(path) {
        f_ = std::fopen(path.c_str(), "wb");
        if (!f_) throw ZkError("ZK_IO", "cannot create " + path + ": " + std::strerror(errno));
    }
    ~Out() { if (f_) std::fclose(f_); }
    void raw(const void * p, size_t n) {
        if (n && std::fwrite(p, 1, n, f_) != n) throw ZkError("ZK_IO", "cannot write " + path_ + ": " + std::strerror(errno));
    }
    void u32(uint32_t v) { raw(&v, 4); }    // little-endian host (x86-64, aarch64)
    void u64(uint64_t v) { raw(&v, 8); }
    // Sections are written with their final size known up front.
    void section(uint32_t id, uint64_t size) { u32(id); u64(size); }
    void close() {
        const bool bad = std::fflush(f_) != 0 || std::ferror(f_);
        const int rc = std::fclose(f_);
        f_ = nullptr;
        if (bad || rc != 0) throw ZkError("ZK_IO", "cannot write " + path_);
    }
private:
    FILE * f_ = nullptr;
    std::string path_;
};

template <class P>
void points(Out & o, uint32_t id, const std::vector<P> & v) {
    o.section(id, (uint64_t) v.size() * sizeof(P));
    o.raw(v.data(), v.size() * sizeof(P));   // curve.h layout == zkey layout
}

void write_all(Out & o, const Groth16Zkey & z) {
    o.raw("zkey", 4);
    o.u32(1);    // version
    o.u32(9);    // sections

    o.section(1, 4);
    o.u32(1);    // protocol: groth16

    o.section(2, 4 + 32 + 4 + 32 + 4 * 3 + 3 * 64 + 3 * 128);
    o.u32(32); o.raw(FqParams::MOD, 32);
    o.u32(32); o.raw(FrParams::MOD, 32);
    o.u32(z.nVars); o.u32(z.nPublic); o.u32(z.domainSize);
    o.raw(&z.alpha1, 64); o.raw(&z.beta1, 64); o.raw(&z.beta2, 128);
    o.raw(&z.gamma2, 128); o.raw(&z.delta1, 64); o.raw(&z.delta2, 128);

    o.section(4, 4 + (uint64_t) z.coefs.size() * 44);
    o.u32((uint32_t) z.coefs.size());
    std::vector<uint8_t> buf;
    buf.reserve(44 * 4096);
    for (size_t i = 0; i < z.coefs.size(); ++i) {
        const ZkeyCoef & c = z.coefs[i];
        uint8_t rec[44];
        std::memcpy(rec, &c.matrix, 4);
        std::memcpy(rec + 4, &c.constraint, 4);
        std::memcpy(rec + 8, &c.signal, 4);
        std::memcpy(rec + 12, c.value.v, 32);   // raw limbs: coef·R² mod r as an integer
        buf.insert(buf.end(), rec, rec + 44);
        if (buf.size() >= 44 * 4096) { o.raw(buf.data(), buf.size()); buf.clear(); }
    }
    o.raw(buf.data(), buf.size());

    points(o, 3, z.IC);
    points(o, 9, z.H);
    points(o, 8, z.C);
    points(o, 5, z.A);
    points(o, 6, z.B1);
    points(o, 7, z.B2);
}

} // namespace

void write_zkey(const std::string & path, const Groth16Zkey & z) {
    const size_t nv = z.nVars;
    if (z.IC.size() != (size_t) z.nPublic + 1 || z.A.size() != nv || z.B1.size() != nv || z.B2.size() != nv ||
        z.nVars < z.nPublic + 1 || z.C.size() != nv - z.nPublic - 1 || z.H.size() != z.domainSize ||
        z.domainSize == 0 || (z.domainSize & (z.domainSize - 1)) != 0) {
        throw ZkError("ZK_BAD_INPUT", "write_zkey: section sizes do not match nVars / nPublic / domainSize");
    }
    const std::string tmp = path + ".tmp-" + std::to_string((long) getpid());
    try {
        Out o(tmp);
        write_all(o, z);
        o.close();
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        throw ZkError("ZK_IO", "cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
    }
}

} // namespace vm_zk
