#include "msm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../engine/thread_pool.h"
#include "glv.h"

namespace vm_zk {

namespace {

constexpr unsigned SCALAR_BITS = 254;

// c bits of s from bit offset o (c <= 16).
inline unsigned bits_at(const U256 & s, unsigned o, unsigned c) {
    const unsigned limb = o >> 6, sh = o & 63;
    if (limb >= 4) return 0;
    u64 v = s.v[limb] >> sh;
    if (sh + c > 64 && limb + 1 < 4) v |= s.v[limb + 1] << (64 - sh);
    return (unsigned) (v & ((1u << c) - 1));
}

// Buckets for one work item. Points are added to affine buckets in batches:
// one field inversion (Montgomery's trick) serves the whole batch, so an
// addition costs about 6 multiplications instead of 11 for Jacobian + affine.
// A point whose bucket already has an addition pending in the current batch
// goes to that bucket's Jacobian overflow instead (rare when buckets >> batch).
template <class F>
class AffineBuckets {
public:
    using A = Affine<F>;
    using J = Jacobian<F>;
    static constexpr size_t BATCH = 256;

    explicit AffineBuckets(size_t n)
        : aff_(n), jac_(n), stamp_(n, 0), bidx_(BATCH), bpt_(BATCH), den_(BATCH), pref_(BATCH), kind_(BATCH) {}

    void reset() {
        std::fill(aff_.begin(), aff_.end(), A::infinity());
        std::fill(jac_.begin(), jac_.end(), J::infinity());
        ++epoch_;
    }

    void add(size_t b, const A & p) {
        if (p.is_inf()) return;                           // zkeys hold infinity for unused signals
        if (aff_[b].is_inf()) { aff_[b] = p; return; }   // empty and so not pending
        if (stamp_[b] == epoch_) { jac_[b] = jac_[b].add_mixed(p); return; }
        stamp_[b] = epoch_;
        bidx_[cnt_] = (uint32_t) b;
        bpt_[cnt_] = p;
        if (++cnt_ == BATCH) flush();
    }

    void flush() {
        if (cnt_ == 0) return;
        // kind: 0 = chord, 1 = tangent (same point), 2 = the sum is infinity.
        for (size_t j = 0; j < cnt_; ++j) {
            const A & a = aff_[bidx_[j]];
            const A & p = bpt_[j];
            F d = p.x - a.x;
            kind_[j] = 0;
            if (d.is_zero()) {
                if (p.y == a.y && !a.y.is_zero()) { d = a.y.dbl(); kind_[j] = 1; }
                else { d = F::one(); kind_[j] = 2; }
            }
            den_[j] = d;
        }
        F acc = F::one();
        for (size_t j = 0; j < cnt_; ++j) { pref_[j] = acc; acc = acc * den_[j]; }
        F inv = acc.inv();
        for (size_t j = cnt_; j-- > 0;) {
            const F dinv = inv * pref_[j];
            inv = inv * den_[j];
            A & a = aff_[bidx_[j]];
            const A & p = bpt_[j];
            if (kind_[j] == 2) { a = A::infinity(); continue; }
            F lambda;
            if (kind_[j] == 1) { F xx = a.x.sqr(); lambda = (xx.dbl() + xx) * dinv; }
            else lambda = (p.y - a.y) * dinv;
            F x3 = lambda.sqr() - a.x - p.x;
            a.y = lambda * (a.x - x3) - a.y;
            a.x = x3;
        }
        cnt_ = 0;
        ++epoch_;
    }

    // Σ_b (b+1)·bucket[b] by running sums from the top.
    J reduce() {
        flush();
        J run = J::infinity(), acc = J::infinity();
        for (size_t b = aff_.size(); b-- > 0;) {
            run = run.add_mixed(aff_[b]);
            if (!jac_[b].is_inf()) run = run.add(jac_[b]);
            acc = acc.add(run);
        }
        return acc;
    }

private:
    std::vector<A> aff_;
    std::vector<J> jac_;
    std::vector<uint32_t> stamp_;
    std::vector<uint32_t> bidx_;
    std::vector<A> bpt_;
    std::vector<F> den_, pref_;
    std::vector<uint8_t> kind_;
    size_t cnt_ = 0;
    uint32_t epoch_ = 1;
};

// Affine batches pay off once there are enough buckets for few collisions.
constexpr unsigned AFFINE_MIN_BITS = 11;

unsigned window_bits_for(size_t n, unsigned bits);
// Signed digits of n scalars for windows of c bits, window-major: digits[w·n + i].
std::vector<int16_t> recode_all(const U256 * scalars, size_t n, unsigned c, unsigned W, int threads);

// bits: the scalars are < 2^bits (254 plain, 128 for GLV halves).
template <class F>
Jacobian<F> msm(const Affine<F> * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits,
                unsigned bits = SCALAR_BITS) {
    using J = Jacobian<F>;
    if (threads < 1) threads = 1;
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) nonzero += !scalars[i].is_zero();
    if (nonzero == 0) return J::infinity();

