#pragma once

// The BN254 extension tower above Fq2 (field.h), for the pairing:
//   Fq6  = Fq2[v] / (v^3 - ξ),  ξ = 9 + u
//   Fq12 = Fq6[w] / (w^2 - v)
// the same tower as snarkjs/ffjavascript, arkworks and @noble/curves, so a
// pairing value can be compared coefficient by coefficient with theirs.
//
// Frobenius: writing an Fq12 element as Σ c_j w^j (j = 0..5, c_j ∈ Fq2; the
// Fq6 halves interleave: c0 = a0, c1 = b0, c2 = a1, c3 = b1, c4 = a2, c5 = b2),
// (c_j w^j)^(p^k) = conj^k(c_j) · γ_k^j · w^j with γ_k = ξ^((p^k - 1)/6).
// The γ constants are computed once at start-up from p (no magic tables).

#include "field.h"

namespace vm_zk {

struct Fq6 {
    Fq2 c0, c1, c2;

    static Fq6 zero() { return { Fq2::zero(), Fq2::zero(), Fq2::zero() }; }
    static Fq6 one()  { return { Fq2::one(), Fq2::zero(), Fq2::zero() }; }
    bool is_zero() const { return c0.is_zero() && c1.is_zero() && c2.is_zero(); }
    bool operator==(const Fq6 & o) const { return c0 == o.c0 && c1 == o.c1 && c2 == o.c2; }

    Fq6 operator+(const Fq6 & o) const { return { c0 + o.c0, c1 + o.c1, c2 + o.c2 }; }
    Fq6 operator-(const Fq6 & o) const { return { c0 - o.c0, c1 - o.c1, c2 - o.c2 }; }
    Fq6 operator-() const { return { -c0, -c1, -c2 }; }

    // Karatsuba over three coefficients: 6 Fq2 multiplications.
    Fq6 operator*(const Fq6 & b) const {
        const Fq2 t0 = c0 * b.c0, t1 = c1 * b.c1, t2 = c2 * b.c2;
        Fq6 r;
        r.c0 = t0 + ((c1 + c2) * (b.c1 + b.c2) - t1 - t2).mul_by_xi();
        r.c1 = (c0 + c1) * (b.c0 + b.c1) - t0 - t1 + t2.mul_by_xi();
        r.c2 = (c0 + c2) * (b.c0 + b.c2) - t0 - t2 + t1;
        return r;
    }
    Fq6 sqr() const { return *this * *this; }
    // ·v: (a0, a1, a2) -> (ξ a2, a0, a1)
    Fq6 mul_by_v() const { return { c2.mul_by_xi(), c0, c1 }; }
    Fq6 mul_by_fq2(const Fq2 & s) const { return { c0 * s, c1 * s, c2 * s }; }
    // (a0 + a1 v + a2 v^2)(b0 + b1 v): sparse product for line evaluations.
    Fq6 mul_by_01(const Fq2 & b0, const Fq2 & b1) const {
        const Fq2 t0 = c0 * b0, t1 = c1 * b1;
        Fq6 r;
        r.c0 = ((c1 + c2) * b1 - t1).mul_by_xi() + t0;
        r.c1 = (c0 + c1) * (b0 + b1) - t0 - t1;
        r.c2 = (c0 + c2) * b0 - t0 + t1;
        return r;
    }
    Fq6 inv() const {
        const Fq2 t0 = c0.sqr() - (c1 * c2).mul_by_xi();
        const Fq2 t1 = c2.sqr().mul_by_xi() - c0 * c1;
        const Fq2 t2 = c1.sqr() - c0 * c2;
        const Fq2 d = (c0 * t0 + (c2 * t1 + c1 * t2).mul_by_xi()).inv();
        return { t0 * d, t1 * d, t2 * d };
    }
};

struct Fq12 {
    Fq6 c0, c1;

    static Fq12 one() { return { Fq6::one(), Fq6::zero() }; }
    bool is_one() const { return c0 == Fq6::one() && c1.is_zero(); }
    bool operator==(const Fq12 & o) const { return c0 == o.c0 && c1 == o.c1; }

