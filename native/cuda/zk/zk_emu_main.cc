// vm_zk_cuda_emu: runs the prover's GPU kernels (native/cuda/zk_cuda.cu, kernels
// and host code unchanged) on the host emulation of CUDA (native/cuda/emu/
// cuda_emu.h) and compares every result byte for byte with the CPU prover
// (native/src/zk/: field.h, curve.h, msm_g1/msm_g2, ntt, apply_key). Driven by
// test/zk-cuda.test.ts.
//
//   vm_zk_cuda_emu field COUNT SEED          bn254.cuh's __host__ field and curve
//                                             operations vs field.h / curve.h
//   vm_zk_cuda_emu msm g1|g2 N SEED PATTERN  zk_cuda_msm_g1/g2 vs msm_g1/g2
//       PATTERN: random | mixed (zero scalars, infinity bases, repeated and
//                negated bases, scalars 1, r-1, 2^k) | ones (every scalar 1: one
//                bucket spanning many segments) | zeros (all scalars zero)
//   vm_zk_cuda_emu ntt LOG2N SEED             zk_cuda_ntt forward/inverse,
//                                             zk_cuda_apply_key, zk_cuda_to_coset
//                                             vs ntt / apply_key
//
// Prints one line per check ("ok <what>" or "MISMATCH <what> ...") and exits 0
// when all match, 1 on any mismatch, 2 on bad arguments, 3 when a call threw.
// Built by the CUDA build next to the addon (x86-64 only: the coroutine switch).

#define VM_CUDA_EMU 1
#include "../zk_cuda.cu"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../src/zk/msm.h"
#include "../../src/zk/ntt.h"

// The coroutine switch of cuda_emu.h (as in emu/emu_main.cc, which is another program).
asm(R"(
    .text
    .globl vm_emu_switch
    .type vm_emu_switch, @function
vm_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size vm_emu_switch, .-vm_emu_switch
)");

