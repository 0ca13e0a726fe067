// Optimal ate pairing on BN254: see pairing.h. The structure follows arkworks'
// `Bn<P>` (projective Miller loop with D-type twist lines, NAF of 6x+2, the
// two Frobenius lines, Fuentes-Castañeda hard part), which is also what
// @noble/curves computes, so the values agree and can be tested against it.

#include "pairing.h"

#include <cstring>

namespace vm_zk {

namespace {

// BN parameter x (positive for BN254).
constexpr u64 BN_X = 4965661367192848881ULL;

// U256 / small divisor (the divisor divides exactly where used).
U256 div_small(const U256 & a, u64 d) {
    U256 q;
    u128 rem = 0;
    for (int i = 3; i >= 0; --i) {
        const u128 cur = (rem << 64) | a.v[i];
        q.v[i] = (u64) (cur / d);
        rem = cur % d;
    }
    return q;
}

U256 p_minus_1() {
    U256 p;
    std::memcpy(p.v, FqParams::MOD, 32);
    p.v[0] -= 1;
    return p;
}

Fq2 xi() { return { Fq::from_u64(9), Fq::one() }; }

struct Constants {
    FrobeniusConstants frob;
    Fq2 twist_b;
    Fq2 psi_x, psi_y;        // ξ^((p-1)/3), ξ^((p-1)/2)
    Fq2 two_inv;             // 1/2 in Fq2
    std::vector<int> naf;    // NAF of 6x+2, least significant digit first

