// GPU multi-scalar multiplication and NTT for the Groth16 prover (BN254), with
// results byte-identical to the CPU prover's msm_g1 / msm_g2 / ntt / apply_key
// (native/src/zk/) after normalisation. Arithmetic: zk/bn254.cuh. Host API:
// zk/zk_cuda.h. Verified without a GPU by compiling this file unchanged against
// the host emulation of CUDA (zk/zk_emu_main.cc, vm_zk_cuda_emu).
//
// MSM, per chunk of up to 2^24 points (bucket method, signed c-bit digits):
//   1. k_msm_count    one thread per scalar: recode into W signed digits in
//                     [-2^(c-1), 2^(c-1)] and count entries per (window, bucket).
//   2. k_scan         exclusive prefix sum of the counts (one block).
//   3. k_msm_scatter  recode again and place each (point, sign) at its bucket's
//                     slot: entries sorted by (window, bucket), no per-thread
//                     buckets, no atomics on points.
//   4. k_msm_segments one thread per 32 consecutive sorted entries sums each run
//                     of equal buckets with mixed additions; a run that began in
//                     an earlier segment goes to carry[segment] instead.
//   5. k_msm_carry_tree + k_msm_fix: the carries of each bucket's run are summed
//                     by a tree (log2 levels, one launch each), then added to the
//                     bucket: skewed digits (a witness full of 0s and 1s puts most
//                     entries in one bucket) stay parallel.
//   6. k_msm_groups   one thread per group of 32 buckets: Σ (b+1)·bucket[b] of
//                     the group by running sums, plus the group offset times the
//                     group sum.
//   7. k_msm_windows  one block per window: tree sum of its groups.
//   The host combines the W window sums (c doublings between windows) with the
//   CPU prover's curve code; their order of addition differs from the CPU's,
//   which changes the Jacobian coordinates but not the point.
//
// NTT: twiddles ω^k from the ω^(2^j) table (one thread each), bit reversal,
// log2(n) radix-2 butterfly launches (one thread per butterfly), 1/n scaling for
// the inverse; apply_key from the inc^(2^j) table. Plain and launch-bound for
// small n, memory-bound for large n; fused multi-stage kernels are future work.

#if defined(VM_CUDA_EMU)
#include "emu/cuda_emu.h"
// Emulated threads switch only at barriers, so a plain read-modify-write is atomic.
inline unsigned atomicAdd(unsigned * p, unsigned v) {
    const unsigned old = *p;
    *p = old + v;
    return old;
}
#else
#include <cuda_runtime.h>
#define VM_LAUNCH(kernel, grid, block, shmem, stream) kernel<<<grid, block, shmem, stream>>>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "zk/bn254.cuh"
#if defined(__CUDACC__)
// field.h's x86 assembly kernels assign outputs that cudafe++ thinks unused.
#pragma nv_diag_suppress 550
#endif
#include "zk/zk_cuda.h"
#include "../src/zk/ntt.h"
#if defined(__CUDACC__)
#pragma nv_diag_default 550
#endif

namespace vm_zkc {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kSeg = 32;          // sorted entries per segment thread
constexpr unsigned kGroup = 32;        // buckets per group thread
constexpr unsigned kWinThreads = 128;  // threads of a window-sum block
constexpr unsigned kScanThreads = 512;
constexpr unsigned SCALAR_BITS = 254;

VMZK_HD unsigned bits_at(const uint32_t * s, unsigned o, unsigned c) {
    const unsigned limb = o >> 5, sh = o & 31;
    if (limb >= 8) return 0;
    uint32_t v = s[limb] >> sh;
    if (sh + c > 32 && limb + 1 < 8) v |= s[limb + 1] << (32 - sh);
    return v & ((1u << c) - 1);
}

// Signed digit of window w (with the carry of the windows below), as msm.cc.
struct Recoder {
    const uint32_t * s;
    unsigned c;
    int carry = 0;
    VMZK_HD int next(unsigned w) {
        const int half = 1 << (c - 1);
        int d = (int) bits_at(s, w * c, c) + carry;
        carry = 0;
        if (d > half) { d -= 1 << c; carry = 1; }
        return d;
    }
};

__global__ void k_probe(uint32_t * out) {
    const Fr a = Fr::one();
    out[0] = fe_mul(a, a).v[0];
}

__global__ void k_msm_count(const uint32_t * scalars, uint32_t n, unsigned c, unsigned W, uint32_t * counts) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const uint32_t B = 1u << (c - 1);
    Recoder r{ scalars + (size_t) i * 8, c };
    for (unsigned w = 0; w < W; ++w) {
        const int d = r.next(w);
        if (d != 0) atomicAdd(&counts[w * B + (uint32_t) ((d < 0 ? -d : d) - 1)], 1u);
    }
}

