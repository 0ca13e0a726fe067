#pragma once

// BN254 groups G1 (y^2 = x^3 + 3 over Fq) and G2 (the sextic twist
// y^2 = x^3 + 3/(9+u) over Fq2) for the Groth16 prover.
//
// API (namespace vm_zk; stable: add, don't rename)
//   G1Affine, G2Affine   Affine<F>{ x, y }: exactly the zkey point layout (G1 64
//                        bytes, G2 128 bytes, Montgomery coordinates). Infinity
//                        is the zkey convention x = y = 0 (not on the curve since
//                        b != 0): is_inf(), Affine::infinity().
//   G1Jac, G2Jac         Jacobian<F>{ X, Y, Z }, (X/Z^2, Y/Z^3); infinity Z = 0.
//   Jacobian:            infinity(), from_affine(a), is_inf(), dbl(), add(J),
//                        add_mixed(A) (Jacobian + affine), neg(), to_affine(),
//                        mul(U256 scalar) (double-and-add), operator==
//                        (projective equality).
//   Affine:              neg(), on_curve(), operator==.
//   batch_to_affine(jac, n, out)   Montgomery's trick: one inversion for n points.
//   g1_generator(), g2_generator(), g1_b(), g2_b() (b' = 3/(9+u)).
// Formulas: a = 0 short Weierstrass, dbl-2009-l, add-2007-bl, madd-2007-bl
// (hyperelliptic.org EFD), with explicit doubling/infinity cases so they are
// complete for the prover's inputs (which may repeat points).

#include <vector>

#include "field.h"

namespace vm_zk {

template <class F> struct CurveB;
template <> struct CurveB<Fq> {
    static const Fq & b() { static const Fq v = Fq::from_u64(3); return v; }
};
template <> struct CurveB<Fq2> {
    static const Fq2 & b() {
        static const Fq2 v = Fq2::from_u64(3) * Fq2{ Fq::from_u64(9), Fq::one() }.inv();
        return v;
    }
};

template <class F>
struct Affine {
    F x, y;

    static Affine infinity() { return { F::zero(), F::zero() }; }
    bool is_inf() const { return x.is_zero() && y.is_zero(); }
    Affine neg() const { return is_inf() ? *this : Affine{ x, -y }; }
    bool on_curve() const {
        if (is_inf()) return true;
        return y.sqr() == x.sqr() * x + CurveB<F>::b();
    }
    bool operator==(const Affine & o) const { return x == o.x && y == o.y; }
    bool operator!=(const Affine & o) const { return !(*this == o); }
};

template <class F>
struct Jacobian {
    F X, Y, Z;

    static Jacobian infinity() { return { F::one(), F::one(), F::zero() }; }
    static Jacobian from_affine(const Affine<F> & a) {
        if (a.is_inf()) return infinity();
        return { a.x, a.y, F::one() };
    }
    bool is_inf() const { return Z.is_zero(); }
    Jacobian neg() const { return { X, -Y, Z }; }

    // dbl-2009-l: 2M + 5S.
    Jacobian dbl() const {
        if (is_inf() || Y.is_zero()) return infinity();
        F A = X.sqr(), B = Y.sqr(), C = B.sqr();
        F D = ((X + B).sqr() - A - C).dbl();
        F E = A.dbl() + A;
        F Fv = E.sqr();
        Jacobian r;
        r.X = Fv - D.dbl();
        F C8 = C.dbl().dbl().dbl();
        r.Y = E * (D - r.X) - C8;
        r.Z = (Y * Z).dbl();
        return r;
    }

    // add-2007-bl: 11M + 5S.
    Jacobian add(const Jacobian & o) const {
        if (is_inf()) return o;
        if (o.is_inf()) return *this;
        F Z1Z1 = Z.sqr(), Z2Z2 = o.Z.sqr();
        F U1 = X * Z2Z2, U2 = o.X * Z1Z1;
        F S1 = Y * o.Z * Z2Z2, S2 = o.Y * Z * Z1Z1;
        F H = U2 - U1;
        F rr = (S2 - S1).dbl();
        if (H.is_zero()) {
            if (rr.is_zero()) return dbl();
            return infinity();
        }
        F I = H.dbl().sqr();
        F J = H * I;
        F V = U1 * I;
        Jacobian r;
        r.X = rr.sqr() - J - V.dbl();
        r.Y = rr * (V - r.X) - (S1 * J).dbl();
        r.Z = ((Z + o.Z).sqr() - Z1Z1 - Z2Z2) * H;
        return r;
    }

