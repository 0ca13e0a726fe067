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
// Kernels: mul_kernel() names the Montgomery multiplication in use: "adx"
// (mulx/adcx/adox inline assembly, x86-64 CPUs with BMI2 and ADX, picked at load
// time with __builtin_cpu_supports) or "int128" (portable). set_mul_kernel()
// switches it (tests compare the two); both give identical results, so the
// switch is safe at any time. The check is one predictable branch per mul; the
// assembly needs no -m flags, so the addon's baseline stays x86-64-v2.
//
// Arithmetic: CIOS Montgomery multiplication on unsigned __int128 (portable
// baseline). Both moduli have a top limb below 2^62, so sums of two reduced
// values never carry out of 256 bits and CIOS needs only 5 words of state.
// Not constant-time: the prover's inputs (witness, randomness) are secret in a
// real deployment, but this prover targets verifiable computation where the
// witness is public to the verifier anyway; do not reuse it for secret keys.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VM_ZK_ADX_ASM 1
#else
#define VM_ZK_ADX_ASM 0
#endif

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

// r = r >= m ? r - m : r, without a data-dependent branch (the condition is a
// coin flip for random field elements, so a branch would mispredict half the time).
// On x86-64 these are sub/sbb + cmov in inline assembly (baseline instructions,
// no dispatch needed): GCC otherwise vectorises the select through the stack,
// and the store-forwarding stall cost more than the multiplication itself.
inline void reduce_once(u64 r[4], const u64 m[4]) {
#if VM_ZK_ADX_ASM
    u64 t0, t1, t2, t3;
    __asm__(
        "movq %[r0], %[t0]\n\t" "subq %[m0], %[t0]\n\t"
        "movq %[r1], %[t1]\n\t" "sbbq %[m1], %[t1]\n\t"
        "movq %[r2], %[t2]\n\t" "sbbq %[m2], %[t2]\n\t"
        "movq %[r3], %[t3]\n\t" "sbbq %[m3], %[t3]\n\t"
        "cmovncq %[t0], %[r0]\n\t" "cmovncq %[t1], %[r1]\n\t"
        "cmovncq %[t2], %[r2]\n\t" "cmovncq %[t3], %[r3]\n\t"
        : [r0] "+r" (r[0]), [r1] "+r" (r[1]), [r2] "+r" (r[2]), [r3] "+r" (r[3]),
          [t0] "=&r" (t0), [t1] "=&r" (t1), [t2] "=&r" (t2), [t3] "=&r" (t3)
        : [m0] "m" (m[0]), [m1] "m" (m[1]), [m2] "m" (m[2]), [m3] "m" (m[3])
        : "cc");
#else
    u64 s[4];
    const u64 borrow = sub4(s, r, m);
    const u64 keep = (u64) 0 - borrow;   // all ones: r < m, keep r
    for (int i = 0; i < 4; ++i) r[i] = (r[i] & keep) | (s[i] & ~keep);
#endif
}

// r = a + b mod m for a, b < m < 2^255.
inline void add_mod(u64 r[4], const u64 a[4], const u64 b[4], const u64 m[4]) {
#if VM_ZK_ADX_ASM
    u64 r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], t0, t1, t2, t3;
    __asm__(
        "addq %[b0], %[r0]\n\t" "adcq %[b1], %[r1]\n\t" "adcq %[b2], %[r2]\n\t" "adcq %[b3], %[r3]\n\t"
        "movq %[r0], %[t0]\n\t" "subq %[m0], %[t0]\n\t"
        "movq %[r1], %[t1]\n\t" "sbbq %[m1], %[t1]\n\t"
        "movq %[r2], %[t2]\n\t" "sbbq %[m2], %[t2]\n\t"
        "movq %[r3], %[t3]\n\t" "sbbq %[m3], %[t3]\n\t"
        "cmovncq %[t0], %[r0]\n\t" "cmovncq %[t1], %[r1]\n\t"
        "cmovncq %[t2], %[r2]\n\t" "cmovncq %[t3], %[r3]\n\t"
        : [r0] "+&r" (r0), [r1] "+&r" (r1), [r2] "+&r" (r2), [r3] "+&r" (r3),
          [t0] "=&r" (t0), [t1] "=&r" (t1), [t2] "=&r" (t2), [t3] "=&r" (t3)
        : [b0] "m" (b[0]), [b1] "m" (b[1]), [b2] "m" (b[2]), [b3] "m" (b[3]),
          [m0] "m" (m[0]), [m1] "m" (m[1]), [m2] "m" (m[2]), [m3] "m" (m[3])
        : "cc");
    r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3;
#else
    add4(r, a, b);   // < 2m < 2^256: no carry out
    reduce_once(r, m);
