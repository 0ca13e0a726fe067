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
//   vm_zk_cuda_emu prove ZKEY WTNS SEED       groth16_prove_with through the GPU
//                                             dispatch hook vs the CPU prover, same
//                                             r and s: identical proofs
//
// Prints one line per check ("ok <what>" or "MISMATCH <what> ...") and exits 0
// when all match, 1 on any mismatch, 2 on bad arguments, 3 when a call threw.
// Built by the CUDA build next to the addon (x86-64 only: the coroutine switch).

#define VM_CUDA_EMU 1
#include "../zk_cuda.cu"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "zk_selfcheck.h"
#include "../../src/zk/groth16_prove.h"

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
using namespace vm_zk::cuda_check;

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

int report_outcome(const cuda_check::Outcome & o) {
    if (o.equal) {
        std::printf("ok %s\n", o.summary.c_str());
        return 0;
    }
    std::printf("MISMATCH %s: %s\n", o.summary.c_str(), o.detail.c_str());
    return 1;
}

// Counted so that the test sees the hook really routed the work to the kernels
// (identical proofs alone would also come from a hook that never fires).
int n_coset = 0, n_g1 = 0, n_g2 = 0;
void count_coset(Fr * a, unsigned log2n, const Fr & inc) { ++n_coset; zk_cuda_to_coset(a, log2n, inc); }
G1Jac count_g1(const G1Affine * b, const U256 * s, size_t n) { ++n_g1; return zk_cuda_msm_g1(b, s, n); }
G2Jac count_g2(const G2Affine * b, const U256 * s, size_t n) { ++n_g2; return zk_cuda_msm_g2(b, s, n); }

// The whole prover with the GPU dispatch hook (ProveAccel -> zk_cuda_*) against
// the CPU prover, with the same blinding r, s: the proofs must be identical.
int run_prove(const std::string & zkey_path, const std::string & wtns_path, uint64_t seed) {
    const Groth16Zkey z = read_zkey(zkey_path);
    const Witness w = read_wtns(wtns_path);
    Rng r{ seed };
    const Fr rr = rand_fp<FrParams>(r), ss = rand_fp<FrParams>(r);
    const ProveAccel accel = { count_coset, count_g1, count_g2 };
    const Groth16Proof cpu = groth16_prove_with(z, w, rr, ss, 1, nullptr, nullptr, nullptr);
    const Groth16Proof gpu = groth16_prove_with(z, w, rr, ss, 1, nullptr, nullptr, &accel);
    const std::string what = "prove nVars=" + std::to_string(z.nVars) + " domain=" + std::to_string(z.domainSize) +
                             " (emulated GPU: " + std::to_string(n_coset) + " coset NTTs, " + std::to_string(n_g1) +
                             " G1 MSMs, " + std::to_string(n_g2) + " G2 MSM)";
    report(same_bytes(cpu.pi_a, gpu.pi_a), what, "pi_a");
    report(same_bytes(cpu.pi_b, gpu.pi_b), what, "pi_b");
    report(same_bytes(cpu.pi_c, gpu.pi_c), what, "pi_c");
    report(cpu.public_signals.size() == gpu.public_signals.size(), what, "public signals");
    if (!failures) std::printf("ok %s\n", what.c_str());
    return failures ? 1 : 0;
}

int usage() {
    std::fprintf(stderr, "usage: vm_zk_cuda_emu field COUNT SEED | msm g1|g2 N SEED random|mixed|ones|zeros | ntt LOG2N SEED | prove ZKEY WTNS SEED\n");
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
            if (!cuda_check::msm_pattern_ok(pattern) || (g != "g1" && g != "g2")) return usage();
            return report_outcome(cuda_check::msm(g == "g2", n, seed, pattern, 1));
        }
        if (mode == "ntt" && argc == 4) {
            const int k = std::atoi(argv[2]);
            if (k < 0 || k > 20) return usage();
            return report_outcome(cuda_check::ntt_all((unsigned) k, std::strtoull(argv[3], nullptr, 10), 1));
        }
        if (mode == "prove" && argc == 5) return run_prove(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
        return usage();
    } catch (const std::exception & e) {
        std::printf("THREW %s\n", e.what());
        return 3;
    }
}