// Exclusive prefix sum of in[0..m) into out[0..m], out[m] = total. One block.
__global__ void k_scan(const uint32_t * in, uint32_t * out, uint32_t m) {
    __shared__ uint32_t part[kScanThreads];
    const unsigned t = threadIdx.x;
    const uint32_t per = (m + kScanThreads - 1) / kScanThreads;
    const uint32_t lo = min(m, t * per), hi = min(m, lo + per);
    uint32_t s = 0;
    for (uint32_t i = lo; i < hi; ++i) s += in[i];
    part[t] = s;
    __syncthreads();
    for (unsigned off = 1; off < kScanThreads; off <<= 1) {
        const uint32_t v = t >= off ? part[t - off] : 0;
        __syncthreads();
        part[t] += v;
        __syncthreads();
    }
    uint32_t base = t ? part[t - 1] : 0;
    for (uint32_t i = lo; i < hi; ++i) { out[i] = base; base += in[i]; }
    if (t == kScanThreads - 1) out[m] = part[t];
}

__global__ void k_msm_scatter(const uint32_t * scalars, uint32_t n, unsigned c, unsigned W, uint32_t * cursor,
                              uint32_t * entries, uint32_t * keys) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const uint32_t B = 1u << (c - 1);
    Recoder r{ scalars + (size_t) i * 8, c };
    for (unsigned w = 0; w < W; ++w) {
        const int d = r.next(w);
        if (d == 0) continue;
        const uint32_t key = w * B + (uint32_t) ((d < 0 ? -d : d) - 1);
        const uint32_t pos = atomicAdd(&cursor[key], 1u);
        entries[pos] = i | (d < 0 ? 0x80000000u : 0u);
        keys[pos] = key;
    }
}

constexpr uint32_t kNoKey = 0xffffffffu;

template <class F>
__global__ void k_msm_segments(const uint32_t * entries, const uint32_t * keys, uint32_t E, const Aff<F> * bases,
                               Jac<F> * buckets, Jac<F> * carry, uint32_t * ckey) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t lo = s * kSeg;
    if (lo >= E) return;
    const uint32_t hi = min(E, lo + kSeg);
    ckey[s] = kNoKey;
    uint32_t i = lo;
    while (i < hi) {
        const uint32_t key = keys[i];
        Jac<F> acc = Jac<F>::inf();
        uint32_t j = i;
        for (; j < hi && keys[j] == key; ++j) {
            const uint32_t e = entries[j];
            Aff<F> p = bases[e & 0x7fffffffu];
            if (e >> 31) p.y = f_neg(p.y);   // infinity (0, 0) stays infinity
            acc = j_add_mixed(acc, p);
        }
        if (i == lo && lo > 0 && keys[lo - 1] == key) { carry[s] = acc; ckey[s] = key; }
        else buckets[key] = acc;
        i = j;
    }
}

// The carries of bucket k sit in segments a..b (a = its run's first segment + 1,
// b = its last). One tree level: segment s = a + 2d·j adds segment s + d. After
// the levels d = 1, 2, 4, … carry[a] holds them all, in log2(b - a + 1) steps
// instead of a chain of b - a + 1 (one bucket may hold most entries: a witness
// full of 1s). Writers (s ≡ a mod 2d) and read slots (≡ a + d) never overlap.
template <class F>
__global__ void k_msm_carry_tree(const uint32_t * ckey, const uint32_t * counts, const uint32_t * offsets, uint32_t S,
                                 uint32_t d, Jac<F> * carry) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= S) return;
    const uint32_t key = ckey[s];
    if (key == kNoKey) return;
    const uint32_t a = offsets[key] / kSeg + 1, b = (offsets[key] + counts[key] - 1) / kSeg;
    if ((s - a) % (2 * d) == 0 && s + d <= b) carry[s] = j_add(carry[s], carry[s + d]);
}

