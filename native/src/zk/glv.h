#pragma once

// GLV decomposition on BN254 G1. The curve y² = x³ + 3 over Fq has the
// endomorphism φ(x, y) = (β·x, y), β a primitive cube root of unity in Fq, which
// acts on the order-r group as multiplication by λ (λ² + λ + 1 ≡ 0 mod r). Every
// scalar k < r splits as k ≡ k1 + λ·k2 (mod r) with |k1|, |k2| < 2^128, so
// k·P = k1·P + k2·φ(P): twice the points, half the bits.
// Constants (derived by the extended Euclidean algorithm on (r, λ); the pairing
// of this β with this λ was checked on the generator: λ·(1, 2) = (β, 2)):
//   λ = 0xb3c4d79d41a917585bfc41088d8daaa78b17ea66b99c90dd
//   β = 0x59e26bcea0d48bacd4f263f1acdb5c4f5763473177fffffe
//   lattice basis v1 = (a1, b1), v2 = (a2, b2), a + b·λ ≡ 0 mod r, a1·b2 − a2·b1 = r;
//   g1 = round(b2·2^256 / r), g2 = round(−b1·2^256 / r) (both ≥ 0).
// Decomposition: c1 = ⌊k·g1 / 2^256⌋, c2 = ⌊k·g2 / 2^256⌋,
//   k1 = k − c1·a1 − c2·a2, k2 = −c1·b1 − c2·b2, computed mod 2^256 (they are
//   small signed numbers) and returned as sign + magnitude. k1 + λ·k2 ≡ k holds
//   for any c1, c2 (v1, v2 lie in the lattice); the rounding only keeps them short.

#include <cstdint>

#include "field.h"

namespace vm_zk {
namespace glv {

constexpr unsigned BITS = 128;   // |k1|, |k2| < 2^128 (127 bits observed; checked at run time)

constexpr u64 LAMBDA[4] = { 0x8b17ea66b99c90ddULL, 0x5bfc41088d8daaa7ULL, 0xb3c4d79d41a91758ULL, 0 };
constexpr u64 BETA[4]   = { 0x5763473177fffffeULL, 0xd4f263f1acdb5c4fULL, 0x59e26bcea0d48bacULL, 0 };
// Two's complement mod 2^256.
constexpr u64 A1[4] = { 0x89d3256894d213e3ULL, 0, 0, 0 };
constexpr u64 B1[4] = { 0x7dee441482b0eed8ULL, 0x90b27db71147a603ULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL };
constexpr u64 A2[4] = { 0x0be4e1541221250bULL, 0x6f4d8248eeb859fdULL, 0, 0 };
constexpr u64 B2[4] = { 0x89d3256894d213e3ULL, 0, 0, 0 };
constexpr u64 G1[4] = { 0xd91d232ec7e0b3d7ULL, 0x0000000000000002ULL, 0, 0 };
constexpr u64 G2[4] = { 0x7a7bd9d4391eb18eULL, 0x4ccef014a773d2cfULL, 0x0000000000000002ULL, 0 };

// β in Montgomery form.
inline const Fq & beta() {
    static const Fq b = Fq::to_mont(U256{ { BETA[0], BETA[1], BETA[2], BETA[3] } });
    return b;
}

namespace detail_glv {
using u128 = unsigned __int128;
// r = a·b mod 2^256.
inline void mul_lo(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 t[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 4; ++i) {
        u64 carry = 0;
        for (int j = 0; i + j < 4; ++j) {
            u128 p = (u128) a[i] * b[j] + t[i + j] + carry;
            t[i + j] = (u64) p; carry = (u64) (p >> 64);
        }
    }
    for (int i = 0; i < 4; ++i) r[i] = t[i];
}
// r = ⌊a·b / 2^256⌋ (low 4 limbs of the high half).
inline void mul_hi(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 t[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    for (int i = 0; i < 4; ++i) {
        u64 carry = 0;
        for (int j = 0; j < 4; ++j) {
            u128 p = (u128) a[i] * b[j] + t[i + j] + carry;
            t[i + j] = (u64) p; carry = (u64) (p >> 64);
        }
        t[i + 4] = carry;
    }
    for (int i = 0; i < 4; ++i) r[i] = t[i + 4];
}
inline void sub(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 borrow = 0;
    for (int i = 0; i < 4; ++i) {
        u128 d = (u128) a[i] - b[i] - borrow;
        r[i] = (u64) d; borrow = (u64) (d >> 64) & 1;
    }
}
// Sign + magnitude of a two's complement 256-bit value.
inline bool to_sign_mag(u64 v[4]) {
    if (!(v[3] >> 63)) return false;
    const u64 zero[4] = { 0, 0, 0, 0 };
    u64 m[4];
    sub(m, zero, v);
    for (int i = 0; i < 4; ++i) v[i] = m[i];
    return true;
}
} // namespace detail_glv

// k (standard form, < r) -> k ≡ (neg1 ? −k1 : k1) + λ·(neg2 ? −k2 : k2) (mod r).
inline void decompose(const U256 & k, U256 & k1, bool & neg1, U256 & k2, bool & neg2) {
    using namespace detail_glv;
    u64 c1[4], c2[4], t[4], u[4];
    mul_hi(c1, k.v, G1);
    mul_hi(c2, k.v, G2);
    mul_lo(t, c1, A1); sub(u, k.v, t);
    mul_lo(t, c2, A2); sub(k1.v, u, t);
    const u64 zero[4] = { 0, 0, 0, 0 };
    mul_lo(t, c1, B1); sub(u, zero, t);
    mul_lo(t, c2, B2); sub(k2.v, u, t);
    neg1 = to_sign_mag(k1.v);
    neg2 = to_sign_mag(k2.v);
}

// True when v < 2^BITS.
inline bool fits(const U256 & v) { return (v.v[2] | v.v[3]) == 0; }

} // namespace glv
} // namespace vm_zk
