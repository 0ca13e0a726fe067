// INSECURE development setup from known secrets: see setup_dev.h.

#include "setup_dev.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "../engine/thread_pool.h"
#include "curve.h"
#include "fixed_base.h"
#include "ntt.h"
#include "r1cs.h"
#include "zkey_write.h"

namespace vm_zk {

const char * const DEV_SETUP_DEFAULT_SEED = "verimesh-devnet";

// ---------------------------------------------------------------------------
// SHA-256

namespace {

constexpr uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(uint32_t h[8], const uint8_t * p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
        const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

} // namespace

void sha256(const uint8_t * data, size_t n, uint8_t out[32]) {
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    size_t i = 0;
    for (; i + 64 <= n; i += 64) sha256_block(h, data + i);
    uint8_t tail[128] = { 0 };
    const size_t rest = n - i;
    std::memcpy(tail, data + i, rest);
    tail[rest] = 0x80;
    const size_t len = rest + 9 <= 64 ? 64 : 128;
    const uint64_t bits = (uint64_t) n * 8;
    for (int k = 0; k < 8; ++k) tail[len - 1 - k] = (uint8_t) (bits >> (8 * k));
    sha256_block(h, tail);
    if (len == 128) sha256_block(h, tail + 64);
    for (int k = 0; k < 8; ++k) {
        out[4 * k] = (uint8_t) (h[k] >> 24); out[4 * k + 1] = (uint8_t) (h[k] >> 16);
        out[4 * k + 2] = (uint8_t) (h[k] >> 8); out[4 * k + 3] = (uint8_t) h[k];
    }
}

DevSecrets dev_secrets_from_seed(const std::string & seed) {
    auto derive = [&](const char * name) {
        const std::string msg = std::string("verimesh-insecure-dev-setup/v1/") + name + "/" + seed;
        uint8_t d[32];
        sha256((const uint8_t *) msg.data(), msg.size(), d);
        U256 x;
        for (int i = 0; i < 4; ++i) {
            u64 w = 0;
            for (int j = 0; j < 8; ++j) w = (w << 8) | d[8 * (3 - i) + j];   // big-endian digest
            x.v[i] = w;
        }
        Fr f = Fr::to_mont(x);   // reduces mod r
        return f.is_zero() ? Fr::one() : f;
    };
    return { derive("tau"), derive("alpha"), derive("beta"), derive("gamma"), derive("delta") };
}

namespace {

// Window minimising table construction plus lookups, nwin·(3·2^w + count): a
// table point (Jacobian addition, then batch conversion) costs about three
// batched affine additions. At most 12 bits: larger tables (tens of MB) leave
// the caches and measured slower at 2^16 (w = 10..12: 4.9 s, 14: 7.3 s, 16: 7.8 s).
unsigned pick_window(size_t count) {
    unsigned best = 4;
    double best_cost = 1e300;
    for (unsigned w = 4; w <= 12; ++w) {
        const double nwin = (254 + w - 1) / w;
        const double cost = nwin * (3.0 * (double) (1u << w) + (double) count);
        if (cost < best_cost) { best_cost = cost; best = w; }
    }
    return best;
}

// Montgomery's trick in place: v[i] <- 1/v[i] (all non-zero).
void batch_invert(std::vector<Fr> & v) {
    std::vector<Fr> acc(v.size());
    Fr run = Fr::one();
    for (size_t i = 0; i < v.size(); ++i) { acc[i] = run; run *= v[i]; }
    Fr inv = run.inv();
    for (size_t i = v.size(); i-- > 0;) {
        const Fr t = inv * acc[i];
        inv *= v[i];
        v[i] = t;
    }
}

Fr pow2k(Fr x, unsigned k) { for (unsigned i = 0; i < k; ++i) x = x.sqr(); return x; }

} // namespace

DevSetupInfo setup_dev(const std::string & r1cs_path, const std::string & zkey_path, const DevSecrets & sec,
                       int threads, const SetupProgress & progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (threads < 1) threads = 1;
    auto report = [&](const char * phase, double f) { if (progress) progress(phase, f); };

    const R1cs r1cs = read_r1cs(r1cs_path);
    const uint32_t m = r1cs.n_constraints, n_pub = r1cs.n_public(), n_vars = r1cs.n_vars;
    // snarkjs zkey_new.js: cirPower = log2(nConstraints + nPublic) + 1 (floor
    // log2): one extra row per public input and the constant, so the domain
    // always exceeds nConstraints + nPublic.
    const uint64_t rows = (uint64_t) m + n_pub;
    const unsigned power = (rows == 0 ? 0 : 63 - __builtin_clzll(rows)) + 1;
    if (power > 27) {
        throw ZkError("ZK_TOO_LARGE", r1cs_path + ": " + std::to_string(m) + " constraints need a 2^" + std::to_string(power) +
                      " domain; the setup supports up to 2^27 (its H points live on the 2^28 domain)");
    }
    const size_t n = (size_t) 1 << power;
    if (n_vars > (1u << 29)) {
        throw ZkError("ZK_TOO_LARGE", r1cs_path + ": " + std::to_string(n_vars) + " wires; the setup supports up to 2^29");
    }

    // ---- scalars -----------------------------------------------------------
    report("lagrange", 0);
    const Fr & tau = sec.tau;
    const Fr w_n = fr_root_of_unity(power), w_2n = fr_root_of_unity(power + 1);
    // L_i(τ) = (τ^n - 1)/n · ω^i / (τ - ω^i)
    std::vector<Fr> lag(n), omega_i(n);
    {
        Fr x = Fr::one();
        for (size_t i = 0; i < n; ++i) { omega_i[i] = x; lag[i] = tau - x; x *= w_n; }
        for (const Fr & d : lag) {
            if (d.is_zero()) throw ZkError("ZK_BAD_INPUT", "the seed gives a tau inside the evaluation domain; choose another seed");
        }
        batch_invert(lag);
        const Fr z = (pow2k(tau, power) - Fr::one()) * Fr::from_u64(n).inv();
        for (size_t i = 0; i < n; ++i) lag[i] = z * omega_i[i] * lag[i];
    }
    // H_i = L^{(2n)}_{2i+1}(τ) / δ over the 2n domain's odd points ω_2n·ω_n^i.
    const Fr delta_inv = sec.delta.inv(), gamma_inv = sec.gamma.inv();
    std::vector<Fr> h(n);
    {
        for (size_t i = 0; i < n; ++i) { omega_i[i] = w_2n * omega_i[i]; h[i] = tau - omega_i[i]; }
        for (const Fr & d : h) {
            if (d.is_zero()) throw ZkError("ZK_BAD_INPUT", "the seed gives a tau inside the evaluation domain; choose another seed");
        }
        batch_invert(h);
        const Fr z2 = (pow2k(tau, power + 1) - Fr::one()) * Fr::from_u64(2 * n).inv() * delta_inv;
        for (size_t i = 0; i < n; ++i) h[i] = z2 * omega_i[i] * h[i];
    }
    omega_i = std::vector<Fr>();

    // a_s, b_s, c_s: A_s(τ), B_s(τ), C_s(τ), with the extra rows m + s (s ≤ nPublic)
    // that snarkjs adds to A so that the public inputs are bound.
    std::vector<Fr> a(n_vars, Fr::zero()), b(n_vars, Fr::zero()), c(n_vars, Fr::zero());
    Groth16Zkey z;
    z.coefs.reserve(r1cs.terms.size() + n_pub + 1);
    const Fr r2 = Fr::from_mont_raw(FrParams::R2);
    for (uint32_t row = 0; row < m; ++row) {
        for (int mat = 0; mat < 3; ++mat) {
            std::vector<Fr> & acc = mat == 0 ? a : mat == 1 ? b : c;
            for (uint64_t t = r1cs.lc_start[3 * row + mat]; t < r1cs.lc_start[3 * row + mat + 1]; ++t) {
                const R1csTerm & term = r1cs.terms[t];
                acc[term.wire] += term.coef * lag[row];
                // zkey section 4 stores coef·R² mod r (raw Montgomery limbs of coef·R).
                if (mat < 2) z.coefs.push_back({ (uint32_t) mat, row, term.wire, term.coef * r2 });
            }
        }
    }
    for (uint32_t s = 0; s <= n_pub; ++s) {
        a[s] += lag[m + s];
        z.coefs.push_back({ 0, m + s, s, Fr::one() * r2 });
    }
    lag = std::vector<Fr>();

    // G1 scalars, concatenated: A | B1 | IC | C | H.
    std::vector<Fr> g1s;
    g1s.reserve(3 * (size_t) n_vars + n);
    g1s.insert(g1s.end(), a.begin(), a.end());
    g1s.insert(g1s.end(), b.begin(), b.end());
    for (uint32_t s = 0; s < n_vars; ++s) {
        const Fr k = sec.beta * a[s] + sec.alpha * b[s] + c[s];
        g1s.push_back(k * (s <= n_pub ? gamma_inv : delta_inv));
    }
    g1s.insert(g1s.end(), h.begin(), h.end());
    h = std::vector<Fr>();
    a = std::vector<Fr>();
    c = std::vector<Fr>();

    // ---- points ------------------------------------------------------------
    report("tables", 0);
    const FixedBase<Fq> t1(g1_generator(), pick_window(g1s.size()), threads);
    const FixedBase<Fq2> t2(g2_generator(), pick_window(b.size()), threads);
    report("points", 0);
    std::vector<G1Affine> g1p(g1s.size());
    std::vector<G2Affine> g2p(b.size());
    std::atomic<size_t> done{0};
    t1.mul_many(g1s, g1p.data(), threads, &done);
    report("points", 0.7);
    t2.mul_many(b, g2p.data(), threads, &done);
    report("points", 1);

    z.nVars = n_vars;
    z.nPublic = n_pub;
    z.domainSize = (uint32_t) n;
    z.power = power;
    z.alpha1 = t1.mul_affine(sec.alpha);
    z.beta1 = t1.mul_affine(sec.beta);
    z.delta1 = t1.mul_affine(sec.delta);
    z.beta2 = t2.mul_affine(sec.beta);
    z.gamma2 = t2.mul_affine(sec.gamma);
    z.delta2 = t2.mul_affine(sec.delta);
    const G1Affine * p = g1p.data();
    z.A.assign(p, p + n_vars); p += n_vars;
    z.B1.assign(p, p + n_vars); p += n_vars;
    z.IC.assign(p, p + n_pub + 1);
    z.C.assign(p + n_pub + 1, p + n_vars); p += n_vars;
    z.H.assign(p, p + n);
    z.B2 = std::move(g2p);
    g1p = std::vector<G1Affine>();

    report("write", 0);
    write_zkey(zkey_path, z);
    report("write", 1);

    DevSetupInfo info;
    info.n_constraints = m;
    info.n_vars = n_vars;
    info.n_public = n_pub;
    info.domain_size = (uint32_t) n;
    info.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return info;
}

} // namespace vm_zk
