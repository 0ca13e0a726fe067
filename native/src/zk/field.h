#pragma once

// Prime fields of BN254 (alt_bn128, snarkjs's "bn128") for the Groth16 prover.
//
// API (namespace vm_zk; stable: add, don't rename)
//   Fq, Fr            Fp<FqParams>, Fp<FrParams>: base field and scalar field.
//   U256              a plain 256-bit integer in standard form (scalars for MSM).
//   Fp<P> layout      `uint64_t v[4]`, little-endian limbs, Montgomery form with
//                     R = 2^256: byte-identical to the coordinates in a snarkjs
//                     .zkey, so points may be memcpy'd from the file.
//   Fp::zero(), one(), from_u64(x), from_mont_raw(limbs) (already Montgomery),
//   to_mont(U256) / from_mont() -> U256 (standard form),
//   from_bytes_le(32 bytes std form, out) -> false if >= modulus, to_bytes_le(out),
//   from_dec(string, out) -> false on bad input, to_dec(),
//   a + b, a - b, -a, a * b, sqr(), inv() (0 -> 0), pow(U256), ==, !=, is_zero(),
//   dbl(), static mul/add/sub into out-params for hot loops.
//   Fq2               c0 + c1·u with u^2 = -1: + - * sqr inv conj neg mul_by_xi
//                     (ξ = 9 + u), mul_by_fq, ==, is_zero.
//
// Arithmetic: CIOS Montgomery multiplication on unsigned __int128 (portable
// baseline). Both moduli have a top limb below 2^62, so sums of two reduced
// values never carry out of 256 bits and CIOS needs only 5 words of state.
// Not constant-time: the prover's inputs (witness, randomness) are secret in a
// real deployment, but this prover targets verifiable computation where the
// witness is public to the verifier anyway; do not reuse it for secret keys.

#include <cstdint>
#include <cstring>
#include <string>

namespace vm_zk {

using u64  = uint64_t;
using u128 = unsigned __int128;

struct U256 {
    u64 v[4];
    bool is_zero() const { return (v[0] | v[1] | v[2] | v[3]) == 0; }
    bool bit(unsigned i) const { return (v[i >> 6] >> (i & 63)) & 1; }
    unsigned bits() const {   // index of the highest set bit + 1 (0 for zero)
        for (int i = 3; i >= 0; --i) {
            if (v[i]) return (unsigned) (64 * i + 64 - __builtin_clzll(v[i]));
        }
        return 0;
    }
};

namespace detail {

// a >= b as 256-bit integers.
inline bool geq(const u64 a[4], const u64 b[4]) {
    for (int i = 3; i >= 0; --i) {
        if (a[i] != b[i]) return a[i] > b[i];
    }
    return true;
}

// r = a - b, returns the borrow.
inline u64 sub4(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 borrow = 0;
    for (int i = 0; i < 4; ++i) {
        u128 d = (u128) a[i] - b[i] - borrow;
        r[i] = (u64) d;
        borrow = (u64) (d >> 64) & 1;
    }
    return borrow;
}

// r = a + b, returns the carry.
inline u64 add4(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 carry = 0;
    for (int i = 0; i < 4; ++i) {
        u128 s = (u128) a[i] + b[i] + carry;
        r[i] = (u64) s;
        carry = (u64) (s >> 64);
    }
    return carry;
}

} // namespace detail

// p = 21888242871839275222246405745257275088696311157297823662689037894645226208583
struct FqParams {
    static constexpr u64 MOD[4] = { 0x3c208c16d87cfd47ULL, 0x97816a916871ca8dULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL };
    static constexpr u64 ONE[4] = { 0xd35d438dc58f0d9dULL, 0x0a78eb28f5c70b3dULL, 0x666ea36f7879462cULL, 0x0e0a77c19a07df2fULL };  // R mod p
    static constexpr u64 R2[4]  = { 0xf32cfc5b538afa89ULL, 0xb5e71911d44501fbULL, 0x47ab1eff0a417ff6ULL, 0x06d89f71cab8351fULL };  // R^2 mod p
    static constexpr u64 INV    = 0x87d20782e4866389ULL;   // -p^-1 mod 2^64
    static constexpr const char * NAME = "Fq";
};

// r = 21888242871839275222246405745257275088548364400416034343698204186575808495617
struct FrParams {
    static constexpr u64 MOD[4] = { 0x43e1f593f0000001ULL, 0x2833e84879b97091ULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL };
    static constexpr u64 ONE[4] = { 0xac96341c4ffffffbULL, 0x36fc76959f60cd29ULL, 0x666ea36f7879462eULL, 0x0e0a77c19a07df2fULL };
    static constexpr u64 R2[4]  = { 0x1bb8e645ae216da7ULL, 0x53fe3ab1e35c59e3ULL, 0x8c49833d53bb8085ULL, 0x0216d0b17f4e44a5ULL };
    static constexpr u64 INV    = 0xc2e1f593efffffffULL;
    static constexpr const char * NAME = "Fr";
};

template <class P>
struct Fp {
    u64 v[4];