    Fq12 operator*(const Fq12 & b) const {
        const Fq6 t0 = c0 * b.c0, t1 = c1 * b.c1;
        return { t0 + t1.mul_by_v(), (c0 + c1) * (b.c0 + b.c1) - t0 - t1 };
    }
    // Complex squaring: 2 Fq6 multiplications.
    Fq12 sqr() const {
        const Fq6 ab = c0 * c1;
        const Fq6 t = (c0 + c1) * (c0 + c1.mul_by_v()) - ab - ab.mul_by_v();
        return { t, ab + ab };
    }
    // The inverse of an element of the cyclotomic subgroup (after the easy part).
    Fq12 conj() const { return { c0, -c1 }; }
    Fq12 inv() const {
        const Fq6 d = (c0.sqr() - c1.sqr().mul_by_v()).inv();
        return { c0 * d, -(c1 * d) };
    }
    // this · (d0 + d3 w + d4 v w): the shape of a line evaluated at a G1 point
    // (D-type twist).
    Fq12 mul_by_034(const Fq2 & d0, const Fq2 & d3, const Fq2 & d4) const {
        const Fq6 a = { c0.c0 * d0, c0.c1 * d0, c0.c2 * d0 };
        const Fq6 b = c1.mul_by_01(d3, d4);
        const Fq6 e = (c0 + c1).mul_by_01(d0 + d3, d4);
        return { b.mul_by_v() + a, e - a - b };
    }

    // Product of two lines (d0 + d3 w + d4 v w)(e0 + e3 w + e4 v w), 6 Fq2
    // multiplications. With w² = v, v³ = ξ: c0 = (d0e0 + ξ d4e4, d3e3, d3e4 + d4e3),
    // c1 = (d0e3 + d3e0, d0e4 + d4e0, 0).
    static Fq12 line_product(const Fq2 & d0, const Fq2 & d3, const Fq2 & d4, const Fq2 & e0, const Fq2 & e3, const Fq2 & e4) {
        const Fq2 x00 = d0 * e0, x33 = d3 * e3, x44 = d4 * e4;
        Fq12 r;
        r.c0.c0 = x00 + x44.mul_by_xi();
        r.c0.c1 = x33;
        r.c0.c2 = (d3 + d4) * (e3 + e4) - x33 - x44;
        r.c1.c0 = (d0 + d3) * (e0 + e3) - x00 - x33;
        r.c1.c1 = (d0 + d4) * (e0 + e4) - x00 - x44;
        r.c1.c2 = Fq2::zero();
        return r;
    }
    // this · l for l with l.c1.c2 = 0 (a line_product): 17 Fq2 multiplications.
    Fq12 mul_by_line_product(const Fq12 & l) const {
        const Fq6 t0 = c0 * l.c0;
        const Fq6 t1 = c1.mul_by_01(l.c1.c0, l.c1.c1);
        return { t0 + t1.mul_by_v(), (c0 + c1) * (l.c0 + l.c1) - t0 - t1 };
    }

    // Granger–Scott squaring, valid in the cyclotomic subgroup only (after the
    // easy part of the final exponentiation): 6 Fq2 squarings instead of 12
    // Fq2 multiplications. Fq4 = Fq2[s]/(s^2 - ξ) pairs (a0,b1), (b0,a2), (a1,b2).
    Fq12 cyclotomic_sqr() const {
        auto fq4_sqr = [](const Fq2 & a, const Fq2 & b, Fq2 & r0, Fq2 & r1) {
            const Fq2 t0 = a.sqr(), t1 = b.sqr();
            r0 = t1.mul_by_xi() + t0;
            r1 = (a + b).sqr() - t0 - t1;
        };
        Fq2 t0, t1, t2, t3, t4, t5;
        fq4_sqr(c0.c0, c1.c1, t0, t1);
        fq4_sqr(c1.c0, c0.c2, t2, t3);
        fq4_sqr(c0.c1, c1.c2, t4, t5);
        Fq12 r;
        // z0 = 3 t0 - 2 a0, z4 = 3 t1 + 2 b1 (and likewise for the other pairs)
        r.c0.c0 = (t0 - c0.c0).dbl() + t0;
        r.c1.c1 = (t1 + c1.c1).dbl() + t1;
        const Fq2 t5x = t5.mul_by_xi();
        r.c1.c0 = (t5x + c1.c0).dbl() + t5x;
        r.c0.c2 = (t4 - c0.c2).dbl() + t4;
        r.c0.c1 = (t2 - c0.c1).dbl() + t2;
        r.c1.c2 = (t3 + c1.c2).dbl() + t3;
        return r;
    }
};

// Frobenius constants γ_k^j, k = 1..3, j = 0..5 (see the header comment).
struct FrobeniusConstants {
    Fq2 g[4][6];
};
const FrobeniusConstants & frobenius_constants();

inline Fq12 frobenius(const Fq12 & a, int k) {
    const Fq2 * g = frobenius_constants().g[k];
    auto f = [k](const Fq2 & x) { return (k & 1) ? x.conj() : x; };
    Fq12 r;
    r.c0.c0 = f(a.c0.c0);
    r.c1.c0 = f(a.c1.c0) * g[1];
    r.c0.c1 = f(a.c0.c1) * g[2];
    r.c1.c1 = f(a.c1.c1) * g[3];
    r.c0.c2 = f(a.c0.c2) * g[4];
    r.c1.c2 = f(a.c1.c2) * g[5];
    return r;
}

} // namespace vm_zk
