#pragma once

// Integer primitives of docs/engine-spec.md §1, exact for the operand ranges the
// spec allows. All of them take and return int64_t. C/C++ `/` truncates towards
// zero and `<<` of a negative value is undefined before C++20, so floor division
// and scaling by powers of two are spelled out; `>>` of a negative int64 is an
// arithmetic shift on every compiler we build with (GCC, Clang: documented), which
// is exactly floor(x / 2^s).

#include <cmath>
#include <cstdint>

namespace vm_engine {

constexpr int64_t INT32_MAXV = 2147483647;
constexpr int64_t LOG2E_Q30  = 1549082005;

inline int32_t sat32(int64_t x) {
    return (int32_t) (x > INT32_MAXV ? INT32_MAXV : x < -INT32_MAXV ? -INT32_MAXV : x);
}

// floor((x + 2^(s-1)) / 2^s) for s > 0 (round half up); x for s = 0; x · 2^-s for
// s < 0 (the caller guarantees the result fits, as the spec bounds do).
inline int64_t rshr(int64_t x, int s) {
    if (s > 0) {
        if (s < 62) {
            return (x + ((int64_t) 1 << (s - 1))) >> s;   // |x| < 2^62 in every use
        }
        if (s >= 126) {
            return 0;                                      // |x| < 2^63 <= 2^(s-1)
        }
        return (int64_t) (((__int128) x + ((__int128) 1 << (s - 1))) >> s);
    }
    if (s == 0) {
        return x;
    }
    return x * ((int64_t) 1 << -s);
}

// mulr for int32 operands (every use in the engine): |a·b| < 2^62 fits int64, so
// the common shifts need no __int128.
inline int32_t mulr(int32_t a, int32_t b, int s) {
    const int64_t p = (int64_t) a * b;
    if (s > 0) {
        if (s < 62) {
            return sat32((p + ((int64_t) 1 << (s - 1))) >> s);   // |p| + 2^60 < 2^63
        }
        return (int32_t) rshr(p, s);   // |p| <= 2^62: result in {-1, 0, 1}
    }
    if (s == 0 || p == 0) {
        return sat32(p);
    }
    if (s < -31) {
        return p > 0 ? (int32_t) INT32_MAXV : (int32_t) -INT32_MAXV;
    }
    // |p| << -s overflows int32 iff |p| > INT32_MAX >> -s; otherwise it is exact.
    const int64_t lim = INT32_MAXV >> -s;
    if (p > lim) return (int32_t) INT32_MAXV;
    if (p < -lim) return (int32_t) -INT32_MAXV;
    return (int32_t) (p * ((int64_t) 1 << -s));
}

// floor(a / b) for b > 0.
inline int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0) {
        --q;
    }
    return q;
}

// Round half up division, d > 0: floor((2n + d) / (2d)).
inline int64_t rdiv(int64_t n, int64_t d) {
    return floordiv(2 * n + d, 2 * d);
}

// rdiv(n, d) for one divisor and many n, without a hardware division per call:
// the quotient from a double reciprocal is within one of the true floor when the
// numerator 2n + d and the quotient stay below 2^52, and one exact remainder test
// fixes it. Used where the divisor is shared by a vector (qvec, rmsnorm, bact,
// softmax), whose bounds keep |2n + d| < 2^53 by far.
struct RDiv {
    int64_t d, d2;
    double inv;
    explicit RDiv(int64_t divisor) : d(divisor), d2(2 * divisor), inv(1.0 / (double) (2 * divisor)) {}
    int64_t operator()(int64_t n) const {
        const int64_t num = 2 * n + d;
        int64_t q = (int64_t) std::floor((double) num * inv);
        const int64_t r = num - q * d2;
        if (r < 0) {
            --q;
        } else if (r >= d2) {
            ++q;
        }
        return q;
    }
};

// rdiv(n, d) with a floating-point quotient fixed up exactly (see RDiv), for one-off
// divisors: a 64-bit idiv costs several times more. Needs |2n + d|, 2d < 2^52.
inline int64_t rdiv_fp(int64_t n, int64_t d) {
    const int64_t num = 2 * n + d, d2 = 2 * d;
    int64_t q = (int64_t) std::floor((double) num / (double) d2);
    const int64_t r = num - q * d2;
    if (r < 0) {
        --q;
    } else if (r >= d2) {
        ++q;
    }
    return q;
}

