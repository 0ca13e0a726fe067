#include "groth16_prove.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#if defined(__linux__)
#include <sys/random.h>
#else
#include <random>
#endif

#include "../engine/thread_pool.h"
#include "msm.h"
#include "ntt.h"

namespace vm_zk {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// iNTT, multiply coefficient i by inc^i (evaluation on the odd coset of the 2n
// domain, snarkjs's batchApplyKey), NTT.
void to_coset(std::vector<Fr> & v, unsigned power, const Fr & inc, int threads) {
    ntt(v.data(), power, true, threads);
    apply_key(v.data(), v.size(), Fr::one(), inc, threads);
    ntt(v.data(), power, false, threads);
}

} // namespace

Fr fr_random() {
    for (;;) {
        U256 x;
        uint8_t * p = reinterpret_cast<uint8_t *>(x.v);
#if defined(__linux__)
        size_t got = 0;
        while (got < 32) {
            ssize_t k = getrandom(p + got, 32 - got, 0);
            if (k < 0) {
                if (errno == EINTR) continue;
                throw std::runtime_error("getrandom failed");
            }
            got += (size_t) k;
        }
#else
        // The platform's CSPRNG (arc4random / BCryptGenRandom behind libc++ / MSVC).
        static thread_local std::random_device rd;
        for (int i = 0; i < 8; ++i) { const uint32_t v = rd(); std::memcpy(p + 4 * i, &v, 4); }
#endif
        x.v[3] &= (1ULL << 62) - 1;   // r < 2^254: keeps the rejection rate below 1/2
        if (!detail::geq(x.v, FrParams::MOD)) return Fr::to_mont(x);
    }
}

void build_prover_tables(const Groth16Zkey & z, ProverTables & t, int threads, size_t max_bytes_per_table) {
    msm_table_build(t.A,  z.A.data(),  z.A.size(),  threads, max_bytes_per_table);
    msm_table_build(t.B1, z.B1.data(), z.B1.size(), threads, max_bytes_per_table);
    msm_table_build(t.C,  z.C.data(),  z.C.size(),  threads, max_bytes_per_table);
    msm_table_build(t.H,  z.H.data(),  z.H.size(),  threads, max_bytes_per_table);
    msm_table_build(t.B2, z.B2.data(), z.B2.size(), threads, max_bytes_per_table);
}