template <class F>
__global__ void k_msm_fix(const uint32_t * counts, const uint32_t * offsets, uint32_t nkeys, const Jac<F> * carry,
                          Jac<F> * buckets) {
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= nkeys) return;
    const uint32_t cnt = counts[k];
    if (cnt == 0) { buckets[k] = Jac<F>::inf(); return; }
    const uint32_t s0 = offsets[k] / kSeg, s1 = (offsets[k] + cnt - 1) / kSeg;
    if (s1 > s0) buckets[k] = j_add(buckets[k], carry[s0 + 1]);
}

// Group g of window w covers buckets [lo, lo + kGroup): Σ (b+1)·bucket[b] over
// the group = Σ (b-lo+1)·bucket[b] (running sums from the top) + lo·Σ bucket[b].
template <class F>
__global__ void k_msm_groups(const Jac<F> * buckets, uint32_t B, uint32_t ngroups, Jac<F> * partial) {
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t G = B / kGroup;
    if (id >= ngroups) return;
    const uint32_t w = id / G, lo = (id % G) * kGroup;
    const Jac<F> * b = buckets + (size_t) w * B;
    Jac<F> run = Jac<F>::inf(), acc = Jac<F>::inf();
#pragma unroll 1   // calls, not code: unrolling only grows the kernel
    for (int k = (int) kGroup - 1; k >= 0; --k) {
        run = j_add(run, b[lo + (uint32_t) k]);
        acc = j_add(acc, run);
    }
    partial[id] = lo ? j_add(acc, j_mul_small(run, lo)) : acc;
}

template <class F>
__global__ void k_msm_windows(const Jac<F> * partial, uint32_t G, Jac<F> * out) {
    __shared__ Jac<F> sh[kWinThreads];
    const unsigned t = threadIdx.x, w = blockIdx.x;
    Jac<F> acc = Jac<F>::inf();
    for (uint32_t g = t; g < G; g += kWinThreads) acc = j_add(acc, partial[(size_t) w * G + g]);
    sh[t] = acc;
    __syncthreads();
    for (unsigned h = kWinThreads / 2; h > 0; h >>= 1) {
        if (t < h) sh[t] = j_add(sh[t], sh[t + h]);
        __syncthreads();
    }
    if (t == 0) out[w] = sh[0];
}

__global__ void k_ntt_twiddles(Fr * tw, uint32_t count, const Fr * wpow) {
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= count) return;
    Fr x = Fr::one();
    for (unsigned j = 0; (k >> j) != 0; ++j) {
        if ((k >> j) & 1) x = fe_mul(x, wpow[j]);
    }
    tw[k] = x;
}

__global__ void k_ntt_bitrev(Fr * a, uint32_t n, unsigned log2n) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t j = 0;
    for (unsigned b = 0; b < log2n; ++b) j |= ((i >> b) & 1) << (log2n - 1 - b);
    if (i < j) { const Fr t = a[i]; a[i] = a[j]; a[j] = t; }
}

// Stage s (half-length h = 2^(s-1)) of the Cooley-Tukey loop in ntt.cc.
__global__ void k_ntt_stage(Fr * a, const Fr * tw, uint32_t n, unsigned s) {
    const uint32_t bi = blockIdx.x * blockDim.x + threadIdx.x;
    if (bi >= n / 2) return;
    const uint32_t h = 1u << (s - 1), stride = n >> s;
    const uint32_t blk = bi >> (s - 1), k = bi & (h - 1);
    const uint32_t i = (blk << s) + k;
    const Fr t = fe_mul(a[i + h], tw[k * stride]);
    const Fr u = a[i];
    a[i] = fe_add(u, t);
    a[i + h] = fe_sub(u, t);
}

__global__ void k_fr_scale(Fr * a, uint32_t n, Fr f) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) a[i] = fe_mul(a[i], f);
}

__global__ void k_apply_key(Fr * a, uint32_t n, Fr first, const Fr * incpow) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    Fr x = first;
    for (unsigned j = 0; (i >> j) != 0; ++j) {
        if ((i >> j) & 1) x = fe_mul(x, incpow[j]);
    }
    a[i] = fe_mul(a[i], x);
}

// ---------------------------------------------------------------- host side