// Bits of x >= 1.
inline int bitlen(uint64_t x) {
    return 64 - __builtin_clzll(x);
}

// floor(sqrt(n)), 0 <= n < 2^52: the double sqrt is correctly rounded and within
// one of the answer; fix it up exactly.
inline int64_t isqrt(int64_t n) {
    int64_t r = (int64_t) std::sqrt((double) n);
    while (r * r > n) {
        --r;
    }
    while ((r + 1) * (r + 1) <= n) {
        ++r;
    }
    return r;
}

// 2^(d / 2^16) in Q30 for d <= 0 (spec §2.4).
inline int64_t exp2q30(int64_t d) {
    static constexpr int64_t C[6] = {1073741578, 744271399, 257839528, 59996874, 9599925, 2034084};
    const int64_t ip = d >> 16;          // floor(d / 2^16)
    if (-ip >= 32) {
        return 0;
    }
    const int64_t f = d - ip * 65536;    // [0, 2^16)
    int64_t p = C[5];
    for (int k = 4; k >= 0; --k) {
        p = rshr(p * f, 16) + C[k];
    }
    return rshr(p, (int) -ip);
}

// Spec §2.6.
inline int32_t silu(int32_t x) {
    const int64_t a = x < 0 ? -(int64_t) x : (int64_t) x;
    const int32_t am = (int32_t) (a < 2097152 ? a : 2097152);
    const int64_t y = mulr(am, (int32_t) LOG2E_Q30, 30);
    const int64_t e = exp2q30(-y);
    const int64_t sigma = x >= 0 ? rdiv_fp((int64_t) 1 << 46, ((int64_t) 1 << 30) + e)
                                 : rdiv_fp(e * 65536, ((int64_t) 1 << 30) + e);
    return mulr(x, (int32_t) sigma, 16);    // sigma <= 2^16
}

// A scale (m, x) = m · 2^x.
struct QScale {
    int32_t m;
    int32_t x;
};

// qvec (spec §1.3): n Q16 values -> n int8 plus one scale.
inline QScale qvec(const int32_t * v, int n, int8_t * q) {
    int64_t amax = 0;
    for (int i = 0; i < n; ++i) {
        const int64_t a = v[i] < 0 ? -(int64_t) v[i] : (int64_t) v[i];
        amax = a > amax ? a : amax;
    }
    if (amax == 0) {
        for (int i = 0; i < n; ++i) {
            q[i] = 0;
        }
        return {1 << 30, -53};
    }
    const RDiv div(amax);
    for (int i = 0; i < n; ++i) {
        q[i] = (int8_t) div(127 * (int64_t) v[i]);
    }
    const int b = bitlen((uint64_t) amax);   // <= 32: amax <= 2^31
    return {(int32_t) rdiv(amax << (37 - b), 127), b - 53};
}

// bact (spec §1.4): one position's Q16 residual -> dim int8 + dim/32 block scales.
inline void to_bact(const int32_t * x, int dim, int8_t * q, int32_t * scales) {
    for (int b = 0; b < dim / 32; ++b) {
        const int32_t * xb = x + b * 32;
        int64_t amax = 0;
        for (int i = 0; i < 32; ++i) {
            const int64_t a = xb[i] < 0 ? -(int64_t) xb[i] : (int64_t) xb[i];
            amax = a > amax ? a : amax;
        }
        int64_t s = (amax + 126) / 127;      // ceil, amax >= 0
        s = s < 1 ? 1 : s;
        scales[b] = (int32_t) s;
        const RDiv div(s);
        for (int i = 0; i < 32; ++i) {
            const int64_t v = div(xb[i]);
            q[b * 32 + i] = (int8_t) (v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

inline void from_bact(const int8_t * q, const int32_t * scales, int dim, int32_t * x) {
    for (int i = 0; i < dim; ++i) {
        x[i] = (int32_t) q[i] * scales[i >> 5];
    }
}

} // namespace vm_engine
