#pragma once

// BN254 arithmetic for the prover's GPU kernels (native/cuda/zk_cuda.cu), as
// __host__ __device__ code so that the same functions run in the kernels, in the
// host emulation (vm_zk_cuda_emu) and in host-side checks against the CPU
// prover's field (native/src/zk/field.h).
//
// Representation: 8 × 32-bit little-endian limbs, Montgomery form with
// R = 2^256. Byte for byte that is field.h's 4 × 64-bit layout (and the zkey's),
// so points and scalars are copied to the device unchanged and results copied
// back into vm_zk::G1Jac / G2Jac / Fr as they are. 32-bit limbs because GPUs
// have 32-bit multipliers (a 64-bit product costs four of them); the portable
// CIOS below compiles to mul.wide.u32 + add chains. Every result is fully
// reduced (< modulus), so equal field elements are equal bytes.
//
// Curve formulas are field.h/curve.h's (dbl-2009-l, add-2007-bl, madd-2007-bl
// with the same explicit doubling/infinity cases): complete for any inputs,
// including repeated points and infinity.

#include <cstdint>

#if !defined(__CUDACC__) && !defined(VM_CUDA_EMU)
#define __host__
#define __device__
#define __forceinline__ inline
#endif

#define VMZK_HD __host__ __device__ __forceinline__
// Curve operations are real calls on the device: inlined into every kernel they
// made ptxas take minutes per architecture (each G2 addition is ~50 inlined
// field multiplications); as functions each is compiled once per field.
#if defined(__CUDACC__)
#define VMZK_CURVE __host__ __device__ __noinline__
#else
#define VMZK_CURVE inline
#endif

namespace vm_zkc {

// Two 32-bit limbs of a 64-bit constant, low first.
#define VMZK_L2(x) (uint32_t) (x##ULL), (uint32_t) ((x##ULL) >> 32)

// Constants as functions of a compile-time index (every caller's loop is fully
// unrolled), so device code sees immediates and needs no __constant__ tables.
struct FqP {
    static VMZK_HD uint32_t mod(int i) {
        constexpr uint32_t M[8] = { VMZK_L2(0x3c208c16d87cfd47), VMZK_L2(0x97816a916871ca8d),
                                    VMZK_L2(0xb85045b68181585d), VMZK_L2(0x30644e72e131a029) };
        return M[i];
    }
    static VMZK_HD uint32_t one(int i) {   // R mod p
        constexpr uint32_t M[8] = { VMZK_L2(0xd35d438dc58f0d9d), VMZK_L2(0x0a78eb28f5c70b3d),
                                    VMZK_L2(0x666ea36f7879462c), VMZK_L2(0x0e0a77c19a07df2f) };
        return M[i];
    }
    static constexpr uint32_t INV = 0xe4866389u;   // -p^-1 mod 2^32 (low half of field.h's INV)
};

struct FrP {
    static VMZK_HD uint32_t mod(int i) {
        constexpr uint32_t M[8] = { VMZK_L2(0x43e1f593f0000001), VMZK_L2(0x2833e84879b97091),
                                    VMZK_L2(0xb85045b68181585d), VMZK_L2(0x30644e72e131a029) };
        return M[i];
    }
    static VMZK_HD uint32_t one(int i) {
        constexpr uint32_t M[8] = { VMZK_L2(0xac96341c4ffffffb), VMZK_L2(0x36fc76959f60cd29),
                                    VMZK_L2(0x666ea36f7879462e), VMZK_L2(0x0e0a77c19a07df2f) };
        return M[i];
    }
    static constexpr uint32_t INV = 0xefffffffu;
};

template <class P>
struct Fe {
    uint32_t v[8];