void check(cudaError_t e, const char * what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("zk cuda: ") + what + ": " + cudaGetErrorString(e));
}

void check_launch(const char * kernel) {
    check(cudaGetLastError(), kernel);
}

unsigned blocks_for(size_t n) {
    return (unsigned) ((n + kThreads - 1) / kThreads);
}

// Device buffer owned for one call.
template <class T>
struct Dev {
    T * p = nullptr;
    Dev(size_t count, const char * what) {
        check(cudaMalloc((void **) &p, count * sizeof(T) + (count == 0)), what);
    }
    ~Dev() { if (p) cudaFree(p); }
    Dev(const Dev &) = delete;
    Dev & operator=(const Dev &) = delete;
};

// One prover call on the GPU at a time: each call sizes its buffers for the
// whole device, and two at once would only fight over memory.
std::mutex & gpu_mutex() {
    static std::mutex m;
    return m;
}

// W·(n + 2^c) additions at window width c, as msm_window_bits on the CPU; c is
// capped at 16 so bucket indices and digits fit the entry encoding.
unsigned gpu_window_bits(size_t n) {
    unsigned best = 2;
    double best_cost = 1e300;
    for (unsigned c = 2; c <= 16; ++c) {
        const double windows = SCALAR_BITS / c + 1;
        const double cost = windows * ((double) n + 2.0 * (double) (1u << c));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

// Points per GPU pass: bounds the sorted-entry buffers (2 × W × n × 4 bytes).
constexpr size_t kMsmChunk = (size_t) 1 << 24;

template <class F, class HA, class HJ>
HJ msm_chunk(const HA * bases, const vm_zk::U256 * scalars, size_t n) {
    using J = Jac<F>;
    static_assert(sizeof(HA) == sizeof(Aff<F>) && sizeof(HJ) == sizeof(J), "layouts");
    const unsigned c = gpu_window_bits(n);
    const unsigned W = SCALAR_BITS / c + 1;   // c·W >= 255: the top digit absorbs the last carry
    const uint32_t B = 1u << (c - 1);
    const uint32_t nkeys = W * B;
    Dev<uint32_t> d_scalars((size_t) n * 8, "cudaMalloc (msm scalars)");
    Dev<Aff<F>> d_bases(n, "cudaMalloc (msm bases)");
    check(cudaMemcpy(d_scalars.p, scalars, (size_t) n * 32, cudaMemcpyHostToDevice), "cudaMemcpy (msm scalars)");
    check(cudaMemcpy(d_bases.p, bases, (size_t) n * sizeof(Aff<F>), cudaMemcpyHostToDevice), "cudaMemcpy (msm bases)");

    Dev<uint32_t> d_counts(nkeys, "cudaMalloc (msm counts)");
    Dev<uint32_t> d_offsets(nkeys + 1, "cudaMalloc (msm offsets)");
    Dev<uint32_t> d_cursor(nkeys, "cudaMalloc (msm cursor)");
    check(cudaMemset(d_counts.p, 0, nkeys * sizeof(uint32_t)), "cudaMemset (msm counts)");
    VM_LAUNCH(k_msm_count, blocks_for(n), kThreads, 0, 0)(d_scalars.p, (uint32_t) n, c, W, d_counts.p);
    check_launch("k_msm_count");
    VM_LAUNCH(k_scan, 1, kScanThreads, 0, 0)(d_counts.p, d_offsets.p, nkeys);
    check_launch("k_scan");
    uint32_t E = 0;
    check(cudaMemcpy(&E, d_offsets.p + nkeys, sizeof(uint32_t), cudaMemcpyDeviceToHost), "cudaMemcpy (msm total)");
    if (E == 0) return HJ::infinity();
    check(cudaMemcpy(d_cursor.p, d_offsets.p, nkeys * sizeof(uint32_t), cudaMemcpyDeviceToDevice), "cudaMemcpy (msm cursor)");

    Dev<uint32_t> d_entries(E, "cudaMalloc (msm entries)");
    Dev<uint32_t> d_keys(E, "cudaMalloc (msm keys)");
    VM_LAUNCH(k_msm_scatter, blocks_for(n), kThreads, 0, 0)(d_scalars.p, (uint32_t) n, c, W, d_cursor.p, d_entries.p,
                                                           d_keys.p);
    check_launch("k_msm_scatter");

    const uint32_t S = (E + kSeg - 1) / kSeg;
    Dev<J> d_buckets(nkeys, "cudaMalloc (msm buckets)");
    Dev<J> d_carry(S, "cudaMalloc (msm carries)");
    Dev<uint32_t> d_ckey(S, "cudaMalloc (msm carry keys)");
    VM_LAUNCH(k_msm_segments<F>, blocks_for(S), kThreads, 0, 0)(d_entries.p, d_keys.p, E, d_bases.p, d_buckets.p,
                                                               d_carry.p, d_ckey.p);
    check_launch("k_msm_segments");
    for (uint32_t d = 1; d < S; d <<= 1) {
        VM_LAUNCH(k_msm_carry_tree<F>, blocks_for(S), kThreads, 0, 0)(d_ckey.p, d_counts.p, d_offsets.p, S, d, d_carry.p);
        check_launch("k_msm_carry_tree");
    }
    VM_LAUNCH(k_msm_fix<F>, blocks_for(nkeys), kThreads, 0, 0)(d_counts.p, d_offsets.p, nkeys, d_carry.p, d_buckets.p);
    check_launch("k_msm_fix");

    // Fewer buckets than a group (c <= 5, small n): one group per window.
    const uint32_t G = B >= kGroup ? B / kGroup : 1;
    Dev<J> d_partial((size_t) W * G, "cudaMalloc (msm groups)");
    Dev<J> d_windows(W, "cudaMalloc (msm windows)");
    if (B >= kGroup) {
        VM_LAUNCH(k_msm_groups<F>, blocks_for((size_t) W * G), kThreads, 0, 0)(d_buckets.p, B, W * G, d_partial.p);
        check_launch("k_msm_groups");
        VM_LAUNCH(k_msm_windows<F>, W, kWinThreads, 0, 0)(d_partial.p, G, d_windows.p);
        check_launch("k_msm_windows");
    }
    std::vector<J> win(W);
    std::vector<J> small;
    if (B >= kGroup) {
        check(cudaMemcpy(win.data(), d_windows.p, W * sizeof(J), cudaMemcpyDeviceToHost), "cudaMemcpy (msm windows)");
    } else {
        small.resize(nkeys);
        check(cudaMemcpy(small.data(), d_buckets.p, nkeys * sizeof(J), cudaMemcpyDeviceToHost), "cudaMemcpy (msm buckets)");
    }
    check(cudaDeviceSynchronize(), "msm kernels");

    HJ result = HJ::infinity();
    for (unsigned w = W; w-- > 0;) {
        for (unsigned k = 0; k < c; ++k) result = result.dbl();
        if (B >= kGroup) {
            HJ h;
            std::memcpy((void *) &h, &win[w], sizeof(J));
            result = result.add(h);
        } else {
            // At most 16 buckets per window: the running-sum reduction on the host.
            HJ run = HJ::infinity(), acc = HJ::infinity();
            for (uint32_t b = B; b-- > 0;) {
                HJ h;
                std::memcpy((void *) &h, &small[(size_t) w * B + b], sizeof(J));
                run = run.add(h);
                acc = acc.add(run);
            }
            result = result.add(acc);
        }
    }
    return result;
}

template <class F, class HA, class HJ>
HJ msm(const HA * bases, const vm_zk::U256 * scalars, size_t n) {
    if (n > 0 && (bases == nullptr || scalars == nullptr)) throw std::invalid_argument("zk_cuda_msm: null input");
    for (size_t i = 0; i < n; ++i) {
        if (scalars[i].v[3] >> 62) {
            throw std::invalid_argument("zk_cuda_msm: scalar " + std::to_string(i) + " is not below 2^254");
        }
    }
    // VERIMESH_ZK_CUDA_MSM_CHUNK=k caps the points per pass (tests reach the
    // multi-pass path with small inputs); results do not depend on it.
    size_t chunk = kMsmChunk;
    if (const char * env = std::getenv("VERIMESH_ZK_CUDA_MSM_CHUNK")) {
        const long long k = std::atoll(env);
        if (k >= 1 && (size_t) k < kMsmChunk) chunk = (size_t) k;
    }
    std::lock_guard<std::mutex> lock(gpu_mutex());
    check(cudaSetDevice(0), "cudaSetDevice");
    HJ result = HJ::infinity();
    for (size_t lo = 0; lo < n; lo += chunk) {
        const size_t m = std::min(chunk, n - lo);
        result = result.add(msm_chunk<F, HA, HJ>(bases + lo, scalars + lo, m));
    }
    return result;
}

// table[j] = x^(2^j), j < count.
std::vector<vm_zk::Fr> pow2_table(vm_zk::Fr x, unsigned count) {
    std::vector<vm_zk::Fr> t(count == 0 ? 1 : count);
    for (unsigned j = 0; j < count; ++j) { t[j] = x; x = x.sqr(); }
    return t;
}

Fr to_dev(const vm_zk::Fr & f) {
    Fr r;
    std::memcpy(r.v, f.v, 32);
    return r;
}

// The NTT on data already on the device.
void ntt_device(Fr * d_a, unsigned log2n, bool inverse) {
    const uint32_t n = 1u << log2n;
    if (n == 1) return;
    vm_zk::Fr w = vm_zk::fr_root_of_unity(log2n);
    if (inverse) w = w.inv();
    const std::vector<vm_zk::Fr> wpow = pow2_table(w, log2n);
    Dev<Fr> d_wpow(log2n, "cudaMalloc (ntt roots)");
    Dev<Fr> d_tw(n / 2, "cudaMalloc (ntt twiddles)");
    check(cudaMemcpy(d_wpow.p, wpow.data(), log2n * 32, cudaMemcpyHostToDevice), "cudaMemcpy (ntt roots)");
    VM_LAUNCH(k_ntt_twiddles, blocks_for(n / 2), kThreads, 0, 0)(d_tw.p, n / 2, d_wpow.p);
    check_launch("k_ntt_twiddles");
    VM_LAUNCH(k_ntt_bitrev, blocks_for(n), kThreads, 0, 0)(d_a, n, log2n);
    check_launch("k_ntt_bitrev");
    for (unsigned s = 1; s <= log2n; ++s) {
        VM_LAUNCH(k_ntt_stage, blocks_for(n / 2), kThreads, 0, 0)(d_a, d_tw.p, n, s);
        check_launch("k_ntt_stage");
    }
    if (inverse) {
        VM_LAUNCH(k_fr_scale, blocks_for(n), kThreads, 0, 0)(d_a, n, to_dev(vm_zk::Fr::from_u64(n).inv()));
        check_launch("k_fr_scale");
    }
    check(cudaDeviceSynchronize(), "ntt kernels");
}

void apply_key_device(Fr * d_a, uint32_t n, const vm_zk::Fr & first, const vm_zk::Fr & inc) {
    unsigned bits = 0;
    while (bits < 32 && (n - 1) >> bits) ++bits;
    const std::vector<vm_zk::Fr> ipow = pow2_table(inc, bits);
    Dev<Fr> d_ipow(ipow.size(), "cudaMalloc (apply_key powers)");
    check(cudaMemcpy(d_ipow.p, ipow.data(), ipow.size() * 32, cudaMemcpyHostToDevice), "cudaMemcpy (apply_key powers)");
    VM_LAUNCH(k_apply_key, blocks_for(n), kThreads, 0, 0)(d_a, n, to_dev(first), d_ipow.p);
    check_launch("k_apply_key");
    check(cudaDeviceSynchronize(), "apply_key kernel");
}

void check_log2n(unsigned log2n, const char * fn) {
    if (log2n > 28) throw std::invalid_argument(std::string(fn) + ": log2n " + std::to_string(log2n) + " > 28");
}

} // namespace
} // namespace vm_zkc

