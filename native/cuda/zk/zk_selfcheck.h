#pragma once

// Seeded inputs and CPU-vs-GPU comparisons for the prover's GPU kernels, shared by
// the emulation tool (zk_emu_main.cc: the kernels on the host emulation) and the
// CUDA addon's zkCudaCheck binding (zk_bindings.cc: the kernels on a real GPU),
// so both run exactly the same cases. The CPU side is the prover's own msm_g1 /
// msm_g2 / ntt / apply_key (native/src/zk/).

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../src/zk/msm.h"
#include "../../src/zk/ntt.h"
#include "zk_cuda.h"

namespace vm_zk {
namespace cuda_check {

struct Rng {
    uint64_t s;
    uint64_t next() {   // splitmix64
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

// Uniform below the modulus (both are below 2^254).
template <class P>
U256 rand_below(Rng & r) {
    for (;;) {
        U256 x = { { r.next(), r.next(), r.next(), r.next() & ((1ull << 62) - 1) } };
        if (!detail::geq(x.v, P::MOD)) return x;
    }
}

template <class P>
Fp<P> rand_fp(Rng & r) {
    Fp<P> f;
    std::memcpy(f.v, rand_below<P>(r).v, 32);   // a random Montgomery representative is a random element
    return f;
}


template <class F>
std::vector<Affine<F>> make_bases(Rng & r, size_t n, const Affine<F> & gen, bool mixed) {
    using J = Jacobian<F>;
    // Steps from a few random multiples of the generator: distinct pseudo-random
    // points without a full scalar multiplication each.
    std::vector<J> steps;
    for (int i = 0; i < 8; ++i) steps.push_back(J::from_affine(gen).mul(rand_below<FrParams>(r)));
    std::vector<J> jac(n);
    J cur = steps[0];
    for (size_t i = 0; i < n; ++i) {
        cur = cur.add(steps[r.next() % steps.size()]);
        jac[i] = cur;
    }
    std::vector<Affine<F>> out(n);
    batch_to_affine(jac.data(), n, out.data());
    if (mixed) {
        for (size_t i = 0; i < n; ++i) {
            const uint64_t k = r.next() % 16;
            if (k == 0) out[i] = Affine<F>::infinity();
            else if (k == 1 && i > 0) out[i] = out[r.next() % i];          // repeated point
            else if (k == 2 && i > 0) out[i] = out[r.next() % i].neg();    // its negation
        }
    }
    return out;
}

std::vector<U256> make_scalars(Rng & r, size_t n, const std::string & pattern) {
    std::vector<U256> s(n);
    const U256 rm1 = { { FrParams::MOD[0] - 1, FrParams::MOD[1], FrParams::MOD[2], FrParams::MOD[3] } };
    for (size_t i = 0; i < n; ++i) {
        if (pattern == "ones") { s[i] = U256{ { 1, 0, 0, 0 } }; continue; }
        if (pattern == "zeros") { s[i] = U256{ { 0, 0, 0, 0 } }; continue; }
        s[i] = rand_below<FrParams>(r);
        if (pattern != "mixed") continue;
        const uint64_t k = r.next() % 12;
        if (k == 0) s[i] = U256{ { 0, 0, 0, 0 } };
        else if (k == 1) s[i] = U256{ { 1, 0, 0, 0 } };
        else if (k == 2) s[i] = rm1;
        else if (k == 3) { const unsigned b = (unsigned) (r.next() % 254); s[i] = U256{ { 0, 0, 0, 0 } }; s[i].v[b / 64] = 1ull << (b % 64); }
        else if (k == 4) s[i] = U256{ { r.next() % 1000, 0, 0, 0 } };
        else if (k == 5 && i > 0) s[i] = s[r.next() % i];
    }
    return s;
}


inline bool msm_pattern_ok(const std::string & p) {
    return p == "random" || p == "mixed" || p == "ones" || p == "zeros";
}

struct Outcome {
    bool equal = true;
    std::string detail;      // what differed (empty when equal)
    std::string summary;     // e.g. "msm g1 n=2000 mixed (infinity)"
    double cpu_ms = 0, gpu_ms = 0;
};

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

inline std::string x0(const Fq & f) { return f.to_dec(); }
inline std::string x0(const Fq2 & f) { return f.c0.to_dec(); }

template <class F, class Cpu, class Gpu>
Outcome msm_case(size_t n, uint64_t seed, const std::string & pattern, const Affine<F> & gen, const char * name,
                 Cpu cpu, Gpu gpu) {
    Rng r{ seed };
    const auto bases = make_bases<F>(r, n, gen, pattern == "mixed" || pattern == "ones");
    const auto scalars = make_scalars(r, n, pattern);
    Outcome o;
    auto t0 = Clock::now();
    const Affine<F> want = cpu(bases.data(), scalars.data(), n).to_affine();
    o.cpu_ms = ms_since(t0);
    t0 = Clock::now();
    const Affine<F> got = gpu(bases.data(), scalars.data(), n).to_affine();
    o.gpu_ms = ms_since(t0);
    o.summary = std::string("msm ") + name + " n=" + std::to_string(n) + " " + pattern + (want.is_inf() ? " (infinity)" : "");
    auto show = [](const Affine<F> & a) { return a.is_inf() ? std::string("infinity") : "x.c0 " + x0(a.x); };
    o.equal = std::memcmp(&got, &want, sizeof(got)) == 0;
    if (!o.equal) o.detail = "gpu " + show(got) + ", cpu " + show(want);
    return o;
}

// Σ scalars·bases on G1 (g2 = false) or G2, GPU vs CPU (threads for the CPU side).
inline Outcome msm(bool g2, size_t n, uint64_t seed, const std::string & pattern, int threads) {
    if (!g2) {
        return msm_case<Fq>(n, seed, pattern, g1_generator(), "g1",
                            [&](const G1Affine * b, const U256 * s, size_t m) { return msm_g1(b, s, m, threads); },
                            [](const G1Affine * b, const U256 * s, size_t m) { return zk_cuda_msm_g1(b, s, m); });
    }
    return msm_case<Fq2>(n, seed, pattern, g2_generator(), "g2",
                         [&](const G2Affine * b, const U256 * s, size_t m) { return msm_g2(b, s, m, threads); },
                         [](const G2Affine * b, const U256 * s, size_t m) { return zk_cuda_msm_g2(b, s, m); });
}

// Forward and inverse NTT, apply_key with random first/inc, and the prover's
// odd-coset evaluation (iNTT, × ω_{2n}^i, NTT), each GPU vs CPU on the same values.
inline Outcome ntt_all(unsigned log2n, uint64_t seed, int threads) {
    Rng r{ seed };
    const size_t n = (size_t) 1 << log2n;
    std::vector<Fr> v(n);
    for (auto & x : v) x = rand_fp<FrParams>(r);
    Outcome o;
    o.summary = "ntt intt apply_key to_coset 2^" + std::to_string(log2n);
    auto cmp = [&](const std::vector<Fr> & want, const std::vector<Fr> & got, const char * what) {
        if (std::memcmp(want.data(), got.data(), n * 32) == 0) return;
        o.equal = false;
        size_t i = 0;
        while (want[i] == got[i]) ++i;
        o.detail += std::string(o.detail.empty() ? "" : "; ") + what + " differs first at index " + std::to_string(i);
    };
    for (int inverse = 0; inverse < 2; ++inverse) {
        std::vector<Fr> want = v, got = v;
        auto t0 = Clock::now();
        ntt(want.data(), log2n, inverse, threads);
        o.cpu_ms += ms_since(t0);
        t0 = Clock::now();
        zk_cuda_ntt(got.data(), log2n, inverse);
        o.gpu_ms += ms_since(t0);
        cmp(want, got, inverse ? "intt" : "ntt");
    }
    {
        std::vector<Fr> want = v, got = v;
        const Fr first = rand_fp<FrParams>(r), inc = rand_fp<FrParams>(r);
        apply_key(want.data(), n, first, inc, threads);
        zk_cuda_apply_key(got.data(), n, first, inc);
        cmp(want, got, "apply_key");
    }
    {
        const Fr inc = log2n == 28 ? fr_shift() : fr_root_of_unity(log2n + 1);
        std::vector<Fr> want = v, got = v;
        ntt(want.data(), log2n, true, threads);
        apply_key(want.data(), n, Fr::one(), inc, threads);
        ntt(want.data(), log2n, false, threads);
        zk_cuda_to_coset(got.data(), log2n, inc);
        cmp(want, got, "to_coset");
    }
    return o;
}

} // namespace cuda_check
} // namespace vm_zk