    static VMZK_HD Fe zero() {
        Fe r;
#pragma unroll
        for (int i = 0; i < 8; ++i) r.v[i] = 0;
        return r;
    }
    static VMZK_HD Fe one() {
        Fe r;
#pragma unroll
        for (int i = 0; i < 8; ++i) r.v[i] = P::one(i);
        return r;
    }
    VMZK_HD bool is_zero() const {
        uint32_t o = 0;
#pragma unroll
        for (int i = 0; i < 8; ++i) o |= v[i];
        return o == 0;
    }
    VMZK_HD bool operator==(const Fe & b) const {
        uint32_t o = 0;
#pragma unroll
        for (int i = 0; i < 8; ++i) o |= v[i] ^ b.v[i];
        return o == 0;
    }
};

// r = x - p if x >= p (x < 2p, so one subtraction reduces fully).
template <class P>
VMZK_HD void fe_reduce_once(Fe<P> & x) {
    uint32_t s[8];
    uint32_t borrow = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const uint64_t d = (uint64_t) x.v[i] - P::mod(i) - borrow;
        s[i] = (uint32_t) d;
        borrow = (uint32_t) (d >> 32) & 1;
    }
    if (!borrow) {
#pragma unroll
        for (int i = 0; i < 8; ++i) x.v[i] = s[i];
    }
}

// Both moduli are below 2^254, so a + b < 2^255 never carries out of 8 limbs.
template <class P>
VMZK_HD Fe<P> fe_add(const Fe<P> & a, const Fe<P> & b) {
    Fe<P> r;
    uint32_t carry = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const uint64_t s = (uint64_t) a.v[i] + b.v[i] + carry;
        r.v[i] = (uint32_t) s;
        carry = (uint32_t) (s >> 32);
    }
    fe_reduce_once(r);
    return r;
}

template <class P>
VMZK_HD Fe<P> fe_sub(const Fe<P> & a, const Fe<P> & b) {
    Fe<P> r;
    uint32_t borrow = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const uint64_t d = (uint64_t) a.v[i] - b.v[i] - borrow;
        r.v[i] = (uint32_t) d;
        borrow = (uint32_t) (d >> 32) & 1;
    }
    if (borrow) {
        uint32_t carry = 0;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const uint64_t s = (uint64_t) r.v[i] + P::mod(i) + carry;
            r.v[i] = (uint32_t) s;
            carry = (uint32_t) (s >> 32);
        }
    }
    return r;
}

template <class P>
VMZK_HD Fe<P> fe_neg(const Fe<P> & a) {
    return a.is_zero() ? a : fe_sub(Fe<P>::zero(), a);
}

template <class P>
VMZK_HD Fe<P> fe_dbl(const Fe<P> & a) {
    return fe_add(a, a);
}

// a · b · 2^-256 mod p: CIOS over 32-bit words. The running value stays below
// 2p < 2^255 between rounds, so one extra word (t[8]) holds each round's carry
// and the final result needs a single conditional subtraction.
template <class P>
VMZK_HD Fe<P> fe_mul(const Fe<P> & a, const Fe<P> & b) {
    uint32_t t[9];
#pragma unroll
    for (int j = 0; j < 9; ++j) t[j] = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const uint32_t bi = b.v[i];
        uint32_t carry = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const uint64_t acc = (uint64_t) a.v[j] * bi + t[j] + carry;
            t[j] = (uint32_t) acc;
            carry = (uint32_t) (acc >> 32);
        }
        t[8] = carry;
        const uint32_t m = t[0] * P::INV;
        uint64_t acc = (uint64_t) m * P::mod(0) + t[0];
        carry = (uint32_t) (acc >> 32);
#pragma unroll
        for (int j = 1; j < 8; ++j) {
            acc = (uint64_t) m * P::mod(j) + t[j] + carry;
            t[j - 1] = (uint32_t) acc;
            carry = (uint32_t) (acc >> 32);
        }
        t[7] = t[8] + carry;
    }
    Fe<P> r;
#pragma unroll
    for (int j = 0; j < 8; ++j) r.v[j] = t[j];
    fe_reduce_once(r);
    return r;
}

template <class P>
VMZK_HD Fe<P> fe_sqr(const Fe<P> & a) {
    return fe_mul(a, a);
}