    static Fp zero() { Fp r; r.v[0] = r.v[1] = r.v[2] = r.v[3] = 0; return r; }
    static Fp one()  { Fp r; std::memcpy(r.v, P::ONE, 32); return r; }
    static Fp from_mont_raw(const u64 limbs[4]) { Fp r; std::memcpy(r.v, limbs, 32); return r; }
    static const u64 * modulus() { return P::MOD; }

    bool is_zero() const { return (v[0] | v[1] | v[2] | v[3]) == 0; }
    bool operator==(const Fp & o) const { return v[0] == o.v[0] && v[1] == o.v[1] && v[2] == o.v[2] && v[3] == o.v[3]; }
    bool operator!=(const Fp & o) const { return !(*this == o); }

    // out = a * b * R^-1 mod p (CIOS; see the header comment for why 5 words suffice).
    static inline void mul(Fp & out, const Fp & a, const Fp & b) {
        u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
        for (int i = 0; i < 4; ++i) {
            const u64 bi = b.v[i];
            u128 acc;
            acc = (u128) a.v[0] * bi + t0;                     t0 = (u64) acc;
            acc = (u128) a.v[1] * bi + t1 + (u64) (acc >> 64); t1 = (u64) acc;
            acc = (u128) a.v[2] * bi + t2 + (u64) (acc >> 64); t2 = (u64) acc;
            acc = (u128) a.v[3] * bi + t3 + (u64) (acc >> 64); t3 = (u64) acc;
            t4 = (u64) (acc >> 64);
            const u64 m = t0 * P::INV;
            acc = (u128) m * P::MOD[0] + t0;
            acc = (u128) m * P::MOD[1] + t1 + (u64) (acc >> 64); t0 = (u64) acc;
            acc = (u128) m * P::MOD[2] + t2 + (u64) (acc >> 64); t1 = (u64) acc;
            acc = (u128) m * P::MOD[3] + t3 + (u64) (acc >> 64); t2 = (u64) acc;
            t3 = t4 + (u64) (acc >> 64);
        }
        u64 r[4] = { t0, t1, t2, t3 };
        u64 s[4];
        if (!detail::sub4(s, r, P::MOD)) std::memcpy(r, s, 32);
        std::memcpy(out.v, r, 32);
    }

    static inline void add(Fp & out, const Fp & a, const Fp & b) {
        u64 r[4], s[4];
        detail::add4(r, a.v, b.v);   // < 2p < 2^255: no carry out
        if (!detail::sub4(s, r, P::MOD)) std::memcpy(r, s, 32);
        std::memcpy(out.v, r, 32);
    }

    static inline void sub(Fp & out, const Fp & a, const Fp & b) {
        u64 r[4];
        if (detail::sub4(r, a.v, b.v)) detail::add4(r, r, P::MOD);
        std::memcpy(out.v, r, 32);
    }