namespace {

using namespace vm_zk;

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

int failures = 0;

void report(bool ok, const std::string & what, const std::string & detail = "") {
    if (ok) return;
    ++failures;
    if (failures <= 20) std::printf("MISMATCH %s %s\n", what.c_str(), detail.c_str());
}

template <class A, class B>
bool same_bytes(const A & a, const B & b) {
    static_assert(sizeof(A) == sizeof(B), "sizes");
    return std::memcmp(&a, &b, sizeof(A)) == 0;
}

template <class D, class H>
D to_d(const H & h) {
    static_assert(sizeof(D) == sizeof(H), "sizes");
    D d;
    std::memcpy((void *) &d, &h, sizeof(D));
    return d;
}

template <class H, class D>
H to_h(const D & d) {
    static_assert(sizeof(D) == sizeof(H), "sizes");
    H h;
    std::memcpy((void *) &h, &d, sizeof(H));
    return h;
}

template <class P, class DP>
void check_fp(Rng & r, int count, const char * name) {
    using H = Fp<P>;
    using D = vm_zkc::Fe<DP>;
    const H mod_minus_1 = -H::one() + H::zero();
    std::vector<H> edge = { H::zero(), H::one(), -H::one(), H::from_u64(2), mod_minus_1, H::from_mont_raw(P::ONE) };
    {   // raw representatives p-1 and 1 (largest and smallest nonzero)
        H a = H::zero(); detail::sub4(a.v, P::MOD, H::from_mont_raw(P::ONE).v);
        H b = H::zero(); b.v[0] = 1;
        H c = H::zero(); detail::sub4(c.v, P::MOD, b.v);
        edge.push_back(a); edge.push_back(b); edge.push_back(c);
    }
    int n = 0;
    for (int i = 0; i < count; ++i) {
        const H a = i < (int) (edge.size() * edge.size()) ? edge[(size_t) i % edge.size()] : rand_fp<P>(r);
        const H b = i < (int) (edge.size() * edge.size()) ? edge[(size_t) i / edge.size()] : rand_fp<P>(r);
        const D da = to_d<D>(a), db = to_d<D>(b);
        report(same_bytes(vm_zkc::fe_mul(da, db), a * b), std::string(name) + " mul", a.to_dec() + " " + b.to_dec());
        report(same_bytes(vm_zkc::fe_add(da, db), a + b), std::string(name) + " add", a.to_dec() + " " + b.to_dec());
        report(same_bytes(vm_zkc::fe_sub(da, db), a - b), std::string(name) + " sub", a.to_dec() + " " + b.to_dec());
        report(same_bytes(vm_zkc::fe_neg(da), -a), std::string(name) + " neg", a.to_dec());
        report(same_bytes(vm_zkc::fe_sqr(da), a.sqr()), std::string(name) + " sqr", a.to_dec());
        report(same_bytes(vm_zkc::fe_dbl(da), a.dbl()), std::string(name) + " dbl", a.to_dec());
        n += 6;
    }
    std::printf("ok %s %d operations\n", name, n);
}

void check_fq2(Rng & r, int count) {
    for (int i = 0; i < count; ++i) {
        const Fq2 a = { rand_fp<FqParams>(r), rand_fp<FqParams>(r) }, b = { rand_fp<FqParams>(r), rand_fp<FqParams>(r) };
        const vm_zkc::Fq2 da = to_d<vm_zkc::Fq2>(a), db = to_d<vm_zkc::Fq2>(b);
        report(same_bytes(vm_zkc::f_mul(da, db), a * b), "fq2 mul");
        report(same_bytes(vm_zkc::f_sqr(da), a.sqr()), "fq2 sqr");
        report(same_bytes(vm_zkc::f_add(da, db), a + b), "fq2 add");
        report(same_bytes(vm_zkc::f_sub(da, db), a - b), "fq2 sub");
        report(same_bytes(vm_zkc::f_neg(da), -a), "fq2 neg");
    }
    std::printf("ok fq2 %d operations\n", count * 5);
}

// Curve operations compared after normalisation (the formulas are the same, so
// the Jacobian coordinates match too; affine equality is what the API promises).
template <class F, class DF>
void check_curve(Rng & r, int count, const Affine<F> & gen, const char * name) {
    using HJ = Jacobian<F>;
    using DJ = vm_zkc::Jac<DF>;
    using DA = vm_zkc::Aff<DF>;
    auto aff_of = [](const DJ & d) { return to_h<HJ>(d).to_affine(); };
    int n = 0;
    for (int i = 0; i < count; ++i) {
        const HJ p = HJ::from_affine(gen).mul(rand_below<FrParams>(r));
        const HJ q = (i % 4 == 1) ? p : (i % 4 == 2) ? p.neg() : HJ::from_affine(gen).mul(rand_below<FrParams>(r));
        const HJ inf = HJ::infinity();
        const Affine<F> qa = (i % 8 == 3) ? Affine<F>::infinity() : q.to_affine();
        const DJ dp = to_d<DJ>(p), dq = to_d<DJ>(q), dinf = to_d<DJ>(inf);
        report(aff_of(vm_zkc::j_add(dp, dq)) == p.add(q).to_affine(), std::string(name) + " add");
        report(aff_of(vm_zkc::j_add(dinf, dq)) == q.to_affine(), std::string(name) + " add inf");
        report(aff_of(vm_zkc::j_add(dp, dinf)) == p.to_affine(), std::string(name) + " add inf2");
        report(aff_of(vm_zkc::j_dbl(dp)) == p.dbl().to_affine(), std::string(name) + " dbl");
        report(aff_of(vm_zkc::j_add_mixed(dp, to_d<DA>(qa))) == p.add_mixed(qa).to_affine(), std::string(name) + " madd");
        report(aff_of(vm_zkc::j_add_mixed(dinf, to_d<DA>(qa))) == qa, std::string(name) + " madd inf");
        const uint32_t k = (uint32_t) r.next() >> (r.next() % 32);
        report(aff_of(vm_zkc::j_mul_small(dp, k)) == p.mul(U256{ { k, 0, 0, 0 } }).to_affine(), std::string(name) + " mul_small");
        report(same_bytes(vm_zkc::j_add(dp, dq), p.add(q)), std::string(name) + " add coordinates");
        n += 8;
    }
    std::printf("ok %s %d operations\n", name, n);
}

int run_field(int count, uint64_t seed) {
    Rng r{ seed };
    check_fp<FqParams, vm_zkc::FqP>(r, count, "fq");
    check_fp<FrParams, vm_zkc::FrP>(r, count, "fr");
    check_fq2(r, count);
    check_curve<Fq, vm_zkc::Fq>(r, std::max(1, count / 50), g1_generator(), "g1");
    check_curve<Fq2, vm_zkc::Fq2>(r, std::max(1, count / 100), g2_generator(), "g2");
    return failures ? 1 : 0;
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

std::string x0(const Fq & f) { return f.to_dec(); }
std::string x0(const Fq2 & f) { return f.c0.to_dec(); }

template <class F, class Fn1, class Fn2>
int run_msm(size_t n, uint64_t seed, const std::string & pattern, const Affine<F> & gen, const char * name, Fn1 cpu,
            Fn2 gpu) {
    Rng r{ seed };
    const auto bases = make_bases<F>(r, n, gen, pattern == "mixed" || pattern == "ones");
    const auto scalars = make_scalars(r, n, pattern);
    const Affine<F> want = cpu(bases.data(), scalars.data(), n).to_affine();
    const Affine<F> got = gpu(bases.data(), scalars.data(), n).to_affine();
    const std::string what = std::string("msm ") + name + " n=" + std::to_string(n) + " " + pattern;
    auto show = [](const Affine<F> & a) { return a.is_inf() ? std::string("infinity") : "x.c0 " + x0(a.x); };
    report(same_bytes(got, want), what, "gpu " + show(got) + " cpu " + show(want));
    if (!failures) std::printf("ok %s%s\n", what.c_str(), want.is_inf() ? " (infinity)" : "");
    return failures ? 1 : 0;
}

int run_ntt(unsigned log2n, uint64_t seed) {
    Rng r{ seed };
    const size_t n = (size_t) 1 << log2n;
    std::vector<Fr> v(n);
    for (auto & x : v) x = rand_fp<FrParams>(r);
    const std::string sz = " 2^" + std::to_string(log2n);
    for (int inverse = 0; inverse < 2; ++inverse) {
        std::vector<Fr> want = v, got = v;
        ntt(want.data(), log2n, inverse, 1);
        zk_cuda_ntt(got.data(), log2n, inverse);
        report(std::memcmp(want.data(), got.data(), n * 32) == 0, (inverse ? "intt" : "ntt") + sz);
    }
    {
        std::vector<Fr> want = v, got = v;
        const Fr first = rand_fp<FrParams>(r), inc = rand_fp<FrParams>(r);
        apply_key(want.data(), n, first, inc, 1);
        zk_cuda_apply_key(got.data(), n, first, inc);
        report(std::memcmp(want.data(), got.data(), n * 32) == 0, "apply_key" + sz);
    }
    {
        // The prover's odd-coset evaluation: iNTT, × ω_{2n}^i, NTT.
        const Fr inc = log2n == 28 ? fr_shift() : fr_root_of_unity(log2n + 1);
        std::vector<Fr> want = v, got = v;
        ntt(want.data(), log2n, true, 1);
        apply_key(want.data(), n, Fr::one(), inc, 1);
        ntt(want.data(), log2n, false, 1);
        zk_cuda_to_coset(got.data(), log2n, inc);
        report(std::memcmp(want.data(), got.data(), n * 32) == 0, "to_coset" + sz);
    }
    if (!failures) std::printf("ok ntt intt apply_key to_coset%s\n", sz.c_str());
    return failures ? 1 : 0;
}

int usage() {
    std::fprintf(stderr, "usage: vm_zk_cuda_emu field COUNT SEED | msm g1|g2 N SEED random|mixed|ones|zeros | ntt LOG2N SEED\n");
    return 2;
}

} // namespace

int main(int argc, char ** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "field" && argc == 4) return run_field(std::atoi(argv[2]), std::strtoull(argv[3], nullptr, 10));
        if (mode == "msm" && argc == 6) {
            const std::string g = argv[2], pattern = argv[5];
            const size_t n = std::strtoull(argv[3], nullptr, 10);
            const uint64_t seed = std::strtoull(argv[4], nullptr, 10);
            if (pattern != "random" && pattern != "mixed" && pattern != "ones" && pattern != "zeros") return usage();
            if (g == "g1") {
                return run_msm<Fq>(n, seed, pattern, g1_generator(), "g1",
                                   [](const G1Affine * b, const U256 * s, size_t m) { return msm_g1(b, s, m, 1); },
                                   [](const G1Affine * b, const U256 * s, size_t m) { return zk_cuda_msm_g1(b, s, m); });
            }
            if (g == "g2") {
                return run_msm<Fq2>(n, seed, pattern, g2_generator(), "g2",
                                    [](const G2Affine * b, const U256 * s, size_t m) { return msm_g2(b, s, m, 1); },
                                    [](const G2Affine * b, const U256 * s, size_t m) { return zk_cuda_msm_g2(b, s, m); });
            }
            return usage();
        }
        if (mode == "ntt" && argc == 4) {
            const int k = std::atoi(argv[2]);
            if (k < 0 || k > 20) return usage();
            return run_ntt((unsigned) k, std::strtoull(argv[3], nullptr, 10));
        }
        return usage();
    } catch (const std::exception & e) {
        std::printf("THREW %s\n", e.what());
        return 3;
    }
}