using Fq = Fe<FqP>;
using Fr = Fe<FrP>;

// Fq2 = Fq[u]/(u^2 + 1), c0 then c1 (zkey layout).
struct Fq2 {
    Fq c0, c1;
    static VMZK_HD Fq2 zero() { return { Fq::zero(), Fq::zero() }; }
    static VMZK_HD Fq2 one() { return { Fq::one(), Fq::zero() }; }
    VMZK_HD bool is_zero() const { return c0.is_zero() && c1.is_zero(); }
    VMZK_HD bool operator==(const Fq2 & b) const { return c0 == b.c0 && c1 == b.c1; }
};

// Field operations under one name for the curve templates. Fq2 operations are
// calls on the device too (VMZK_CURVE): G2 code is compiled, not inlined, twice
// over.
template <class P> VMZK_HD Fe<P> f_add(const Fe<P> & a, const Fe<P> & b) { return fe_add(a, b); }
template <class P> VMZK_HD Fe<P> f_sub(const Fe<P> & a, const Fe<P> & b) { return fe_sub(a, b); }
// The curve code multiplies through these (calls on the device, see VMZK_CURVE),
// the NTT kernels use the inline fe_mul directly.
template <class P> VMZK_CURVE Fe<P> f_mul(const Fe<P> & a, const Fe<P> & b) { return fe_mul(a, b); }
template <class P> VMZK_HD Fe<P> f_sqr(const Fe<P> & a) { return f_mul(a, a); }
template <class P> VMZK_HD Fe<P> f_dbl(const Fe<P> & a) { return fe_dbl(a); }
template <class P> VMZK_HD Fe<P> f_neg(const Fe<P> & a) { return fe_neg(a); }

VMZK_CURVE Fq2 f_add(const Fq2 & a, const Fq2 & b) { return { fe_add(a.c0, b.c0), fe_add(a.c1, b.c1) }; }
VMZK_CURVE Fq2 f_sub(const Fq2 & a, const Fq2 & b) { return { fe_sub(a.c0, b.c0), fe_sub(a.c1, b.c1) }; }
VMZK_HD Fq2 f_dbl(const Fq2 & a) { return { fe_dbl(a.c0), fe_dbl(a.c1) }; }
VMZK_HD Fq2 f_neg(const Fq2 & a) { return { fe_neg(a.c0), fe_neg(a.c1) }; }
// Karatsuba, as field.h.
VMZK_CURVE Fq2 f_mul(const Fq2 & a, const Fq2 & b) {
    const Fq t0 = f_mul(a.c0, b.c0), t1 = f_mul(a.c1, b.c1);
    const Fq m = f_mul(fe_add(a.c0, a.c1), fe_add(b.c0, b.c1));
    return { fe_sub(t0, t1), fe_sub(fe_sub(m, t0), t1) };
}
VMZK_CURVE Fq2 f_sqr(const Fq2 & a) {
    const Fq m = f_mul(a.c0, a.c1);
    return { f_mul(fe_add(a.c0, a.c1), fe_sub(a.c0, a.c1)), fe_dbl(m) };
}

// Affine point, zkey layout; infinity is x = y = 0.
template <class F>
struct Aff {
    F x, y;
    VMZK_HD bool is_inf() const { return x.is_zero() && y.is_zero(); }
};

// Jacobian (X/Z^2, Y/Z^3); infinity Z = 0. Same layout as vm_zk::Jacobian.
template <class F>
struct Jac {
    F X, Y, Z;
    static VMZK_HD Jac inf() { return { F::one(), F::one(), F::zero() }; }
    VMZK_HD bool is_inf() const { return Z.is_zero(); }
};