    Fp operator+(const Fp & o) const { Fp r; add(r, *this, o); return r; }
    Fp operator-(const Fp & o) const { Fp r; sub(r, *this, o); return r; }
    Fp operator*(const Fp & o) const { Fp r; mul(r, *this, o); return r; }
    Fp & operator+=(const Fp & o) { add(*this, *this, o); return *this; }
    Fp & operator-=(const Fp & o) { sub(*this, *this, o); return *this; }
    Fp & operator*=(const Fp & o) { mul(*this, *this, o); return *this; }
    Fp operator-() const {
        if (is_zero()) return *this;
        Fp r; detail::sub4(r.v, P::MOD, v); return r;
    }
    Fp sqr() const { Fp r; mul(r, *this, *this); return r; }
    Fp dbl() const { Fp r; add(r, *this, *this); return r; }

    // Montgomery form <-> standard form.
    static Fp to_mont(const U256 & x) {   // x < modulus expected (reduced if not)
        Fp a; std::memcpy(a.v, x.v, 32);
        while (detail::geq(a.v, P::MOD)) detail::sub4(a.v, a.v, P::MOD);
        Fp r2 = from_mont_raw(P::R2);
        return a * r2;
    }
    U256 from_mont() const {
        Fp one_std = zero(); one_std.v[0] = 1;
        Fp r = *this * one_std;
        U256 out; std::memcpy(out.v, r.v, 32); return out;
    }
    static Fp from_u64(u64 x) { U256 u = { { x, 0, 0, 0 } }; return to_mont(u); }

    Fp pow(const U256 & e) const {
        Fp r = one();
        for (int i = (int) e.bits() - 1; i >= 0; --i) {
            r = r.sqr();
            if (e.bit((unsigned) i)) r *= *this;
        }
        return r;
    }
    // Fermat: a^(p-2). Public data only (not constant-time). inv(0) = 0.
    Fp inv() const {
        U256 e; std::memcpy(e.v, P::MOD, 32);
        e.v[0] -= 2;   // the low limbs of both moduli are > 2
        return pow(e);
    }

    // 32 bytes little-endian, standard form (.wtns, .r1cs and test vectors).
    static bool from_bytes_le(const uint8_t * b, Fp & out) {
        U256 x;
        for (int i = 0; i < 4; ++i) {
            u64 w = 0;
            for (int j = 7; j >= 0; --j) w = (w << 8) | b[8 * i + j];
            x.v[i] = w;
        }
        if (detail::geq(x.v, P::MOD)) return false;
        out = to_mont(x);
        return true;
    }
    void to_bytes_le(uint8_t * b) const {
        U256 x = from_mont();
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 8; ++j) b[8 * i + j] = (uint8_t) (x.v[i] >> (8 * j));
        }
    }

    // Decimal strings (snarkjs JSON). Rejects empty strings, non-digits and values >= modulus.
    static bool dec_to_u256(const std::string & s, U256 & x) {
        x = U256{ { 0, 0, 0, 0 } };
        if (s.empty() || s.size() > 80) return false;
        for (char c : s) {
            if (c < '0' || c > '9') return false;
            u64 carry = (u64) (c - '0');
            for (int i = 0; i < 4; ++i) {
                u128 t = (u128) x.v[i] * 10 + carry;
                x.v[i] = (u64) t;
                carry = (u64) (t >> 64);
            }
            if (carry) return false;
        }
        return true;
    }
    static bool from_dec(const std::string & s, Fp & out) {
        U256 x;
        if (!dec_to_u256(s, x) || detail::geq(x.v, P::MOD)) return false;
        out = to_mont(x);
        return true;
    }
    static std::string u256_to_dec(U256 x) {
        if (x.is_zero()) return "0";
        std::string out;
        const u64 base = 10000000000000000000ULL;   // 10^19
        while (!x.is_zero()) {
            u64 rem = 0;
            for (int i = 3; i >= 0; --i) {
                u128 cur = ((u128) rem << 64) | x.v[i];
                x.v[i] = (u64) (cur / base);
                rem = (u64) (cur % base);
            }
            char buf[20];
            for (int k = 0; k < 19; ++k) { buf[18 - k] = (char) ('0' + rem % 10); rem /= 10; }
            out.insert(0, buf, 19);
        }
        size_t nz = out.find_first_not_of('0');
        return out.substr(nz);
    }
    std::string to_dec() const { return u256_to_dec(from_mont()); }
};