Groth16Proof groth16_prove_with(const Groth16Zkey & z, const Witness & wit, const Fr & r, const Fr & s,
                                int threads, ProveTimings * tm, const ProverTables * tables, const ProveAccel * accel) {
    if (wit.values.size() != z.nVars) {
        throw ZkError("ZK_MISMATCH", "witness has " + std::to_string(wit.values.size()) + " values, the zkey expects nVars = " +
                      std::to_string(z.nVars) + " (witness and zkey come from different circuits)");
    }
    if (threads < 1) threads = 1;
    const auto t0 = Clock::now();
    const size_t n = z.domainSize;
    const U256 * w = wit.values.data();

    // a, b on the domain. Coefficients are stored as coef·R² (Montgomery of
    // coef·R); times a standard-form witness value under Montgomery
    // multiplication that gives coef·w in Montgomery form, exactly as snarkjs.
    std::vector<Fr> a(n, Fr::zero()), b(n, Fr::zero()), c(n);
    for (const ZkeyCoef & k : z.coefs) {
        Fr wv = Fr::from_mont_raw(w[k.signal].v);
        std::vector<Fr> & dst = k.matrix == 0 ? a : b;
        dst[k.constraint] += k.value * wv;
    }
    for (size_t i = 0; i < n; ++i) c[i] = a[i] * b[i];
    if (tm) tm->abc_ms = ms_since(t0);

    const auto t1 = Clock::now();
    const Fr inc = z.power == 28 ? fr_shift() : fr_root_of_unity(z.power + 1);
    for (std::vector<Fr> * v : { &a, &b, &c }) {
        if (accel) accel->to_coset(v->data(), z.power, inc);   // GPU dispatch hook (ProveAccel)
        else to_coset(*v, z.power, inc, threads);
    }
    std::vector<U256> h(n);
    {
        auto body = [&](int tid, int nt) {
            const size_t lo = n * (size_t) tid / (size_t) nt, hi = n * (size_t) (tid + 1) / (size_t) nt;
            for (size_t i = lo; i < hi; ++i) h[i] = (a[i] * b[i] - c[i]).from_mont();
        };
        if (threads > 1 && n >= 4096) vm_engine::cpu_pool().run(threads, body); else body(0, 1);
    }
    if (tm) tm->ntt_ms = ms_since(t1);

    const auto t2 = Clock::now();
    const size_t nPriv = (size_t) z.nVars - z.nPublic - 1;
    auto g1 = [&](const G1Table * t, const std::vector<G1Affine> & bases, const U256 * sc) {
        if (accel) return accel->msm_g1(bases.data(), sc, bases.size());   // GPU dispatch hook (ProveAccel)
        return t && !t->empty() ? msm_g1(*t, sc, threads) : msm_g1(bases.data(), sc, bases.size(), threads);
    };
    G1Jac piA  = g1(tables ? &tables->A : nullptr,  z.A,  w);
    G1Jac pib1 = g1(tables ? &tables->B1 : nullptr, z.B1, w);
    G2Jac piB  = accel ? accel->msm_g2(z.B2.data(), w, z.nVars)
               : tables && !tables->B2.empty() ? msm_g2(tables->B2, w, threads) : msm_g2(z.B2.data(), w, z.nVars, threads);
    G1Jac piC  = g1(tables ? &tables->C : nullptr,  z.C,  w + z.nPublic + 1);
    G1Jac resH = g1(tables ? &tables->H : nullptr,  z.H,  h.data());
    (void) nPriv;
    if (tm) tm->msm_ms = ms_since(t2);

    const U256 rs = r.from_mont(), ss = s.from_mont();
    const G1Jac delta1 = G1Jac::from_affine(z.delta1);
    const G2Jac delta2 = G2Jac::from_affine(z.delta2);
    piA  = piA.add_mixed(z.alpha1).add(delta1.mul(rs));
    piB  = piB.add_mixed(z.beta2).add(delta2.mul(ss));
    pib1 = pib1.add_mixed(z.beta1).add(delta1.mul(ss));
    piC  = piC.add(resH);
    piC  = piC.add(piA.mul(ss));
    piC  = piC.add(pib1.mul(rs));
    piC  = piC.add(delta1.mul((-(r * s)).from_mont()));

    Groth16Proof p;
    p.pi_a = piA.to_affine();
    p.pi_b = piB.to_affine();
    p.pi_c = piC.to_affine();
    p.public_signals.assign(w + 1, w + 1 + z.nPublic);
    if (tm) tm->total_ms = ms_since(t0);
    return p;
}

Groth16Proof groth16_prove(const Groth16Zkey & z, const Witness & w, int threads, ProveTimings * t,
                           const ProverTables * tables, const ProveAccel * accel) {
    return groth16_prove_with(z, w, fr_random(), fr_random(), threads, t, tables, accel);
}

std::string proof_to_json(const Groth16Proof & p) {
    auto q = [](const Fq & f) { return "\"" + f.to_dec() + "\""; };
    std::string s = "{\"pi_a\":[" + q(p.pi_a.x) + "," + q(p.pi_a.y) + ",\"1\"],";
    s += "\"pi_b\":[[" + q(p.pi_b.x.c0) + "," + q(p.pi_b.x.c1) + "],[" + q(p.pi_b.y.c0) + "," + q(p.pi_b.y.c1) + "],[\"1\",\"0\"]],";
    s += "\"pi_c\":[" + q(p.pi_c.x) + "," + q(p.pi_c.y) + ",\"1\"],";
    s += "\"protocol\":\"groth16\",\"curve\":\"bn128\"}";
    return s;
}

} // namespace vm_zk