template <class F>
VMZK_CURVE Jac<F> j_dbl(const Jac<F> & p) {
    if (p.is_inf() || p.Y.is_zero()) return Jac<F>::inf();
    const F A = f_sqr(p.X), B = f_sqr(p.Y), C = f_sqr(B);
    const F D = f_dbl(f_sub(f_sub(f_sqr(f_add(p.X, B)), A), C));
    const F E = f_add(f_dbl(A), A);
    const F Fv = f_sqr(E);
    Jac<F> r;
    r.X = f_sub(Fv, f_dbl(D));
    const F C8 = f_dbl(f_dbl(f_dbl(C)));
    r.Y = f_sub(f_mul(E, f_sub(D, r.X)), C8);
    r.Z = f_dbl(f_mul(p.Y, p.Z));
    return r;
}

template <class F>
VMZK_CURVE Jac<F> j_add(const Jac<F> & p, const Jac<F> & o) {
    if (p.is_inf()) return o;
    if (o.is_inf()) return p;
    const F Z1Z1 = f_sqr(p.Z), Z2Z2 = f_sqr(o.Z);
    const F U1 = f_mul(p.X, Z2Z2), U2 = f_mul(o.X, Z1Z1);
    const F S1 = f_mul(f_mul(p.Y, o.Z), Z2Z2), S2 = f_mul(f_mul(o.Y, p.Z), Z1Z1);
    const F H = f_sub(U2, U1);
    const F rr = f_dbl(f_sub(S2, S1));
    if (H.is_zero()) {
        if (rr.is_zero()) return j_dbl(p);
        return Jac<F>::inf();
    }
    const F I = f_sqr(f_dbl(H));
    const F J = f_mul(H, I);
    const F V = f_mul(U1, I);
    Jac<F> r;
    r.X = f_sub(f_sub(f_sqr(rr), J), f_dbl(V));
    r.Y = f_sub(f_mul(rr, f_sub(V, r.X)), f_dbl(f_mul(S1, J)));
    r.Z = f_mul(f_sub(f_sub(f_sqr(f_add(p.Z, o.Z)), Z1Z1), Z2Z2), H);
    return r;
}

template <class F>
VMZK_CURVE Jac<F> j_add_mixed(const Jac<F> & p, const Aff<F> & a) {
    if (a.is_inf()) return p;
    if (p.is_inf()) return { a.x, a.y, F::one() };
    const F Z1Z1 = f_sqr(p.Z);
    const F U2 = f_mul(a.x, Z1Z1);
    const F S2 = f_mul(f_mul(a.y, p.Z), Z1Z1);
    const F H = f_sub(U2, p.X);
    const F rr = f_dbl(f_sub(S2, p.Y));
    if (H.is_zero()) {
        if (rr.is_zero()) return j_dbl(p);
        return Jac<F>::inf();
    }
    const F HH = f_sqr(H);
    const F I = f_dbl(f_dbl(HH));
    const F J = f_mul(H, I);
    const F V = f_mul(p.X, I);
    Jac<F> r;
    r.X = f_sub(f_sub(f_sqr(rr), J), f_dbl(V));
    r.Y = f_sub(f_mul(rr, f_sub(V, r.X)), f_dbl(f_mul(p.Y, J)));
    r.Z = f_sub(f_sub(f_sqr(f_add(p.Z, H)), Z1Z1), HH);
    return r;
}

// k · p for a small k (bucket-group offsets), double-and-add from the top bit.
template <class F>
VMZK_CURVE Jac<F> j_mul_small(const Jac<F> & p, uint32_t k) {
    Jac<F> r = Jac<F>::inf();
#pragma unroll 1
    for (int i = 31; i >= 0; --i) {
        r = j_dbl(r);
        if ((k >> i) & 1) r = j_add(r, p);
    }
    return r;
}

using G1A = Aff<Fq>;
using G2A = Aff<Fq2>;
using G1J = Jac<Fq>;
using G2J = Jac<Fq2>;

static_assert(sizeof(Fq) == 32 && sizeof(Fq2) == 64 && sizeof(G1A) == 64 && sizeof(G2A) == 128, "zkey layout");
static_assert(sizeof(G1J) == 96 && sizeof(G2J) == 192, "vm_zk::Jacobian layout");

} // namespace vm_zkc