    const unsigned c = window_bits >= 2 && window_bits <= 15 ? window_bits : window_bits_for(nonzero, bits);
    const unsigned W = bits / c + 1;                 // c·W >= bits + 1: the top digit absorbs the last carry
    const int half = 1 << (c - 1);
    const std::vector<int16_t> digits = recode_all(scalars, n, c, W, threads);

    // Enough chunks per window that every thread has work and the tail is short.
    size_t chunks = 1;
    if (threads > 1) chunks = std::max<size_t>(1, (size_t) (4 * threads + W - 1) / W);
    chunks = std::min(chunks, std::max<size_t>(1, n / 1024));
    const size_t items = (size_t) W * chunks;
    std::vector<J> partial(items, J::infinity());
    std::atomic<size_t> next{0};

    auto work_affine = [&](int, int) {
        AffineBuckets<F> buckets((size_t) half);
        for (;;) {
            const size_t it = next.fetch_add(1, std::memory_order_relaxed);
            if (it >= items) break;
            const size_t w = it / chunks, ch = it % chunks;
            const size_t lo = n * ch / chunks, hi = n * (ch + 1) / chunks;
            buckets.reset();
            const int16_t * row = digits.data() + w * n;
            for (size_t i = lo; i < hi; ++i) {
                const int d = row[i];
                if (d > 0) buckets.add((size_t) (d - 1), bases[i]);
                else if (d < 0) buckets.add((size_t) (-d - 1), bases[i].neg());
            }
            partial[it] = buckets.reduce();
        }
    };
    auto work = [&](int tid, int nt) {
        if (c >= AFFINE_MIN_BITS) { work_affine(tid, nt); return; }
        std::vector<J> buckets((size_t) half);
        for (;;) {
            const size_t it = next.fetch_add(1, std::memory_order_relaxed);
            if (it >= items) break;
            const size_t w = it / chunks, ch = it % chunks;
            const size_t lo = n * ch / chunks, hi = n * (ch + 1) / chunks;
            std::fill(buckets.begin(), buckets.end(), J::infinity());
            const int16_t * row = digits.data() + w * n;
            for (size_t i = lo; i < hi; ++i) {
                const int d = row[i];
                if (d > 0) buckets[(size_t) (d - 1)] = buckets[(size_t) (d - 1)].add_mixed(bases[i]);
                else if (d < 0) buckets[(size_t) (-d - 1)] = buckets[(size_t) (-d - 1)].add_mixed(bases[i].neg());
            }
            // Σ_b (b+1)·bucket[b] by running sums from the top.
            J run = J::infinity(), acc = J::infinity();
            for (int b = half - 1; b >= 0; --b) {
                run = run.add(buckets[(size_t) b]);
                acc = acc.add(run);
            }
            partial[it] = acc;
        }
    };
    if (threads > 1 && items > 1) vm_engine::cpu_pool().run(threads, work); else work(0, 1);

