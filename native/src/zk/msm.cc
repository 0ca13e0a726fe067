#include "msm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "../engine/thread_pool.h"

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

template <class F>
Jacobian<F> msm(const Affine<F> * bases, const U256 * scalars, size_t n, int threads) {
    using J = Jacobian<F>;
    if (threads < 1) threads = 1;
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) nonzero += !scalars[i].is_zero();
    if (nonzero == 0) return J::infinity();

    const unsigned c = msm_window_bits(nonzero);
    const unsigned W = SCALAR_BITS / c + 1;          // c·W >= 255: the top digit absorbs the last carry
    const int half = 1 << (c - 1);

    // Signed digits, window-major so a work item streams through one row.
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

    // Enough chunks per window that every thread has work and the tail is short.
    size_t chunks = 1;
    if (threads > 1) chunks = std::max<size_t>(1, (size_t) (4 * threads + W - 1) / W);
    chunks = std::min(chunks, std::max<size_t>(1, n / 1024));
    const size_t items = (size_t) W * chunks;
    std::vector<J> partial(items, J::infinity());
    std::atomic<size_t> next{0};

    auto work = [&](int, int) {
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

} // namespace

unsigned msm_window_bits(size_t n) {
    unsigned best = 2;
    double best_cost = 1e300;
    for (unsigned c = 2; c <= 15; ++c) {
        const double windows = SCALAR_BITS / c + 1;
        // Bucket reduction: 2 full additions (~1.5 mixed ones each) per bucket.
        const double cost = windows * ((double) n + 3.0 * (double) (1u << (c - 1)));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

G1Jac msm_g1(const G1Affine * bases, const U256 * scalars, size_t n, int threads) {
    return msm<Fq>(bases, scalars, n, threads);
}

G2Jac msm_g2(const G2Affine * bases, const U256 * scalars, size_t n, int threads) {
    return msm<Fq2>(bases, scalars, n, threads);
}

} // namespace vm_zk