namespace vm_zk {

bool zk_cuda_available(std::string * why_not) {
    static std::once_flag once;
    static bool ok = false;
    static std::string reason;
    std::call_once(once, [] {
        int count = 0;
        cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) { reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e); return; }
        if (count == 0) { reason = "no CUDA device"; return; }
        e = cudaSetDevice(0);
        if (e != cudaSuccess) { reason = std::string("cudaSetDevice: ") + cudaGetErrorString(e); return; }
        // A tiny launch finds a build without a kernel image for this GPU.
        uint32_t * d = nullptr;
        e = cudaMalloc((void **) &d, sizeof(uint32_t));
        if (e != cudaSuccess) { reason = std::string("cudaMalloc: ") + cudaGetErrorString(e); return; }
        VM_LAUNCH(vm_zkc::k_probe, 1, 1, 0, 0)(d);
        e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaDeviceSynchronize();
        uint32_t v = 0;
        if (e == cudaSuccess) e = cudaMemcpy(&v, d, sizeof(uint32_t), cudaMemcpyDeviceToHost);
        cudaFree(d);
        if (e != cudaSuccess) { reason = std::string("probe kernel: ") + cudaGetErrorString(e); return; }
        if (v != vm_zkc::FrP::one(0)) { reason = "probe kernel computed a wrong value"; return; }
        ok = true;
    });
    if (!ok && why_not) *why_not = reason;
    return ok;
}