#endif
}

// r = a - b mod m for a, b < m, branch-free.
inline void sub_mod(u64 r[4], const u64 a[4], const u64 b[4], const u64 m[4]) {
#if VM_ZK_ADX_ASM
    u64 r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], t0, t1, t2, t3;
    __asm__(
        "subq %[b0], %[r0]\n\t" "sbbq %[b1], %[r1]\n\t" "sbbq %[b2], %[r2]\n\t" "sbbq %[b3], %[r3]\n\t"
        "sbbq %[t0], %[t0]\n\t"                      // all ones on borrow
        "movq %[t0], %[t1]\n\t" "movq %[t0], %[t2]\n\t" "movq %[t0], %[t3]\n\t"
        "andq %[m0], %[t0]\n\t" "andq %[m1], %[t1]\n\t" "andq %[m2], %[t2]\n\t" "andq %[m3], %[t3]\n\t"
        "addq %[t0], %[r0]\n\t" "adcq %[t1], %[r1]\n\t" "adcq %[t2], %[r2]\n\t" "adcq %[t3], %[r3]\n\t"
        : [r0] "+&r" (r0), [r1] "+&r" (r1), [r2] "+&r" (r2), [r3] "+&r" (r3),
          [t0] "=&r" (t0), [t1] "=&r" (t1), [t2] "=&r" (t2), [t3] "=&r" (t3)
        : [b0] "m" (b[0]), [b1] "m" (b[1]), [b2] "m" (b[2]), [b3] "m" (b[3]),
          [m0] "m" (m[0]), [m1] "m" (m[1]), [m2] "m" (m[2]), [m3] "m" (m[3])
        : "cc");
    r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3;
#else
    const u64 borrow = sub4(r, a, b);
    const u64 mask = (u64) 0 - borrow;
    u64 mm[4] = { m[0] & mask, m[1] & mask, m[2] & mask, m[3] & mask };
    add4(r, r, mm);
#endif
}

// The Montgomery kernel switch (see the header comment).
inline bool cpu_has_adx() {
#if VM_ZK_ADX_ASM
    __builtin_cpu_init();
    return __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("adx");
#else
    return false;
#endif
}
inline std::atomic<bool> g_use_adx{ cpu_has_adx() };

} // namespace detail

inline const char * mul_kernel() { return detail::g_use_adx.load(std::memory_order_relaxed) ? "adx" : "int128"; }
// "adx" or "int128"; false if this CPU cannot run the requested kernel.
inline bool set_mul_kernel(const std::string & name) {
    if (name == "int128") { detail::g_use_adx.store(false); return true; }
    if (name == "adx" && detail::cpu_has_adx()) { detail::g_use_adx.store(true); return true; }
    return false;
}

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