    // madd-2007-bl: 7M + 4S.
    Jacobian add_mixed(const Affine<F> & a) const {
        if (a.is_inf()) return *this;
        if (is_inf()) return from_affine(a);
        F Z1Z1 = Z.sqr();
        F U2 = a.x * Z1Z1;
        F S2 = a.y * Z * Z1Z1;
        F H = U2 - X;
        F rr = (S2 - Y).dbl();
        if (H.is_zero()) {
            if (rr.is_zero()) return dbl();
            return infinity();
        }
        F HH = H.sqr();
        F I = HH.dbl().dbl();
        F J = H * I;
        F V = X * I;
        Jacobian r;
        r.X = rr.sqr() - J - V.dbl();
        r.Y = rr * (V - r.X) - (Y * J).dbl();
        r.Z = (Z + H).sqr() - Z1Z1 - HH;
        return r;
    }

    Affine<F> to_affine() const {
        if (is_inf()) return Affine<F>::infinity();
        F zi = Z.inv(), zi2 = zi.sqr();
        return { X * zi2, Y * zi2 * zi };
    }

    Jacobian mul(const U256 & k) const {
        Jacobian r = infinity();
        for (int i = (int) k.bits() - 1; i >= 0; --i) {
            r = r.dbl();
            if (k.bit((unsigned) i)) r = r.add(*this);
        }
        return r;
    }

    // Same projective point.
    bool operator==(const Jacobian & o) const {
        if (is_inf() || o.is_inf()) return is_inf() && o.is_inf();
        F Z1Z1 = Z.sqr(), Z2Z2 = o.Z.sqr();
        return X * Z2Z2 == o.X * Z1Z1 && Y * o.Z * Z2Z2 == o.Y * Z * Z1Z1;
    }
};

using G1Affine = Affine<Fq>;
using G2Affine = Affine<Fq2>;
using G1Jac = Jacobian<Fq>;
using G2Jac = Jacobian<Fq2>;
static_assert(sizeof(G1Affine) == 64 && sizeof(G2Affine) == 128, "zkey layout");

// Montgomery's batch inversion: n points to affine with one field inversion.
template <class F>
void batch_to_affine(const Jacobian<F> * in, size_t n, Affine<F> * out) {
    std::vector<F> acc(n);
    F run = F::one();
    for (size_t i = 0; i < n; ++i) {
        acc[i] = run;
        if (!in[i].is_inf()) run = run * in[i].Z;
    }
    F inv = run.inv();
    for (size_t i = n; i-- > 0;) {
        if (in[i].is_inf()) { out[i] = Affine<F>::infinity(); continue; }
        F zi = inv * acc[i];
        inv = inv * in[i].Z;
        F zi2 = zi.sqr();
        out[i] = { in[i].X * zi2, in[i].Y * zi2 * zi };
    }
}

inline const Fq & g1_b() { return CurveB<Fq>::b(); }
inline const Fq2 & g2_b() { return CurveB<Fq2>::b(); }

inline G1Affine g1_generator() { return { Fq::from_u64(1), Fq::from_u64(2) }; }

inline G2Affine g2_generator() {
    auto d = [](const char * s) { Fq f; Fq::from_dec(s, f); return f; };
    static const G2Affine g = {
        { d("10857046999023057135944570762232829481370756359578518086990519993285655852781"),
          d("11559732032986387107991004021392285783925812861821192530917403151452391805634") },
        { d("8495653923123431417604973247489272438418190587263600148770280649306958101930"),
          d("4082367875863433681332203403145435568316851327593401208105741076214120093531") },
    };
    return g;
}

} // namespace vm_zk