std::string zk_cuda_device_name() {
    if (!zk_cuda_available(nullptr)) return "";
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) return "";
    return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
           std::to_string(p.totalGlobalMem >> 20) + " MB)";
}

G1Jac zk_cuda_msm_g1(const G1Affine * bases, const U256 * scalars, size_t n) {
    return vm_zkc::msm<vm_zkc::Fq, G1Affine, G1Jac>(bases, scalars, n);
}

G2Jac zk_cuda_msm_g2(const G2Affine * bases, const U256 * scalars, size_t n) {
    return vm_zkc::msm<vm_zkc::Fq2, G2Affine, G2Jac>(bases, scalars, n);
}

void zk_cuda_ntt(Fr * a, unsigned log2n, bool inverse) {
    vm_zkc::check_log2n(log2n, "zk_cuda_ntt");
    const size_t n = (size_t) 1 << log2n;
    std::lock_guard<std::mutex> lock(vm_zkc::gpu_mutex());
    vm_zkc::check(cudaSetDevice(0), "cudaSetDevice");
    vm_zkc::Dev<vm_zkc::Fr> d(n, "cudaMalloc (ntt values)");
    vm_zkc::check(cudaMemcpy(d.p, a, n * 32, cudaMemcpyHostToDevice), "cudaMemcpy (ntt values)");
    vm_zkc::ntt_device(d.p, log2n, inverse);
    vm_zkc::check(cudaMemcpy(a, d.p, n * 32, cudaMemcpyDeviceToHost), "cudaMemcpy (ntt values back)");
}