    J result = J::infinity();
    for (size_t w = W; w-- > 0;) {
        for (unsigned k = 0; k < c; ++k) result = result.dbl();
        for (size_t ch = 0; ch < chunks; ++ch) result = result.add(partial[w * chunks + ch]);
    }
    return result;
}

std::vector<int16_t> recode_all(const U256 * scalars, size_t n, unsigned c, unsigned W, int threads) {
    const int half = 1 << (c - 1);
    std::vector<int16_t> digits((size_t) W * n);
    auto recode = [&](int tid, int nt) {
        const size_t lo = n * (size_t) tid / (size_t) nt, hi = n * (size_t) (tid + 1) / (size_t) nt;
        for (size_t i = lo; i < hi; ++i) {
            int carry = 0;
            for (unsigned w = 0; w < W; ++w) {
                int d = (int) bits_at(scalars[i], w * c, c) + carry;
                carry = 0;
                if (d > half) { d -= 1 << c; carry = 1; }
                digits[(size_t) w * n + i] = (int16_t) d;
            }
        }
    };
    if (threads > 1 && n >= 4096) vm_engine::cpu_pool().run(threads, recode); else recode(0, 1);
    return digits;
}

// Window width for a table: every window shares the buckets, so the reduction
// (~27 multiplications per bucket, once per thread) is small next to W·n points.
unsigned table_window_bits(size_t n) {
    unsigned best = AFFINE_MIN_BITS;
    double best_cost = 1e300;
    for (unsigned c = AFFINE_MIN_BITS; c <= 15; ++c) {
        const double windows = SCALAR_BITS / c + 1;
        const double cost = windows * (double) n * 7.0 + 2 * 27.0 * (double) (1u << (c - 1));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

template <class F>
bool table_build(MsmTable<F> & t, const Affine<F> * bases, size_t n, int threads, size_t max_bytes) {
    t = MsmTable<F>();
    const unsigned c = table_window_bits(n);
    const unsigned W = SCALAR_BITS / c + 1;
    if ((double) W * (double) n * sizeof(Affine<F>) > (double) max_bytes) return false;
    t.c = c; t.W = W; t.n = n;
    t.pts.resize((size_t) W * n);
    if (threads < 1) threads = 1;
    // Points in blocks: each block doubles its points c times per window and
    // converts one window's worth to affine with one inversion.
    const size_t BLOCK = 256;
    const size_t blocks = (n + BLOCK - 1) / BLOCK;
    std::atomic<size_t> next{0};
    auto work = [&](int, int) {
        std::vector<Jacobian<F>> cur(BLOCK);
        for (;;) {
            const size_t b = next.fetch_add(1, std::memory_order_relaxed);
            if (b >= blocks) break;
            const size_t lo = b * BLOCK, m = std::min(n, lo + BLOCK) - lo;
            for (size_t k = 0; k < m; ++k) cur[k] = Jacobian<F>::from_affine(bases[lo + k]);
            std::copy(bases + lo, bases + lo + m, t.pts.begin() + (std::ptrdiff_t) lo);
            for (unsigned w = 1; w < W; ++w) {
                for (size_t k = 0; k < m; ++k) {
                    for (unsigned d = 0; d < c; ++d) cur[k] = cur[k].dbl();
                }
                batch_to_affine(cur.data(), m, t.pts.data() + (size_t) w * n + lo);
            }
        }
    };
    if (threads > 1 && blocks > 1) vm_engine::cpu_pool().run(threads, work); else work(0, 1);
    return true;
}

template <class F>
Jacobian<F> table_msm(const MsmTable<F> & t, const U256 * scalars, int threads) {
    using J = Jacobian<F>;
    if (threads < 1) threads = 1;
    const size_t n = t.n;
    const unsigned c = t.c, W = t.W;
    const std::vector<int16_t> digits = recode_all(scalars, n, c, W, threads);
    const size_t terms = (size_t) W * n;   // digit k pairs with t.pts[k]: same window-major layout
    const size_t items = threads > 1 ? (size_t) threads : 1;
    std::vector<J> partial(items, J::infinity());
    std::atomic<size_t> next{0};
    auto work = [&](int, int) {
        AffineBuckets<F> buckets((size_t) 1 << (c - 1));
        for (;;) {
            const size_t it = next.fetch_add(1, std::memory_order_relaxed);
            if (it >= items) break;
            const size_t lo = terms * it / items, hi = terms * (it + 1) / items;
            buckets.reset();
            for (size_t k = lo; k < hi; ++k) {
                const int d = digits[k];
                if (d > 0) buckets.add((size_t) (d - 1), t.pts[k]);
                else if (d < 0) buckets.add((size_t) (-d - 1), t.pts[k].neg());
            }
            partial[it] = buckets.reduce();
        }
    };
    if (items > 1) vm_engine::cpu_pool().run(threads, work); else work(0, 1);
    J r = J::infinity();
    for (const J & p : partial) r = r.add(p);
    return r;
}

} // namespace

bool msm_table_build(G1Table & t, const G1Affine * bases, size_t n, int threads, size_t max_bytes) {
    return table_build<Fq>(t, bases, n, threads, max_bytes);
}
bool msm_table_build(G2Table & t, const G2Affine * bases, size_t n, int threads, size_t max_bytes) {
    return table_build<Fq2>(t, bases, n, threads, max_bytes);
}
G1Jac msm_g1(const G1Table & t, const U256 * scalars, int threads) { return table_msm<Fq>(t, scalars, threads); }
G2Jac msm_g2(const G2Table & t, const U256 * scalars, int threads) { return table_msm<Fq2>(t, scalars, threads); }

namespace {
unsigned window_bits_for(size_t n, unsigned bits) {
    unsigned best = 2;
    double best_cost = 1e300;
    for (unsigned c = 2; c <= 15; ++c) {
        const double windows = bits / c + 1;
        // In field multiplications: a point costs ~11 (Jacobian + affine) or ~7
        // (affine batches); a bucket's reduction ~27 (one mixed, one full addition).
        const double per_point = c >= AFFINE_MIN_BITS ? 7.0 : 11.0;
        const double cost = windows * ((double) n * per_point + 27.0 * (double) (1u << (c - 1)));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

// GLV pays from a few hundred points on (it halves the windows, and so the
// per-window bucket reductions and doublings, for one Fq multiplication and a
// short decomposition per point).
constexpr size_t GLV_MIN_POINTS = 64;
} // namespace

unsigned msm_window_bits(size_t n) { return window_bits_for(n, SCALAR_BITS); }

G1Jac msm_g1_plain(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    return msm<Fq>(bases, scalars, n, threads, window_bits);
}

namespace {
// φ(x, y) = (ω·x, y) with ω ∈ Fq a cube root of unity acts as λ on G1 (ω = β)
// and on G2 (ω = β², checked against noble: λ·G2 = (β²·x, y)).
inline G1Affine endo(const G1Affine & p) { return { p.x * glv::beta(), p.y }; }
inline G2Affine endo(const G2Affine & p) {
    static const Fq b2 = glv::beta().sqr();
    return { p.x.mul_by_fq(b2), p.y };
}

template <class F>
Jacobian<F> msm_glv(const Affine<F> * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    using A = Affine<F>;
    if (threads < 1) threads = 1;
    // Terms 2i, 2i+1: (±P_i, |k1|), (±φ(P_i), |k2|); the signs go on the points.
    std::vector<A> b2(2 * n);
    std::vector<U256> s2(2 * n);
    std::atomic<bool> ok{true};
    auto body = [&](int tid, int nt) {
        const size_t lo = n * (size_t) tid / (size_t) nt, hi = n * (size_t) (tid + 1) / (size_t) nt;
        bool good = true;
        for (size_t i = lo; i < hi; ++i) {
            const A & p = bases[i];
            if (scalars[i].is_zero() || p.is_inf()) {
                b2[2 * i] = b2[2 * i + 1] = A::infinity();
                s2[2 * i] = s2[2 * i + 1] = U256{ { 0, 0, 0, 0 } };
                continue;
            }
            bool n1, n2;
            glv::decompose(scalars[i], s2[2 * i], n1, s2[2 * i + 1], n2);
            good &= glv::fits(s2[2 * i]) & glv::fits(s2[2 * i + 1]);
            b2[2 * i] = n1 ? p.neg() : p;
            const A q = endo(p);
            b2[2 * i + 1] = n2 ? q.neg() : q;
        }
        if (!good) ok.store(false, std::memory_order_relaxed);
    };
    if (threads > 1 && n >= 4096) vm_engine::cpu_pool().run(threads, body); else body(0, 1);
    if (!ok.load()) return msm<F>(bases, scalars, n, threads, window_bits);   // unreachable (bound proven by the lattice)
    return msm<F>(b2.data(), s2.data(), 2 * n, threads, window_bits, glv::BITS);
}

// VERIMESH_ZK_GLV=0: the plain paths (A/B benchmarks of whole proofs; same results).
bool glv_enabled() {
    static const bool on = [] { const char * e = std::getenv("VERIMESH_ZK_GLV"); return !(e && e[0] == '0'); }();
    return on;
}
} // namespace

G1Jac msm_g1_glv(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    return msm_glv<Fq>(bases, scalars, n, threads, window_bits);
}
G2Jac msm_g2_glv(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    return msm_glv<Fq2>(bases, scalars, n, threads, window_bits);
}
G2Jac msm_g2_plain(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    return msm<Fq2>(bases, scalars, n, threads, window_bits);
}

G1Jac msm_g1(const G1Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    if (n < GLV_MIN_POINTS || !glv_enabled()) return msm_g1_plain(bases, scalars, n, threads, window_bits);
    return msm_g1_glv(bases, scalars, n, threads, window_bits);
}

G2Jac msm_g2(const G2Affine * bases, const U256 * scalars, size_t n, int threads, unsigned window_bits) {
    if (n < GLV_MIN_POINTS || !glv_enabled()) return msm_g2_plain(bases, scalars, n, threads, window_bits);
    return msm_g2_glv(bases, scalars, n, threads, window_bits);
}

} // namespace vm_zk