#if VM_ZK_ADX_ASM
    // CIOS with two carry chains (adcx: CF, adox: OF) over mulx products. Words
    // rotate through r0..r4; the result lands in r4, r0, r1, r2.
    static inline void mul_adx(Fp & out, const Fp & a, const Fp & b) {
        u64 r0, r1, r2, r3, r4, lo, hi;
        __asm__(
        "movq %[b0], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[a0], %[r0], %[r1]\n\t"
        "mulxq %[a1], %[lo], %[r2]\n\t"
        "adcxq %[lo], %[r1]\n\t"
        "mulxq %[a2], %[lo], %[r3]\n\t"
        "adcxq %[lo], %[r2]\n\t"
        "mulxq %[a3], %[lo], %[r4]\n\t"
        "adcxq %[lo], %[r3]\n\t"
        "adcxq %%rax, %[r4]\n\t"
        "movq %[r0], %%rdx\n\t"
        "imulq %[inv], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[p0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r0]\n\t"
        "adcxq %[hi], %[r1]\n\t"
        "mulxq %[p1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r1]\n\t"
        "adcxq %[hi], %[r2]\n\t"
        "mulxq %[p2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r2]\n\t"
        "adcxq %[hi], %[r3]\n\t"
        "mulxq %[p3], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "adoxq %%rax, %[r4]\n\t"
        "movq %[b1], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[a0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r1]\n\t"
        "adcxq %[hi], %[r2]\n\t"
        "mulxq %[a1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r2]\n\t"
        "adcxq %[hi], %[r3]\n\t"
        "mulxq %[a2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[a3], %[lo], %[r0]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %%rax, %[r0]\n\t"
        "adoxq %%rax, %[r0]\n\t"
        "movq %[r1], %%rdx\n\t"
        "imulq %[inv], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[p0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r1]\n\t"
        "adcxq %[hi], %[r2]\n\t"
        "mulxq %[p1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r2]\n\t"
        "adcxq %[hi], %[r3]\n\t"
        "mulxq %[p2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[p3], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %[hi], %[r0]\n\t"
        "adoxq %%rax, %[r0]\n\t"
        "movq %[b2], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[a0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r2]\n\t"
        "adcxq %[hi], %[r3]\n\t"
        "mulxq %[a1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[a2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %[hi], %[r0]\n\t"
        "mulxq %[a3], %[lo], %[r1]\n\t"
        "adoxq %[lo], %[r0]\n\t"
        "adcxq %%rax, %[r1]\n\t"
        "adoxq %%rax, %[r1]\n\t"
        "movq %[r2], %%rdx\n\t"
        "imulq %[inv], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[p0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r2]\n\t"
        "adcxq %[hi], %[r3]\n\t"
        "mulxq %[p1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[p2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %[hi], %[r0]\n\t"
        "mulxq %[p3], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r0]\n\t"
        "adcxq %[hi], %[r1]\n\t"
        "adoxq %%rax, %[r1]\n\t"
        "movq %[b3], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[a0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[a1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %[hi], %[r0]\n\t"
        "mulxq %[a2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r0]\n\t"
        "adcxq %[hi], %[r1]\n\t"
        "mulxq %[a3], %[lo], %[r2]\n\t"
        "adoxq %[lo], %[r1]\n\t"
        "adcxq %%rax, %[r2]\n\t"
        "adoxq %%rax, %[r2]\n\t"
        "movq %[r3], %%rdx\n\t"
        "imulq %[inv], %%rdx\n\t"
        "xorl %%eax, %%eax\n\t"
        "mulxq %[p0], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r3]\n\t"
        "adcxq %[hi], %[r4]\n\t"
        "mulxq %[p1], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r4]\n\t"
        "adcxq %[hi], %[r0]\n\t"
        "mulxq %[p2], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r0]\n\t"
        "adcxq %[hi], %[r1]\n\t"
        "mulxq %[p3], %[lo], %[hi]\n\t"
        "adoxq %[lo], %[r1]\n\t"
        "adcxq %[hi], %[r2]\n\t"
        "adoxq %%rax, %[r2]\n\t"
        "movq %[r4], %[lo]\n\t" "subq %[p0], %[lo]\n\t"
        "movq %[r0], %[hi]\n\t" "sbbq %[p1], %[hi]\n\t"
        "movq %[r1], %[r3]\n\t" "sbbq %[p2], %[r3]\n\t"
        "movq %[r2], %%rax\n\t" "sbbq %[p3], %%rax\n\t"
        "cmovncq %[lo], %[r4]\n\t" "cmovncq %[hi], %[r0]\n\t"
        "cmovncq %[r3], %[r1]\n\t" "cmovncq %%rax, %[r2]\n\t"
        : [r0] "=&r" (r0), [r1] "=&r" (r1), [r2] "=&r" (r2), [r3] "=&r" (r3), [r4] "=&r" (r4),
          [lo] "=&r" (lo), [hi] "=&r" (hi)
        : [a0] "m" (a.v[0]), [a1] "m" (a.v[1]), [a2] "m" (a.v[2]), [a3] "m" (a.v[3]),
          [b0] "m" (b.v[0]), [b1] "m" (b.v[1]), [b2] "m" (b.v[2]), [b3] "m" (b.v[3]),
          [p0] "m" (P::MOD[0]), [p1] "m" (P::MOD[1]), [p2] "m" (P::MOD[2]), [p3] "m" (P::MOD[3]),
          [inv] "m" (P::INV)
        : "rax", "rdx", "cc");
        (void) r3; (void) lo; (void) hi;
        out.v[0] = r4; out.v[1] = r0; out.v[2] = r1; out.v[3] = r2;
    }
#endif

    // out = a * b * R^-1 mod p (CIOS; see the header comment for why 5 words suffice).
    static inline void mul(Fp & out, const Fp & a, const Fp & b) {
#if VM_ZK_ADX_ASM
        if (detail::g_use_adx.load(std::memory_order_relaxed)) { mul_adx(out, a, b); return; }
#endif
        mul_portable(out, a, b);
    }

    static inline void mul_portable(Fp & out, const Fp & a, const Fp & b) {
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
        detail::reduce_once(r, P::MOD);
        std::memcpy(out.v, r, 32);
    }

    static inline void add(Fp & out, const Fp & a, const Fp & b) {
        u64 r[4];
        detail::add_mod(r, a.v, b.v, P::MOD);
        std::memcpy(out.v, r, 32);
    }

    static inline void sub(Fp & out, const Fp & a, const Fp & b) {
        u64 r[4];
        detail::sub_mod(r, a.v, b.v, P::MOD);
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