void zk_cuda_apply_key(Fr * a, size_t n, const Fr & first, const Fr & inc) {
    if (n == 0) return;
    if (n > ((size_t) 1 << 28)) throw std::invalid_argument("zk_cuda_apply_key: n > 2^28");
    std::lock_guard<std::mutex> lock(vm_zkc::gpu_mutex());
    vm_zkc::check(cudaSetDevice(0), "cudaSetDevice");
    vm_zkc::Dev<vm_zkc::Fr> d(n, "cudaMalloc (apply_key values)");
    vm_zkc::check(cudaMemcpy(d.p, a, n * 32, cudaMemcpyHostToDevice), "cudaMemcpy (apply_key values)");
    vm_zkc::apply_key_device(d.p, (uint32_t) n, first, inc);
    vm_zkc::check(cudaMemcpy(a, d.p, n * 32, cudaMemcpyDeviceToHost), "cudaMemcpy (apply_key values back)");
}

void zk_cuda_to_coset(Fr * a, unsigned log2n, const Fr & inc) {
    vm_zkc::check_log2n(log2n, "zk_cuda_to_coset");
    const size_t n = (size_t) 1 << log2n;
    std::lock_guard<std::mutex> lock(vm_zkc::gpu_mutex());
    vm_zkc::check(cudaSetDevice(0), "cudaSetDevice");
    vm_zkc::Dev<vm_zkc::Fr> d(n, "cudaMalloc (coset values)");
    vm_zkc::check(cudaMemcpy(d.p, a, n * 32, cudaMemcpyHostToDevice), "cudaMemcpy (coset values)");
    vm_zkc::ntt_device(d.p, log2n, true);
    vm_zkc::apply_key_device(d.p, (uint32_t) n, Fr::one(), inc);
    vm_zkc::ntt_device(d.p, log2n, false);
    vm_zkc::check(cudaMemcpy(a, d.p, n * 32, cudaMemcpyDeviceToHost), "cudaMemcpy (coset values back)");
}

} // namespace vm_zk