    Constants() {
        const Fq2 g1 = xi().pow(div_small(p_minus_1(), 6));
        const Fq2 g2 = g1 * g1.conj();
        const Fq2 g3 = g2 * g1;
        const Fq2 base[4] = { Fq2::one(), g1, g2, g3 };
        for (int k = 0; k < 4; ++k) {
            Fq2 acc = Fq2::one();
            for (int j = 0; j < 6; ++j) { frob.g[k][j] = acc; acc = acc * base[k]; }
        }
        twist_b = Fq2::from_u64(3) * xi().inv();
        psi_x = g1 * g1;
        psi_y = psi_x * g1;
        two_inv = Fq2::from_u64(2).inv();
        u128 n = (u128) BN_X * 6 + 2;
        while (n != 0) {
            int d = 0;
            if (n & 1) {
                d = 2 - (int) (n & 3);    // +1 or -1
                n = d > 0 ? n - 1 : n + 1;
            }
            naf.push_back(d);
            n >>= 1;
        }
    }
};

const Constants & constants() {
    static const Constants c;   // thread-safe initialisation (C++11 magic statics)
    return c;
}

// Homogeneous projective point on the twist, for the Miller loop.
struct G2Proj { Fq2 x, y, z; };

LineCoeffs doubling_step(G2Proj & r) {
    const Constants & k = constants();
    const Fq2 a = (r.x * r.y) * k.two_inv;
    const Fq2 b = r.y.sqr();
    const Fq2 c = r.z.sqr();
    const Fq2 e = k.twist_b * (c.dbl() + c);
    const Fq2 f = e.dbl() + e;
    const Fq2 g = (b + f) * k.two_inv;
    const Fq2 h = (r.y + r.z).sqr() - (b + c);
    const Fq2 i = e - b;
    const Fq2 j = r.x.sqr();
    const Fq2 e2 = e.sqr();
    r.x = a * (b - f);
    r.y = g.sqr() - (e2.dbl() + e2);
    r.z = b * h;
    return { -h, j.dbl() + j, i };
}

LineCoeffs addition_step(G2Proj & r, const Fq2 & qx, const Fq2 & qy) {
    const Fq2 theta = r.y - qy * r.z;
    const Fq2 lambda = r.x - qx * r.z;
    const Fq2 c = theta.sqr();
    const Fq2 d = lambda.sqr();
    const Fq2 e = lambda * d;
    const Fq2 f = r.z * c;
    const Fq2 g = r.x * d;
    const Fq2 h = e + f - g.dbl();
    r.x = lambda * h;
    r.y = theta * (g - h) - e * r.y;
    r.z = r.z * e;
    const Fq2 j = theta * qx - lambda * qy;
    return { lambda, -theta, j };
}

inline void ell(Fq12 & f, const LineCoeffs & l, const Fq & px, const Fq & py) {
    f = f.mul_by_034(l.c0.mul_by_fq(py), l.c1.mul_by_fq(px), l.c2);
}

// f · Π_t line_t(P_t) for the live terms at one step: lines multiplied in pairs
// first (6 + 17 Fq2 multiplications per pair instead of 2 × 13).
inline void ell_all(Fq12 & f, const std::vector<const MillerTerm *> & live, size_t idx) {
    size_t t = 0;
    for (; t + 1 < live.size(); t += 2) {
        const LineCoeffs & a = live[t]->q->lines[idx];
        const LineCoeffs & b = live[t + 1]->q->lines[idx];
        const Fq12 l = Fq12::line_product(a.c0.mul_by_fq(live[t]->py), a.c1.mul_by_fq(live[t]->px), a.c2,
                                          b.c0.mul_by_fq(live[t + 1]->py), b.c1.mul_by_fq(live[t + 1]->px), b.c2);
        f = f.mul_by_line_product(l);
    }
    if (t < live.size()) ell(f, live[t]->q->lines[idx], live[t]->px, live[t]->py);
}

// f^x by an addition chain for x = 0x44e992b44a6909f1 (the one @noble/curves
// uses): the same 62 cyclotomic squarings as square-and-multiply, a third fewer
// multiplications.
Fq12 exp_by_x(const Fq12 & f) {
    auto sqr_n = [](Fq12 v, int n) { for (int i = 0; i < n; ++i) v = v.cyclotomic_sqr(); return v; };
    const Fq12 x10 = f.cyclotomic_sqr();
    const Fq12 x100 = x10.cyclotomic_sqr();
    const Fq12 x1000 = x100.cyclotomic_sqr();
    const Fq12 x10000 = x1000.cyclotomic_sqr();
    const Fq12 x10001 = x10000 * f;
    const Fq12 x10011 = x10001 * x10;
    const Fq12 x10100 = x10011 * f;
    const Fq12 x11001 = x1000 * x10001;
    const Fq12 x100010 = x10001.cyclotomic_sqr();
    const Fq12 x100111 = x10011 * x10100;
    const Fq12 x101001 = x10 * x100111;
    Fq12 r = sqr_n(x100010, 6) * x100 * x11001;
    r = sqr_n(r, 7) * x11001;
    r = sqr_n(r, 8) * x101001 * x10;
    r = sqr_n(r, 6) * x10001;
    r = sqr_n(r, 8) * x101001;
    r = sqr_n(r, 6) * x101001;
    r = sqr_n(r, 10) * x100111;
    r = sqr_n(r, 6) * x101001 * x1000;
    return r;
}

// f^(-x) in the cyclotomic subgroup.
inline Fq12 exp_by_neg_x(const Fq12 & f) { return exp_by_x(f).conj(); }

} // namespace

const FrobeniusConstants & frobenius_constants() { return constants().frob; }
const Fq2 & g2_twist_b() { return constants().twist_b; }

void g2_psi(const Fq2 & x, const Fq2 & y, Fq2 & ox, Fq2 & oy) {
    const Constants & k = constants();
    ox = x.conj() * k.psi_x;
    oy = y.conj() * k.psi_y;
}

G2Prepared g2_prepare_infinity() { return G2Prepared{}; }

G2Prepared g2_prepare(const Fq2 & qx, const Fq2 & qy) {
    const Constants & k = constants();
    G2Prepared out;
    out.infinity = false;
    out.lines.reserve(2 * k.naf.size() + 2);
    G2Proj r = { qx, qy, Fq2::one() };
    const Fq2 neg_qy = -qy;
    for (int i = (int) k.naf.size() - 2; i >= 0; --i) {
        out.lines.push_back(doubling_step(r));
        if (k.naf[i] == 1) out.lines.push_back(addition_step(r, qx, qy));
        else if (k.naf[i] == -1) out.lines.push_back(addition_step(r, qx, neg_qy));
    }
    Fq2 q1x, q1y, q2x, q2y;
    g2_psi(qx, qy, q1x, q1y);
    g2_psi(q1x, q1y, q2x, q2y);
    out.lines.push_back(addition_step(r, q1x, q1y));
    out.lines.push_back(addition_step(r, q2x, -q2y));
    return out;
}

Fq12 multi_miller_loop(const MillerTerm * terms, size_t n) {
    const Constants & k = constants();
    std::vector<const MillerTerm *> live;
    for (size_t t = 0; t < n; ++t) {
        if (!terms[t].p_infinity && !terms[t].q->infinity) live.push_back(&terms[t]);
    }
    Fq12 f = Fq12::one();
    if (live.empty()) return f;
    size_t idx = 0;   // the same position in every term's line list
    const int top = (int) k.naf.size() - 1;
    for (int i = top; i >= 1; --i) {
        if (i != top) f = f.sqr();
        ell_all(f, live, idx++);
        if (k.naf[i - 1] != 0) ell_all(f, live, idx++);
    }
    ell_all(f, live, idx++);
    ell_all(f, live, idx++);
    return f;
}

Fq12 final_exponentiation(const Fq12 & value) {
    // Easy part: value^((p^6 - 1)(p^2 + 1)).
    Fq12 r = value.conj() * value.inv();
    r = frobenius(r, 2) * r;
    // Hard part (Fuentes-Castañeda et al., "Faster hashing to G2"; arkworks' chain).
    const Fq12 y0 = exp_by_neg_x(r);
    const Fq12 y1 = y0.cyclotomic_sqr();
    const Fq12 y2 = y1.cyclotomic_sqr();
    Fq12 y3 = y2 * y1;
    const Fq12 y4 = exp_by_neg_x(y3);
    const Fq12 y5 = y4.cyclotomic_sqr();
    Fq12 y6 = exp_by_neg_x(y5);
    y3 = y3.conj();
    y6 = y6.conj();
    const Fq12 y7 = y6 * y4;
    Fq12 y8 = y7 * y3;
    const Fq12 y9 = y8 * y1;
    const Fq12 y10 = y8 * y4;
    const Fq12 y11 = y10 * r;
    const Fq12 y13 = frobenius(y9, 1) * y11;
    y8 = frobenius(y8, 2);
    const Fq12 y14 = y8 * y13;
    const Fq12 y15 = frobenius(r.conj() * y9, 3);
    return y15 * y14;
}

} // namespace vm_zk
