#include "ntt.h"

#include <algorithm>
#include <stdexcept>

#include "../engine/thread_pool.h"

namespace vm_zk {

namespace {

struct Roots {
    Fr w[29];
    Fr shift;
    Roots() {
        // r - 1 = 2^28 · t
        U256 t = { { FrParams::MOD[0] - 1, FrParams::MOD[1], FrParams::MOD[2], FrParams::MOD[3] } };
        for (int i = 0; i < 28; ++i) {
            t.v[0] = (t.v[0] >> 1) | (t.v[1] << 63);
            t.v[1] = (t.v[1] >> 1) | (t.v[2] << 63);
            t.v[2] = (t.v[2] >> 1) | (t.v[3] << 63);
            t.v[3] >>= 1;
        }
        // nqr: the least non-residue from 2, as ffjavascript finds it (Euler's criterion).
        U256 half = { { FrParams::MOD[0] - 1, FrParams::MOD[1], FrParams::MOD[2], FrParams::MOD[3] } };
        half.v[0] = (half.v[0] >> 1) | (half.v[1] << 63);
        half.v[1] = (half.v[1] >> 1) | (half.v[2] << 63);
        half.v[2] = (half.v[2] >> 1) | (half.v[3] << 63);
        half.v[3] >>= 1;
        Fr nqr = Fr::from_u64(2);
        while (nqr.pow(half) == Fr::one()) nqr += Fr::one();
        w[28] = nqr.pow(t);
        for (int k = 27; k >= 0; --k) w[k] = w[k + 1].sqr();
        shift = nqr.sqr();
    }
};

const Roots & roots() { static const Roots r; return r; }

// Splits [0, n) into nthreads contiguous ranges.
inline void range(size_t n, int tid, int nthreads, size_t & lo, size_t & hi) {
    lo = n * (size_t) tid / (size_t) nthreads;
    hi = n * (size_t) (tid + 1) / (size_t) nthreads;
}

void parallel(int threads, size_t work, const std::function<void(int, int)> & fn) {
    // Below ~4k butterflies a pool round trip costs more than it saves.
    if (threads <= 1 || work < 4096) { fn(0, 1); return; }
    vm_engine::cpu_pool().run(threads, fn);
}

} // namespace

const Fr & fr_root_of_unity(unsigned k) {
    if (k > 28) throw std::invalid_argument("fr_root_of_unity: k > 28");
    return roots().w[k];
}

const Fr & fr_shift() { return roots().shift; }

void ntt(Fr * a, unsigned log2n, bool inverse, int threads) {
    if (log2n > 28) throw std::invalid_argument("ntt: log2n > 28");
    const size_t n = (size_t) 1 << log2n;
    if (n == 1) return;
    // Twiddles ω^k (or ω^-k) for k < n/2; stage of half-length h reads every (n/2h)-th.
    Fr w = roots().w[log2n];
    if (inverse) w = w.inv();
    std::vector<Fr> tw(n / 2);
    tw[0] = Fr::one();
    {
        // Blocks of 64 computed from a per-block start so threads can share the work.
        const size_t half = n / 2;
        const size_t blocks = (half + 63) / 64;
        Fr w64 = w.pow(U256{ { 64, 0, 0, 0 } });
        std::vector<Fr> starts(blocks);
        starts[0] = Fr::one();
        for (size_t b = 1; b < blocks; ++b) starts[b] = starts[b - 1] * w64;
        parallel(threads, half, [&](int tid, int nt) {
            size_t lo, hi;
            range(blocks, tid, nt, lo, hi);
            for (size_t b = lo; b < hi; ++b) {
                Fr x = starts[b];
                const size_t end = std::min(half, b * 64 + 64);
                for (size_t k = b * 64; k < end; ++k) { tw[k] = x; x *= w; }
            }
        });
    }
    // Bit-reversal permutation.
    parallel(threads, n, [&](int tid, int nt) {
        size_t lo, hi;
        range(n, tid, nt, lo, hi);
        for (size_t i = lo; i < hi; ++i) {
            size_t j = 0;
            for (unsigned b = 0; b < log2n; ++b) j |= ((i >> b) & 1) << (log2n - 1 - b);
            if (i < j) std::swap(a[i], a[j]);
        }
    });
    // Cooley-Tukey stages; each thread takes a contiguous range of the n/2 butterflies.
    for (unsigned s = 1; s <= log2n; ++s) {
        const size_t h = (size_t) 1 << (s - 1);
        const size_t stride = n >> s;
        parallel(threads, n / 2, [&](int tid, int nt) {
            size_t lo, hi;
            range(n / 2, tid, nt, lo, hi);
            for (size_t bi = lo; bi < hi; ++bi) {
                const size_t blk = bi >> (s - 1), k = bi & (h - 1);
                const size_t i = (blk << s) + k;
                Fr t = a[i + h] * tw[k * stride];
                Fr u = a[i];
                Fr::add(a[i], u, t);
                Fr::sub(a[i + h], u, t);
            }
        });
    }
    if (inverse) {
        const Fr ninv = Fr::from_u64(n).inv();
        parallel(threads, n, [&](int tid, int nt) {
            size_t lo, hi;
            range(n, tid, nt, lo, hi);
            for (size_t i = lo; i < hi; ++i) a[i] *= ninv;
        });
    }
}

void apply_key(Fr * a, size_t n, const Fr & first, const Fr & inc, int threads) {
    const int nt = (threads <= 1 || n < 4096) ? 1 : threads;
    auto body = [&](int tid, int ntt) {
        size_t lo, hi;
        range(n, tid, ntt, lo, hi);
        Fr x = first * inc.pow(U256{ { (u64) lo, 0, 0, 0 } });
        for (size_t i = lo; i < hi; ++i) { a[i] *= x; x *= inc; }
    };
    if (nt == 1) body(0, 1); else vm_engine::cpu_pool().run(nt, body);
}

} // namespace vm_zk
