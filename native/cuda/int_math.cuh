#pragma once

// Integer primitives of docs/engine-spec.md (§1, §2.4, §2.6 and the element-wise
// steps of §1.3, §1.4, §2.1–2.5), written once for both sides: the CUDA kernels
// call them on the device, and native/cuda/check/int_check.cu runs the very same
// source on the host, where test/cuda-engine.test.ts compares it with
// actors/engine/int/fixed.ts. That is how the GPU's arithmetic is verified on a
// machine without a GPU.
//
// Every function is exact over the whole range the spec allows; where an
// intermediate could leave int64 (a shift by ≥ 64, a left shift of a large
// product) the result is derived without forming it.

#include <cstdint>

#if defined(__CUDACC__)
#define VM_HD __host__ __device__ __forceinline__
#else
#define VM_HD inline
#endif

namespace vm_int {

constexpr int64_t kInt32Max = 2147483647;
constexpr int64_t kLog2eQ30 = 1549082005;   // spec §2.6

VM_HD int32_t sat32(int64_t x) {
    return (int32_t) (x > kInt32Max ? kInt32Max : x < -kInt32Max ? -kInt32Max : x);
}

// The JS reference stores some results in an Int32Array without saturating
// (rmsnorm's y, fromBact's q·s), which wraps modulo 2^32. Matching that keeps the
// outputs identical even in the corners where it happens.
VM_HD int32_t wrap32(int64_t x) {
    return (int32_t) (uint32_t) (uint64_t) x;
}

VM_HD uint32_t abs32(int32_t x) {
    // |INT32_MIN| = 2^31 must not overflow: a wrapped rmsnorm output can be -2^31.
    return x < 0 ? (uint32_t) 0 - (uint32_t) x : (uint32_t) x;
}

// floor(n / d) for d > 0: C++ division truncates towards zero.
VM_HD int64_t floor_div(int64_t n, int64_t d) {
    int64_t q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

// rshr for s ≥ 0: floor((x + 2^(s-1)) / 2^s). Written as (x >> s) + bit (s-1) of
// x so that x + 2^(s-1) is never formed (it could overflow); >> on a negative
// int64 is an arithmetic shift (floor) with nvcc and g++ (and C++20 requires it).
VM_HD int64_t rshr_pos(int64_t x, int s) {
    if (s <= 0) {
        return x;
    }
    if (s >= 64) {
        // |x| ≤ 2^63 = 2^(s-1): x + 2^(s-1) lies in [0, 2^s).
        return 0;
    }
    return (x >> s) + ((x >> (s - 1)) & 1);
}

// sat32(rshr(x, s)) for any s, x: a left shift saturates instead of overflowing.
VM_HD int32_t rshr_sat32(int64_t x, int64_t s) {
    if (s >= 0) {
        return sat32(rshr_pos(x, s >= 64 ? 64 : (int) s));
    }
    if (x == 0) {
        return 0;
    }
    const int64_t sh = -s;
    if (sh >= 32) {
        return x > 0 ? (int32_t) kInt32Max : (int32_t) -kInt32Max;
    }
    // x · 2^sh ≤ 2^31 - 1  ⇔  x ≤ floor((2^31 - 1) / 2^sh)
    const int64_t lim = kInt32Max >> sh;
    if (x > lim) {
        return (int32_t) kInt32Max;
    }
    if (x < -lim) {
        return (int32_t) -kInt32Max;
    }
    return (int32_t) (x * ((int64_t) 1 << sh));
}

// mulr(a, b, s) = sat32(rshr(a · b, s)); |a|, |b| ≤ 2^31 so a · b fits in int64.
VM_HD int32_t mulr(int64_t a, int64_t b, int64_t s) {
    return rshr_sat32(a * b, s);
}

// rdiv(n, d) = floor((2n + d) / (2d)) for d > 0 (round half up).
VM_HD int64_t rdiv(int64_t n, int64_t d) {
    return floor_div(2 * n + d, 2 * d);
}

VM_HD int bitlen(uint64_t x) {
#if defined(__CUDA_ARCH__)
    return 64 - __clzll((long long) x);
#else
    return x == 0 ? 0 : 64 - __builtin_clzll(x);
#endif
}

// floor(sqrt(n)), exact for every uint64 (digit by digit, no floating point).
VM_HD uint64_t isqrt(uint64_t n) {
    uint64_t r = 0;
    uint64_t bit = (uint64_t) 1 << 62;
    while (bit > n) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (n >= r + bit) {
            n -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

// 2^(d / 2^16) in Q30 for d ≤ 0 (spec §2.4).
VM_HD int64_t exp2q30(int64_t d) {
    const int64_t ip = d >> 16;                  // floor(d / 2^16)
    if (-ip >= 32) {
        return 0;
    }
    const int64_t f = d - ip * 65536;            // in [0, 2^16)
    // C0..C5 of the spec, highest first for Horner.
    int64_t p = 2034084;
    p = rshr_pos(p * f, 16) + 9599925;
    p = rshr_pos(p * f, 16) + 59996874;
    p = rshr_pos(p * f, 16) + 257839528;
    p = rshr_pos(p * f, 16) + 744271399;
    p = rshr_pos(p * f, 16) + 1073741578;
    return rshr_pos(p, (int) -ip);
}

// Spec §2.6.
VM_HD int32_t silu(int32_t x) {
    const int64_t ax = (int64_t) abs32(x);
    const int64_t a = ax < 2097152 ? ax : 2097152;
    const int64_t y = mulr(a, kLog2eQ30, 30);
    const int64_t e = exp2q30(-y);
    const int64_t den = ((int64_t) 1 << 30) + e;
    const int64_t sigma = x >= 0 ? rdiv((int64_t) 1 << 46, den) : rdiv(e * 65536, den);
    return mulr(x, sigma, 16);
}

// ---- element-wise steps of the operations, shared by the kernels and the check ----

struct Scale {
    int32_t m;
    int32_t x;
};

// qvec's scale for the vector's max |v| (spec §1.3).
VM_HD Scale qvec_scale(uint32_t amax) {
    if (amax == 0) {
        return Scale{1073741824, -53};
    }
    const int b = bitlen(amax);
    return Scale{(int32_t) rdiv((int64_t) amax << (37 - b), 127), b - 53};
}

// qvec's value for one element, amax > 0 (|result| ≤ 127 since |v| ≤ amax).
VM_HD int8_t qvec_q(int32_t v, uint32_t amax) {
    return (int8_t) rdiv(127 * (int64_t) v, (int64_t) amax);
}

// Spec §2.1 after the accumulation. The shift is clamped to [-64, 64], which
// rshr_sat32 treats exactly like any larger magnitude, so an extreme stored
// exponent cannot overflow the int arithmetic.
VM_HD int32_t linear_out(int32_t acc, Scale w, Scale a) {
    const int32_t u = mulr(acc, w.m, 31);
    int64_t s = -((int64_t) a.x + (int64_t) w.x + 47);
    s = s > 64 ? 64 : s < -64 ? -64 : s;
    return mulr(u, a.m, s);
}

VM_HD int32_t add_sat(int32_t a, int32_t b) {
    return sat32((int64_t) a + (int64_t) b);
}

// Attention logit l_j (spec §2.5), Q16 base 2.
VM_HD int32_t attn_logit(int32_t acc, Scale k, Scale q, Scale c) {
    int64_t s = -((int64_t) k.x + (int64_t) q.x + (int64_t) c.x + 78);
    s = s > 64 ? 64 : s < -64 ? -64 : s;
    return mulr(mulr(mulr(acc, k.m, 31), q.m, 31), c.m, s);
}

// e_j = exp2q30(max(l_j - mx, -2^31 + 1)).
VM_HD int64_t attn_exp(int32_t l, int32_t mx) {
    int64_t d = (int64_t) l - (int64_t) mx;
    return exp2q30(d < -kInt32Max ? -kInt32Max : d);
}

// w_j = rshr(rdiv(e_j · 2^15, S) · mv_j, 30 + X - xv_j); X ≥ xv_j, so the shift is ≥ 30.
VM_HD int32_t attn_weight(int64_t e, int64_t S, Scale v, int32_t X) {
    const int64_t p = rdiv(e * 32768, S);
    int64_t s = 30 + (int64_t) X - (int64_t) v.x;
    return (int32_t) rshr_pos(p * (int64_t) v.m, s > 64 ? 64 : (int) s);
}

// o_i = sat32(rshr(Σ_j w_j · V_j[i], -(X + 31))).
VM_HD int32_t attn_out(int64_t acc, int32_t X) {
    return rshr_sat32(acc, -((int64_t) X + 31));
}

// RoPE on one pair (spec §2.3); c, s are Q15 (|c|, |s| ≤ 2^15), so the products stay below 2^47.
VM_HD void rope_pair(int32_t a, int32_t b, int32_t c, int32_t s, int32_t * ao, int32_t * bo) {
    *ao = sat32(rshr_pos((int64_t) a * c - (int64_t) b * s, 15));
    *bo = sat32(rshr_pos((int64_t) a * s + (int64_t) b * c, 15));
}

// rmsnorm's shift k from max |x_i| (spec §2.2).
VM_HD int rms_shift(uint32_t amax) {
    const int k = amax == 0 ? 0 : bitlen(amax) - 15;
    return k > 0 ? k : 0;
}

// rmsnorm's divisor r from ss = Σ xs_i² over d elements.
VM_HD int64_t rms_r(int64_t ss, int64_t d, int64_t eps_q32, int k) {
    int64_t ms = ss / d + rshr_pos(eps_q32, 2 * k);   // ss ≥ 0: / is floor
    if (ms < 1) {
        ms = 1;
    }
    return (int64_t) isqrt((uint64_t) ms << 16);
}

// rmsnorm's output element y_i (stored as int32, wrapping like the reference).
VM_HD int32_t rms_y(int32_t xs, int32_t g, int64_t r) {
    return wrap32(rdiv((int64_t) xs * (int64_t) g * 256, r));
}

// bact block scale from max |x_i| over the 32-block (spec §1.4).
VM_HD int32_t bact_scale(uint32_t amax) {
    return amax == 0 ? 1 : (int32_t) (((int64_t) amax + 126) / 127);
}

VM_HD int8_t bact_q(int32_t x, int32_t s) {
    const int64_t v = rdiv(x, s);
    return (int8_t) (v > 127 ? 127 : v < -127 ? -127 : v);
}

// dequant(q, s) as the reference's Int32Array stores it.
VM_HD int32_t bact_x(int8_t q, int32_t s) {
    return wrap32((int64_t) q * (int64_t) s);
}

// The MLP's h_i = mulr(silu(gate_i), up_i, 16).
VM_HD int32_t swiglu(int32_t gate, int32_t up) {
    return mulr(silu(gate), up, 16);
}

} // namespace vm_int