using Fq = Fp<FqParams>;
using Fr = Fp<FrParams>;

// Fq2 = Fq[u] / (u^2 + 1). Layout c0, c1 (64 bytes): the order of a zkey G2 coordinate.
struct Fq2 {
    Fq c0, c1;

    static Fq2 zero() { return { Fq::zero(), Fq::zero() }; }
    static Fq2 one()  { return { Fq::one(), Fq::zero() }; }
    static Fq2 from_u64(u64 x) { return { Fq::from_u64(x), Fq::zero() }; }
    bool is_zero() const { return c0.is_zero() && c1.is_zero(); }
    bool operator==(const Fq2 & o) const { return c0 == o.c0 && c1 == o.c1; }
    bool operator!=(const Fq2 & o) const { return !(*this == o); }

    Fq2 operator+(const Fq2 & o) const { return { c0 + o.c0, c1 + o.c1 }; }
    Fq2 operator-(const Fq2 & o) const { return { c0 - o.c0, c1 - o.c1 }; }
    Fq2 operator-() const { return { -c0, -c1 }; }
    Fq2 & operator+=(const Fq2 & o) { *this = *this + o; return *this; }
    Fq2 & operator-=(const Fq2 & o) { *this = *this - o; return *this; }
    Fq2 & operator*=(const Fq2 & o) { *this = *this * o; return *this; }
    Fq2 dbl() const { return { c0.dbl(), c1.dbl() }; }
    Fq2 conj() const { return { c0, -c1 }; }

    // Karatsuba: 3 base multiplications.
    Fq2 operator*(const Fq2 & o) const {
        Fq t0 = c0 * o.c0, t1 = c1 * o.c1;
        Fq m = (c0 + c1) * (o.c0 + o.c1);
        return { t0 - t1, m - t0 - t1 };
    }
    Fq2 sqr() const {
        // (c0 + c1 u)^2 = (c0 + c1)(c0 - c1) + 2 c0 c1 u
        Fq m = c0 * c1;
        return { (c0 + c1) * (c0 - c1), m.dbl() };
    }
    Fq2 mul_by_fq(const Fq & s) const { return { c0 * s, c1 * s }; }
    // (9 + u)(c0 + c1 u) = (9 c0 - c1) + (c0 + 9 c1) u
    Fq2 mul_by_xi() const {
        Fq c0x8 = c0.dbl().dbl().dbl(), c1x8 = c1.dbl().dbl().dbl();
        return { c0x8 + c0 - c1, c1x8 + c1 + c0 };
    }
    // 1 / (c0 + c1 u) = (c0 - c1 u) / (c0^2 + c1^2); inv(0) = 0.
    Fq2 inv() const {
        Fq n = (c0.sqr() + c1.sqr()).inv();
        return { c0 * n, -(c1 * n) };
    }
    Fq2 pow(const U256 & e) const {
        Fq2 r = one();
        for (int i = (int) e.bits() - 1; i >= 0; --i) {
            r = r.sqr();
            if (e.bit((unsigned) i)) r = r * *this;
        }
        return r;
    }
};

static_assert(sizeof(Fq) == 32 && sizeof(Fr) == 32 && sizeof(Fq2) == 64, "zkey layout");

} // namespace vm_zk
