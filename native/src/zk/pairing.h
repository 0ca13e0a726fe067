#pragma once

// Optimal ate pairing on BN254 (alt_bn128), as snarkjs, arkworks and
// @noble/curves compute it: e(P, Q) = f_{6x+2,Q}(P) · lines for π(Q), -π²(Q),
// raised to (p^12 - 1)/r through the Fuentes-Castañeda hard part (which
// computes a fixed power of the textbook pairing: still bilinear and
// non-degenerate, and the same value the other libraries return).
//
// Q is prepared once (G2Prepared: the line coefficients of its Miller loop,
// homogeneous projective coordinates, no inversions), so a verification key's
// fixed G2 points can be reused across verifications.

#include <cstddef>
#include <vector>

#include "field.h"
#include "tower.h"

namespace vm_zk {

// One line: evaluated at P = (px, py) it is c0·py + (c1·px) w + c2 v w.
struct LineCoeffs { Fq2 c0, c1, c2; };

struct G2Prepared {
    std::vector<LineCoeffs> lines;
    bool infinity = true;   // Q = O: contributes 1 to any product
};

// G2 twist coefficient b' = 3 / ξ.
const Fq2 & g2_twist_b();

// Q must be an affine point of G2 (caller validates; see groth16_verify.h).
G2Prepared g2_prepare(const Fq2 & qx, const Fq2 & qy);
G2Prepared g2_prepare_infinity();

struct MillerTerm {
    Fq px, py;              // affine G1 point
    bool p_infinity;        // P = O: the term is skipped
    const G2Prepared * q;
};

// Π f_i before the final exponentiation.
Fq12 multi_miller_loop(const MillerTerm * terms, size_t n);
Fq12 final_exponentiation(const Fq12 & f);

// ψ: the untwist-Frobenius-twist endomorphism on affine G2 coordinates.
void g2_psi(const Fq2 & x, const Fq2 & y, Fq2 & ox, Fq2 & oy);

} // namespace vm_zk
