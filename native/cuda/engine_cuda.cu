// CUDA runner of the integer engine: the whole forward pass of a shard on one GPU
// (docs/engine-spec.md, byte-identical to actors/engine/int/forward.ts).
//
// Layout of the work: a forward of n positions is cut into chunks of up to
// chunk_ positions; each chunk runs layer by layer over all its positions at
// once (prefill batching). That computes exactly the spec's position-by-position
// order, because position t of a layer reads only positions ≤ t of that layer,
// and the K/V rows of the whole chunk are written before its attention runs
// (attention of t reads rows 0..t only).
//
// Every reduction is an integer sum or max, so thread order never changes a
// result. All element-wise arithmetic comes from int_math.cuh, which the host
// check (native/cuda/check/int_check.cu) verifies against the TypeScript.

#if defined(VM_CUDA_EMU)
// Host emulation for tests on machines without a GPU (native/cuda/emu/).
#include "emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
#define VM_LAUNCH(kernel, grid, block, shmem, stream) kernel<<<grid, block, shmem, stream>>>
#define VM_DYN_SHARED(type, name) extern __shared__ type name[]
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runner.h"
#include "int_math.cuh"

namespace vm_engine {
namespace {

using vm_int::Scale;

constexpr int kThreads = 256;          // every kernel below assumes a multiple of 32
constexpr int kGemvMaxT = 4;           // positions one GEMV pass reads each weight row for
constexpr int kGemmBN = 64;            // GEMM tile: weight rows
constexpr int kGemmBT = 64;            //            positions
constexpr int kMaxHeadDim = 8192;      // rope's staging buffer lives in shared memory
constexpr size_t kScoresBudget = (size_t) 64 << 20;   // bytes of attention scores per chunk
constexpr int kMaxChunk = 64;

struct CudaError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string cuda_msg(const char * what, cudaError_t err) {
    return std::string(what) + " failed: " + cudaGetErrorString(err) + " (" + std::to_string((int) err) + ")";
}

void ck(cudaError_t err, const char * what) {
    if (err != cudaSuccess) {
        throw CudaError("cuda: " + cuda_msg(what, err));
    }
}

size_t round16(size_t n) {
    return (n + 15) & ~(size_t) 15;
}

// ---------------------------------------------------------------- reductions

__device__ __forceinline__ uint32_t warp_max_u32(uint32_t v) {
    for (int o = 16; o > 0; o >>= 1) {
        v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ int32_t warp_max_i32(int32_t v) {
    for (int o = 16; o > 0; o >>= 1) {
        v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ int32_t warp_sum_i32(int32_t v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ long long warp_sum_i64(long long v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// Block-wide reductions: every thread of the block must call them (they
// synchronise), and every thread gets the result. The trailing barrier lets a
// kernel call the same reduction again straight away.
__device__ uint32_t block_max_u32(uint32_t v) {
    __shared__ uint32_t sh[32];
    const int lane = threadIdx.x & 31;
    const int w = threadIdx.x >> 5;
    v = warp_max_u32(v);
    if (lane == 0) {
        sh[w] = v;
    }
    __syncthreads();
    if (w == 0) {
        v = lane < (int) (blockDim.x >> 5) ? sh[lane] : 0u;
        v = warp_max_u32(v);
        if (lane == 0) {
            sh[0] = v;
        }
    }
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ int32_t block_max_i32(int32_t v) {
    __shared__ int32_t sh[32];
    const int lane = threadIdx.x & 31;
    const int w = threadIdx.x >> 5;
    v = warp_max_i32(v);
    if (lane == 0) {
        sh[w] = v;
    }
    __syncthreads();
    if (w == 0) {
        v = lane < (int) (blockDim.x >> 5) ? sh[lane] : INT32_MIN;
        v = warp_max_i32(v);
        if (lane == 0) {
            sh[0] = v;
        }
    }
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ long long block_sum_i64(long long v) {
    __shared__ long long sh[32];
    const int lane = threadIdx.x & 31;
    const int w = threadIdx.x >> 5;
    v = warp_sum_i64(v);
    if (lane == 0) {
        sh[w] = v;
    }
    __syncthreads();
    if (w == 0) {
        v = lane < (int) (blockDim.x >> 5) ? sh[lane] : 0;
        v = warp_sum_i64(v);
        if (lane == 0) {
            sh[0] = v;
        }
    }
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

// ---------------------------------------------------------------- kernels

// Residual x of T positions from embedding rows (spec §2.7, first shard). With
// bq != nullptr (a shard without layers) the rows are also the boundary output.
__global__ void k_embed(const int32_t * __restrict__ tokens, const int8_t * __restrict__ emb_q,
                        const int32_t * __restrict__ emb_s, int dim, int T, int32_t * __restrict__ x,
                        int8_t * __restrict__ bq, int32_t * __restrict__ bs) {
    const size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t) T * dim) {
        return;
    }
    const int t = (int) (idx / dim);
    const int i = (int) (idx % dim);
    const size_t tok = (size_t) tokens[t];
    const int8_t q = emb_q[tok * dim + i];
    const int32_t s = emb_s[tok * (dim / 32) + i / 32];
    x[idx] = vm_int::bact_x(q, s);
    if (bq != nullptr) {
        bq[idx] = q;
        if (i % 32 == 0) {
            bs[idx / 32] = s;
        }
    }
}

// Residual from boundary activations; dim is a multiple of 32, so position and
// block indices fold into one flat index.
__global__ void k_dequant(const int8_t * __restrict__ q, const int32_t * __restrict__ s, size_t total,
                          int32_t * __restrict__ x) {
    const size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < total) {
        x[idx] = vm_int::bact_x(q[idx], s[idx / 32]);
    }
}

// rmsnorm (spec §2.2) followed by qvec (§1.3); one block per position. y is
// recomputed rather than staged: a row of up to 16384 int32 would not fit in
// shared memory, and an rdiv is cheap next to the GEMM that follows.
__global__ void __launch_bounds__(kThreads) k_rmsnorm_q(const int32_t * __restrict__ x, int dim,
                                                        const int32_t * __restrict__ g, long long eps_q32,
                                                        int8_t * __restrict__ aq, int kp, Scale * __restrict__ as) {
    const int t = blockIdx.x;
    const int32_t * xr = x + (size_t) t * dim;
    uint32_t am = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        am = max(am, vm_int::abs32(xr[i]));
    }
    am = block_max_u32(am);
    const int k = vm_int::rms_shift(am);
    long long ss = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const long long xs = vm_int::rshr_pos(xr[i], k);
        ss += xs * xs;
    }
    ss = block_sum_i64(ss);
    const long long r = vm_int::rms_r(ss, dim, eps_q32, k);
    uint32_t ym = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        ym = max(ym, vm_int::abs32(vm_int::rms_y((int32_t) vm_int::rshr_pos(xr[i], k), g[i], r)));
    }
    ym = block_max_u32(ym);
    int8_t * out = aq + (size_t) t * kp;
    for (int i = threadIdx.x; i < kp; i += blockDim.x) {
        int8_t q = 0;
        if (i < dim && ym != 0) {
            q = vm_int::qvec_q(vm_int::rms_y((int32_t) vm_int::rshr_pos(xr[i], k), g[i], r), ym);
        }
        out[i] = q;
    }
    if (threadIdx.x == 0) {
        as[t] = vm_int::qvec_scale(ym);
    }
}

// qvec of T rows of n int32 (stride ld) into int8 rows of kp (zero padded).
__global__ void __launch_bounds__(kThreads) k_qvec(const int32_t * __restrict__ v, int ld, int n,
                                                   int8_t * __restrict__ aq, int kp, Scale * __restrict__ as) {
    const int t = blockIdx.x;
    const int32_t * vr = v + (size_t) t * ld;
    uint32_t am = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        am = max(am, vm_int::abs32(vr[i]));
    }
    am = block_max_u32(am);
    int8_t * out = aq + (size_t) t * kp;
    for (int i = threadIdx.x; i < kp; i += blockDim.x) {
        out[i] = (i < n && am != 0) ? vm_int::qvec_q(vr[i], am) : (int8_t) 0;
    }
    if (threadIdx.x == 0) {
        as[t] = vm_int::qvec_scale(am);
    }
}

// h_i = mulr(silu(gate_i), up_i, 16), then qvec(h) (spec §2.6). gu holds T rows of
// [gate (ffn) | up (ffn)]: the two projections are one concatenated GEMM.
__global__ void __launch_bounds__(kThreads) k_swiglu_q(const int32_t * __restrict__ gu, int ffn,
                                                       int8_t * __restrict__ aq, int kp, Scale * __restrict__ as) {
    const int t = blockIdx.x;
    const int32_t * gate = gu + (size_t) t * 2 * ffn;
    const int32_t * up = gate + ffn;
    uint32_t am = 0;
    for (int i = threadIdx.x; i < ffn; i += blockDim.x) {
        am = max(am, vm_int::abs32(vm_int::swiglu(gate[i], up[i])));
    }
    am = block_max_u32(am);
    int8_t * out = aq + (size_t) t * kp;
    for (int i = threadIdx.x; i < kp; i += blockDim.x) {
        out[i] = (i < ffn && am != 0) ? vm_int::qvec_q(vm_int::swiglu(gate[i], up[i]), am) : (int8_t) 0;
    }
    if (threadIdx.x == 0) {
        as[t] = vm_int::qvec_scale(am);
    }
}

__device__ __forceinline__ int dot16(int4 a, int4 b, int acc) {
    acc = __dp4a(a.x, b.x, acc);
    acc = __dp4a(a.y, b.y, acc);
    acc = __dp4a(a.z, b.z, acc);
    return __dp4a(a.w, b.w, acc);
}

// Spec §2.1 after the accumulation, plus the bias and, for Wo / Wdown, the
// residual add (resid != 0: out is the residual x and receives sat32(x + y)).
__device__ __forceinline__ void linear_store(int32_t acc, Scale w, Scale a, const int32_t * bias, int row,
                                             int32_t * dst, int resid) {
    int32_t y = vm_int::linear_out(acc, w, a);
    if (bias != nullptr) {
        y = vm_int::add_sat(y, bias[row]);
    }
    *dst = resid ? vm_int::add_sat(*dst, y) : y;
}

// out[t][j] for few positions (decode): one warp per weight row streams the row
// once per kGemvMaxT positions with 16-byte loads and dp4a (exact int8 products
// summed in int32; |acc| ≤ 127² · K < 2^31 by the spec's bound on K).
__global__ void __launch_bounds__(kThreads) k_gemv(const int8_t * __restrict__ A, const Scale * __restrict__ as,
                                                   int T, int kp,
                                                   const int8_t * __restrict__ W, const Scale * __restrict__ ws,
                                                   const int32_t * __restrict__ bias, int N,
                                                   int32_t * out, int ldo, int resid) {
    const int row = (int) (((size_t) blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= N) {
        return;   // whole warps only: no barrier below
    }
    const int t0 = blockIdx.y * kGemvMaxT;
    const int nt = min(kGemvMaxT, T - t0);
    const int chunks = kp / 16;
    const int4 * w4 = reinterpret_cast<const int4 *>(W + (size_t) row * kp);
    int acc[kGemvMaxT];
#pragma unroll
    for (int t = 0; t < kGemvMaxT; ++t) {
        acc[t] = 0;
    }
    for (int c = lane; c < chunks; c += 32) {
        const int4 w = __ldg(w4 + c);
#pragma unroll
        for (int t = 0; t < kGemvMaxT; ++t) {
            if (t < nt) {
                const int4 a = __ldg(reinterpret_cast<const int4 *>(A + (size_t) (t0 + t) * kp) + c);
                acc[t] = dot16(a, w, acc[t]);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < kGemvMaxT; ++t) {
        acc[t] = warp_sum_i32(acc[t]);
    }
    if (lane == 0) {
        const Scale wsc = ws[row];
        for (int t = 0; t < nt; ++t) {
            linear_store(acc[t], wsc, as[t0 + t], bias, row, out + (size_t) (t0 + t) * ldo + row, resid);
        }
    }
}

// out[t][j] for many positions (prefill): 64 rows x 64 positions per block, 64
// bytes of K per step staged in shared memory as int32 words (4 int8 each), each
// thread accumulating a 4 x 4 tile with dp4a.
__global__ void __launch_bounds__(kThreads) k_gemm(const int8_t * __restrict__ A, const Scale * __restrict__ as,
                                                   int T, int kp,
                                                   const int8_t * __restrict__ W, const Scale * __restrict__ ws,
                                                   const int32_t * __restrict__ bias, int N,
                                                   int32_t * out, int ldo, int resid) {
    // [word of the K step][row or position]; +4 keeps rows 16-byte aligned and
    // spreads the transposed stores over more banks.
    __shared__ __align__(16) int Ws[16][kGemmBN + 4];
    __shared__ __align__(16) int As[16][kGemmBT + 4];
    const int tid = threadIdx.x;
    const int n0 = blockIdx.x * kGemmBN;
    const int t0 = blockIdx.y * kGemmBT;
    const int tx = tid & 15;          // rows n0 + 4tx .. +3
    const int ty = tid >> 4;          // positions t0 + 4ty .. +3
    const int lr = tid >> 2;          // loader: row / position within the tile
    const int lc = tid & 3;           // loader: 16-byte chunk within the K step
    const int chunks = kp / 16;
    const int4 * wrow = (n0 + lr < N) ? reinterpret_cast<const int4 *>(W + (size_t) (n0 + lr) * kp) : nullptr;
    const int4 * arow = (t0 + lr < T) ? reinterpret_cast<const int4 *>(A + (size_t) (t0 + lr) * kp) : nullptr;
    int acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            acc[i][j] = 0;
        }
    }
    for (int k0 = 0; k0 < chunks; k0 += 4) {
        const int c = k0 + lc;
        int4 wv = make_int4(0, 0, 0, 0);
        int4 av = make_int4(0, 0, 0, 0);
        if (c < chunks) {
            if (wrow != nullptr) {
                wv = __ldg(wrow + c);
            }
            if (arow != nullptr) {
                av = __ldg(arow + c);
            }
        }
        Ws[lc * 4 + 0][lr] = wv.x;
        Ws[lc * 4 + 1][lr] = wv.y;
        Ws[lc * 4 + 2][lr] = wv.z;
        Ws[lc * 4 + 3][lr] = wv.w;
        As[lc * 4 + 0][lr] = av.x;
        As[lc * 4 + 1][lr] = av.y;
        As[lc * 4 + 2][lr] = av.z;
        As[lc * 4 + 3][lr] = av.w;
        __syncthreads();
#pragma unroll
        for (int kw = 0; kw < 16; ++kw) {
            const int4 w = *reinterpret_cast<const int4 *>(&Ws[kw][tx * 4]);
            const int4 a = *reinterpret_cast<const int4 *>(&As[kw][ty * 4]);
            const int wa[4] = {w.x, w.y, w.z, w.w};
            const int aa[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
            for (int i = 0; i < 4; ++i) {
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    acc[i][j] = __dp4a(aa[i], wa[j], acc[i][j]);
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int t = t0 + ty * 4 + i;
        if (t >= T) {
            continue;
        }
        const Scale asc = as[t];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int n = n0 + tx * 4 + j;
            if (n < N) {
                linear_store(acc[i][j], ws[n], asc, bias, n, out + (size_t) t * ldo + n, resid);
            }
        }
    }
}

// RoPE (spec §2.3) on the q and k heads, then qvec of every head (§2.5): q heads
// go to qh, k and v heads into the session's cache rows. One block per
// (position, head) with the head's q, k and v concatenated as units
// [0, H) q, [H, H + Hkv) k, [H + Hkv, H + 2Hkv) v, as the fused QKV GEMM wrote them.
__global__ void __launch_bounds__(kThreads) k_rope_qvec(const int32_t * __restrict__ qkv, int ld, int pos0,
                                                        int H, int Hkv, int hd, int hdp,
                                                        const int32_t * __restrict__ rope, int halves,
                                                        int8_t * __restrict__ qh, Scale * __restrict__ qs,
                                                        int8_t * __restrict__ Kc, Scale * __restrict__ KS,
                                                        int8_t * __restrict__ Vc, Scale * __restrict__ VS) {
    VM_DYN_SHARED(int32_t, rope_sv);
    const int t = blockIdx.x;
    const int u = blockIdx.y;
    const int pos = pos0 + t;
    const int32_t * src = qkv + (size_t) t * ld + (size_t) u * hd;
    const int half = hd / 2;
    if (u < H + Hkv) {
        const int32_t * cs = rope + (size_t) pos * half * 2;
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            const int ia = halves ? i : 2 * i;
            const int ib = halves ? i + half : 2 * i + 1;
            vm_int::rope_pair(src[ia], src[ib], cs[2 * i], cs[2 * i + 1], &rope_sv[ia], &rope_sv[ib]);
        }
    } else {
        for (int i = threadIdx.x; i < hd; i += blockDim.x) {
            rope_sv[i] = src[i];
        }
    }
    __syncthreads();
    uint32_t am = 0;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        am = max(am, vm_int::abs32(rope_sv[i]));
    }
    am = block_max_u32(am);
    int8_t * dst;
    Scale * dsc;
    if (u < H) {
        dst = qh + ((size_t) t * H + u) * hdp;
        dsc = qs + (size_t) t * H + u;
    } else if (u < H + Hkv) {
        const size_t row = (size_t) pos * Hkv + (u - H);
        dst = Kc + row * hdp;
        dsc = KS + row;
    } else {
        const size_t row = (size_t) pos * Hkv + (u - H - Hkv);
        dst = Vc + row * hdp;
        dsc = VS + row;
    }
    for (int i = threadIdx.x; i < hdp; i += blockDim.x) {
        dst[i] = (i < hd && am != 0) ? vm_int::qvec_q(rope_sv[i], am) : (int8_t) 0;
    }
    if (threadIdx.x == 0) {
        *dsc = vm_int::qvec_scale(am);
    }
}

// Attention of one query head at one position over cache rows 0..pos (spec §2.5,
// exact integer softmax). The per-row values go through `sc` (this head's row of
// the scores scratch): logits, then exponentials, then the V weights.
__global__ void __launch_bounds__(kThreads) k_attention(const int8_t * __restrict__ qh, const Scale * __restrict__ qs,
                                                        const int8_t * __restrict__ Kc, const Scale * __restrict__ KS,
                                                        const int8_t * __restrict__ Vc, const Scale * __restrict__ VS,
                                                        int pos0, int H, int Hkv, int hd, int hdp, int ctx,
                                                        Scale c, int32_t * __restrict__ scores,
                                                        int32_t * __restrict__ o) {
    VM_DYN_SHARED(int4, attn_q);                       // the query head, hdp bytes
    __shared__ long long part[kThreads];
    const int t = blockIdx.x;
    const int h = blockIdx.y;
    const int P = pos0 + t;                            // rows 0..P inclusive
    const int g = h / (H / Hkv);
    const int chunks = hdp / 16;
    const int4 * q4 = reinterpret_cast<const int4 *>(qh + ((size_t) t * H + h) * hdp);
    for (int i = threadIdx.x; i < chunks; i += blockDim.x) {
        attn_q[i] = q4[i];
    }
    __syncthreads();
    const Scale qsc = qs[(size_t) t * H + h];
    int32_t * sc = scores + ((size_t) t * H + h) * ctx;

    int32_t mx = INT32_MIN;
    for (int j = threadIdx.x; j <= P; j += blockDim.x) {
        const size_t row = (size_t) j * Hkv + g;
        const int4 * k4 = reinterpret_cast<const int4 *>(Kc + row * hdp);
        int acc = 0;
        for (int cidx = 0; cidx < chunks; ++cidx) {
            acc = dot16(attn_q[cidx], __ldg(k4 + cidx), acc);
        }
        const int32_t l = vm_int::attn_logit(acc, KS[row], qsc, c);
        sc[j] = l;
        mx = max(mx, l);
    }
    mx = block_max_i32(mx);

    long long S = 0;
    int32_t X = INT32_MIN;
    for (int j = threadIdx.x; j <= P; j += blockDim.x) {
        const long long e = vm_int::attn_exp(sc[j], mx);
        sc[j] = (int32_t) e;                           // ≤ 2^30
        S += e;
        X = max(X, VS[(size_t) j * Hkv + g].x);
    }
    S = block_sum_i64(S);
    X = block_max_i32(X);

    for (int j = threadIdx.x; j <= P; j += blockDim.x) {
        sc[j] = vm_int::attn_weight(sc[j], S, VS[(size_t) j * Hkv + g], X);
    }
    __syncthreads();                                   // every weight written before any thread reads them all

    // o_i = Σ_j w_j · V_j[i] in int64: `groups` sets of `span` threads each take
    // every groups-th row, then the first set adds the partial sums.
    const int span = hd < (int) blockDim.x ? hd : (int) blockDim.x;
    const int groups = blockDim.x / span;
    const int gi = threadIdx.x / span;
    const int li = threadIdx.x % span;
    for (int i0 = 0; i0 < hd; i0 += span) {
        const int i = i0 + li;
        long long acc = 0;
        if (gi < groups && i < hd) {
            for (int j = gi; j <= P; j += groups) {
                acc += (long long) sc[j] * Vc[((size_t) j * Hkv + g) * hdp + i];
            }
        }
        part[threadIdx.x] = acc;
        __syncthreads();
        if (gi == 0 && i < hd) {
            long long sum = 0;
            for (int s = 0; s < groups; ++s) {
                sum += part[s * span + li];
            }
            o[((size_t) t * H + h) * hd + i] = vm_int::attn_out(sum, X);
        }
        __syncthreads();
    }
}

// Layer boundary (spec §1.4, §2.7): one warp per 32-block; writes the boundary
// activations and replaces the residual by its dequantised value.
__global__ void __launch_bounds__(kThreads) k_bact(int32_t * __restrict__ x, size_t blocks,
                                                   int8_t * __restrict__ bq, int32_t * __restrict__ bs) {
    const size_t b = ((size_t) blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (b >= blocks) {
        return;   // whole warps only
    }
    const size_t idx = b * 32 + lane;
    const int32_t v = x[idx];
    const uint32_t am = warp_max_u32(vm_int::abs32(v));
    const int32_t s = vm_int::bact_scale(am);
    const int8_t q = vm_int::bact_q(v, s);
    bq[idx] = q;
    x[idx] = vm_int::bact_x(q, s);
    if (lane == 0) {
        bs[b] = s;
    }
}

// Used once at construction: a kernel image for this GPU must exist.
__global__ void k_probe() {}

// ---------------------------------------------------------------- host side

struct DevLinear {
    int8_t *  w = nullptr;       // rows x kp, each row zero padded from cols to kp
    Scale *   s = nullptr;
    int32_t * bias = nullptr;    // nullptr when no part has a bias
    int       rows = 0;
    int       kp = 0;
};

struct DevLayer {
    int32_t * attn_norm = nullptr;
    DevLinear qkv;               // [Wq; Wk; Wv]
    DevLinear wo;
    int32_t * ffn_norm = nullptr;
    DevLinear gu;                // [Wgate; Wup]
    DevLinear down;
};

// One session's KV cache on the device. Per layer: K, V (cap x Hkv rows of hdp
// int8) then their scales (cap x Hkv); `cap` positions grow on demand up to the
// context, so a short session does not hold a full-context cache. Freed when
// the last holder lets go, so end_session during a forward of the same session
// cannot pull memory from under running kernels.
struct Session {
    int    device = 0;
    void * mem = nullptr;
    int    cap = 0;              // positions allocated per layer
    int    length = 0;           // guarded by CudaShardRunner::mu_
    ~Session() {
        if (mem != nullptr) {
            cudaSetDevice(device);
            cudaFree(mem);
        }
    }
};

struct LayerCache {
    int8_t * K;
    int8_t * V;
    Scale *  KS;
    Scale *  VS;
};

class CudaShardRunner final : public ShardRunner {
public:
    explicit CudaShardRunner(int device) : device_(device) {}

    ~CudaShardRunner() override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            sessions_.clear();
        }
        cudaSetDevice(device_);
        if (stream_ != nullptr) {
            cudaStreamDestroy(stream_);
        }
        for (void * p : allocs_) {
            cudaFree(p);
        }
    }

    // Uploads the shard; returns why it cannot run on this GPU, or "" on success.
    std::string init(const ShardDesc & d);

    void forward(const std::string & session, int pos, int n,
                 const int32_t * tokens,
                 const int8_t * act_q, const int32_t * act_scales,
                 int8_t * out_q, int32_t * out_scales,
                 int32_t * logits) override;

    void end_session(const std::string & session) override {
        std::shared_ptr<Session> drop;
        {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = sessions_.find(session);
            if (it == sessions_.end()) {
                return;
            }
            drop = std::move(it->second);
            sessions_.erase(it);
        }
        // `drop` frees the cache here, outside the lock, unless a forward still holds it.
    }

    int session_length(const std::string & session) const override {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sessions_.find(session);
        return it == sessions_.end() ? 0 : it->second->length;
    }

    const char * kernel_name() const override { return "cuda"; }

    const ShardInfo & info() const override { return info_; }

private:
    template <typename T>
    T * alloc(size_t count) {
        void * p = nullptr;
        const size_t bytes = std::max<size_t>(count * sizeof(T), 16);
        ck(cudaMalloc(&p, bytes), ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str());
        allocs_.push_back(p);
        return static_cast<T *>(p);
    }

    template <typename T>
    T * upload(const T * src, size_t count) {
        T * p = alloc<T>(count);
        ck(cudaMemcpy(p, src, count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy (weights)");
        return p;
    }

    DevLinear upload_linears(const std::vector<const QLinearDesc *> & parts, int kp);
    size_t layer_cache_bytes(int cap) const;
    LayerCache layer_cache(void * mem, int cap, int l) const;
    void reserve(Session & s, int valid, int need);
    void linear(const DevLinear & L, const int8_t * A, const Scale * as, int T, int32_t * out, int ldo, bool resid);
    void run_layer(int l, const Session & s, int pos0, int T);
    void launched(const char * what);

    int          device_;
    cudaStream_t stream_ = nullptr;
    ShardInfo    info_;
    ModelDims    dm_;
    bool         halves_ = false;
    long long    eps_q32_ = 0;
    Scale        attn_c_{0, 0};
    int hd_ = 0, hdp_ = 0, hdim_ = 0, hdimp_ = 0, ffnp_ = 0, qkv_rows_ = 0, kmax_ = 0;
    int chunk_ = 1;

    std::vector<void *> allocs_;
    int32_t * rope_ = nullptr;
    int8_t *  emb_q_ = nullptr;
    int32_t * emb_s_ = nullptr;
    std::vector<DevLayer> layers_;
    int32_t * out_norm_ = nullptr;
    DevLinear out_;

    // Scratch for one chunk of positions (forward calls are serialised by the caller).
    int32_t * x_ = nullptr;        // chunk x dim residual
    int8_t *  aq_ = nullptr;       // chunk x kmax quantised linear input
    Scale *   as_ = nullptr;       // chunk
    int32_t * qkv_ = nullptr;      // chunk x qkv_rows
    int8_t *  qh_ = nullptr;       // chunk x H x hdp
    Scale *   qs_ = nullptr;       // chunk x H
    int32_t * scores_ = nullptr;   // chunk x H x context
    int32_t * o_ = nullptr;        // chunk x H*hd
    int32_t * gu_ = nullptr;       // chunk x 2 ffn
    int8_t *  bq_ = nullptr;       // chunk x dim: boundary values (also the input activations)
    int32_t * bs_ = nullptr;       // chunk x dim/32
    int32_t * tok_ = nullptr;      // chunk
    int32_t * logits_ = nullptr;   // vocab

    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<Session>> sessions_;
};

// Shapes the kernels rely on for their memory accesses. validate_shard_desc
// checks them too; repeating the few that guard device memory costs nothing.
std::string check_shapes(const ShardDesc & d) {
    const ModelDims & m = d.dims;
    const int hd = m.head_dim;
    auto lin = [](const QLinearDesc & L, int rows, int cols, const char * name) -> std::string {
        if (!L.present() || L.rows != rows || L.cols != cols || L.q_len != (size_t) rows * cols ||
            L.scales == nullptr || L.scales_len != (size_t) rows * 2 ||
            (L.bias != nullptr && L.bias_len != (size_t) rows)) {
            return std::string(name) + " does not have the shape " + std::to_string(rows) + "x" + std::to_string(cols);
        }
        return "";
    };
    if (m.dim <= 0 || m.dim % 32 != 0 || m.heads <= 0 || m.kv_heads <= 0 || m.heads % m.kv_heads != 0 ||
        hd <= 0 || hd % 2 != 0 || m.ffn <= 0 || m.context <= 0 || m.vocab <= 0) {
        return "model dimensions are invalid";
    }
    if (d.range_end - d.range_start != (int) d.layers.size()) {
        return "layer count does not match the range";
    }
    if (d.rope == nullptr || d.rope_len != (size_t) m.context * hd) {
        return "rope table has the wrong size";
    }
    for (size_t l = 0; l < d.layers.size(); ++l) {
        const LayerDesc & L = d.layers[l];
        std::string e;
        if (L.attn_norm == nullptr || L.attn_norm_len != (size_t) m.dim || L.ffn_norm == nullptr ||
            L.ffn_norm_len != (size_t) m.dim) {
            e = "norm gains have the wrong size";
        }
        if (e.empty()) e = lin(L.wq, m.heads * hd, m.dim, "wq");
        if (e.empty()) e = lin(L.wk, m.kv_heads * hd, m.dim, "wk");
        if (e.empty()) e = lin(L.wv, m.kv_heads * hd, m.dim, "wv");
        if (e.empty()) e = lin(L.wo, m.dim, m.heads * hd, "wo");
        if (e.empty()) e = lin(L.w_gate, m.ffn, m.dim, "w_gate");
        if (e.empty()) e = lin(L.w_up, m.ffn, m.dim, "w_up");
        if (e.empty()) e = lin(L.w_down, m.dim, m.ffn, "w_down");
        if (!e.empty()) {
            return "layer " + std::to_string(d.range_start + (int) l) + ": " + e;
        }
    }
    if (d.has_embedding() && (d.emb_q_len != (size_t) m.vocab * m.dim || d.emb_scales == nullptr ||
                              d.emb_scales_len != (size_t) m.vocab * m.dim / 32)) {
        return "embedding has the wrong size";
    }
    if (d.has_output()) {
        if (d.output_norm == nullptr || d.output_norm_len != (size_t) m.dim) {
            return "output norm has the wrong size";
        }
        std::string e = lin(d.output, m.vocab, m.dim, "output");
        if (!e.empty()) {
            return e;
        }
    }
    return "";
}

DevLinear CudaShardRunner::upload_linears(const std::vector<const QLinearDesc *> & parts, int kp) {
    DevLinear L;
    L.kp = kp;
    bool any_bias = false;
    for (const QLinearDesc * p : parts) {
        L.rows += p->rows;
        any_bias = any_bias || p->bias != nullptr;
    }
    L.w = alloc<int8_t>((size_t) L.rows * kp);
    L.s = alloc<Scale>((size_t) L.rows);
    ck(cudaMemset(L.w, 0, (size_t) L.rows * kp), "cudaMemset (weights)");
    // A missing bias is a zero bias: sat32(y + 0) = y, y being sat32 already.
    std::vector<int32_t> bias;
    if (any_bias) {
        bias.assign((size_t) L.rows, 0);
    }
    int r0 = 0;
    for (const QLinearDesc * p : parts) {
        ck(cudaMemcpy2D(L.w + (size_t) r0 * kp, kp, p->q, p->cols, p->cols, p->rows, cudaMemcpyHostToDevice),
           "cudaMemcpy2D (weights)");
        static_assert(sizeof(Scale) == 2 * sizeof(int32_t), "Scale is (m, x)");
        ck(cudaMemcpy(L.s + r0, p->scales, (size_t) p->rows * sizeof(Scale), cudaMemcpyHostToDevice),
           "cudaMemcpy (scales)");
        if (p->bias != nullptr) {
            std::memcpy(bias.data() + r0, p->bias, (size_t) p->rows * sizeof(int32_t));
        }
        r0 += p->rows;
    }
    if (any_bias) {
        L.bias = upload(bias.data(), bias.size());
    }
    return L;
}

std::string CudaShardRunner::init(const ShardDesc & d) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError();   // not sticky: keep it out of later calls
        return cuda_msg("cudaGetDeviceCount", err);
    }
    if (count == 0) {
        return "no CUDA devices";
    }
    if (device_ < 0 || device_ >= count) {
        return "no CUDA device " + std::to_string(device_) + " (" + std::to_string(count) + " present)";
    }
    if ((err = cudaSetDevice(device_)) != cudaSuccess) {
        return cuda_msg("cudaSetDevice", err);
    }
    cudaFuncAttributes fa;
    if ((err = cudaFuncGetAttributes(&fa, k_probe)) != cudaSuccess) {
        cudaGetLastError();
        cudaDeviceProp prop;
        std::string arch = cudaGetDeviceProperties(&prop, device_) == cudaSuccess
            ? " (GPU " + std::string(prop.name) + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")"
            : "";
        return cuda_msg("loading the engine kernels", err) + arch +
               "; rebuild with -DCMAKE_CUDA_ARCHITECTURES including this GPU";
    }

    const ModelDims & m = d.dims;
    if (m.head_dim > kMaxHeadDim) {
        return "head_dim " + std::to_string(m.head_dim) + " exceeds the CUDA kernels' limit of " + std::to_string(kMaxHeadDim);
    }
    info_.dims = m;
    info_.range_start = d.range_start;
    info_.range_end = d.range_end;
    info_.has_embedding = d.has_embedding();
    info_.has_output = d.has_output();
    dm_ = m;
    halves_ = d.rope_style == RopeStyle::Halves;
    eps_q32_ = d.eps_q32;
    attn_c_ = Scale{d.attn_scale_m, d.attn_scale_x};
    hd_ = m.head_dim;
    hdp_ = (int) round16((size_t) hd_);
    hdim_ = m.heads * hd_;
    hdimp_ = (int) round16((size_t) hdim_);
    ffnp_ = (int) round16((size_t) m.ffn);
    qkv_rows_ = (m.heads + 2 * m.kv_heads) * hd_;
    kmax_ = std::max({m.dim, hdimp_, ffnp_});
    const size_t per_pos_scores = (size_t) m.heads * m.context * sizeof(int32_t);
    chunk_ = (int) std::max<size_t>(1, std::min<size_t>(kMaxChunk, kScoresBudget / per_pos_scores));
    // Results never depend on the chunk size; tests lower it to run the
    // multi-chunk path on small prompts.
    if (const char * env = std::getenv("VERIMESH_CUDA_MAX_CHUNK")) {
        const int cap = std::atoi(env);
        if (cap >= 1) {
            chunk_ = std::min(chunk_, cap);
        }
    }

    try {
        ck(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        rope_ = upload(d.rope, d.rope_len);
        if (d.has_embedding()) {
            emb_q_ = upload(d.emb_q, d.emb_q_len);
            emb_s_ = upload(d.emb_scales, d.emb_scales_len);
        }
        for (const LayerDesc & L : d.layers) {
            DevLayer dl;
            dl.attn_norm = upload(L.attn_norm, L.attn_norm_len);
            dl.ffn_norm = upload(L.ffn_norm, L.ffn_norm_len);
            dl.qkv = upload_linears({&L.wq, &L.wk, &L.wv}, m.dim);
            dl.wo = upload_linears({&L.wo}, hdimp_);
            dl.gu = upload_linears({&L.w_gate, &L.w_up}, m.dim);
            dl.down = upload_linears({&L.w_down}, ffnp_);
            layers_.push_back(dl);
        }
        if (d.has_output()) {
            out_norm_ = upload(d.output_norm, d.output_norm_len);
            out_ = upload_linears({&d.output}, m.dim);
            logits_ = alloc<int32_t>((size_t) m.vocab);
        }
        const size_t c = (size_t) chunk_;
        x_ = alloc<int32_t>(c * m.dim);
        aq_ = alloc<int8_t>(c * kmax_);
        as_ = alloc<Scale>(c);
        qkv_ = alloc<int32_t>(c * qkv_rows_);
        qh_ = alloc<int8_t>(c * m.heads * hdp_);
        qs_ = alloc<Scale>(c * m.heads);
        scores_ = alloc<int32_t>(c * m.heads * m.context);
        o_ = alloc<int32_t>(c * hdim_);
        gu_ = alloc<int32_t>(c * 2 * m.ffn);
        bq_ = alloc<int8_t>(c * m.dim);
        bs_ = alloc<int32_t>(c * m.dim / 32);
        tok_ = alloc<int32_t>(c);
        // cudaMemcpy from pageable memory may return before its DMA lands, and
        // cudaMemset is asynchronous; both ran on the legacy stream, which the
        // non-blocking stream_ does not wait for.
        ck(cudaDeviceSynchronize(), "uploading the weights");
    } catch (const CudaError & e) {
        cudaGetLastError();
        return e.what();
    }
    return "";
}

size_t CudaShardRunner::layer_cache_bytes(int cap) const {
    const size_t rows = (size_t) cap * dm_.kv_heads;
    return 2 * rows * hdp_ + 2 * rows * sizeof(Scale);
}

LayerCache CudaShardRunner::layer_cache(void * mem, int cap, int l) const {
    const size_t rows = (size_t) cap * dm_.kv_heads;
    int8_t * base = static_cast<int8_t *>(mem) + layer_cache_bytes(cap) * l;
    LayerCache c;
    c.K = base;
    c.V = base + rows * hdp_;
    c.KS = reinterpret_cast<Scale *>(base + 2 * rows * hdp_);   // 16-byte aligned: hdp_ is
    c.VS = c.KS + rows;
    return c;
}

// Makes room for positions [0, need), keeping the first `valid` positions.
void CudaShardRunner::reserve(Session & s, int valid, int need) {
    if (need <= s.cap) {
        return;
    }
    // Doubling keeps the copies amortised over a long decode.
    int cap = std::max({need, 2 * s.cap, 64});
    cap = std::min(cap, dm_.context);
    const size_t bytes = std::max<size_t>(16, layer_cache_bytes(cap) * layers_.size());
    void * mem = nullptr;
    ck(cudaMalloc(&mem, bytes), ("cudaMalloc of " + std::to_string(bytes) + " bytes (KV cache)").c_str());
    if (s.mem != nullptr && valid > 0) {
        const size_t rows = (size_t) valid * dm_.kv_heads;
        for (int l = 0; l < (int) layers_.size(); ++l) {
            const LayerCache from = layer_cache(s.mem, s.cap, l);
            const LayerCache to = layer_cache(mem, cap, l);
            cudaError_t e = cudaMemcpyAsync(to.K, from.K, rows * hdp_, cudaMemcpyDeviceToDevice, stream_);
            if (e == cudaSuccess) e = cudaMemcpyAsync(to.V, from.V, rows * hdp_, cudaMemcpyDeviceToDevice, stream_);
            if (e == cudaSuccess) e = cudaMemcpyAsync(to.KS, from.KS, rows * sizeof(Scale), cudaMemcpyDeviceToDevice, stream_);
            if (e == cudaSuccess) e = cudaMemcpyAsync(to.VS, from.VS, rows * sizeof(Scale), cudaMemcpyDeviceToDevice, stream_);
            if (e != cudaSuccess) {
                cudaStreamSynchronize(stream_);
                cudaFree(mem);
                throw CudaError("cuda: " + cuda_msg("growing the KV cache", e));
            }
        }
    }
    if (s.mem != nullptr) {
        // The copies above read the old block: let them finish before freeing it.
        ck(cudaStreamSynchronize(stream_), "growing the KV cache");
        cudaFree(s.mem);
    }
    s.mem = mem;
    s.cap = cap;
}

void CudaShardRunner::launched(const char * what) {
    ck(cudaGetLastError(), what);
}

void CudaShardRunner::linear(const DevLinear & L, const int8_t * A, const Scale * as, int T,
                             int32_t * out, int ldo, bool resid) {
    if (T <= kGemvMaxT) {
        const int warps_per_block = kThreads / 32;
        dim3 grid((unsigned) ((L.rows + warps_per_block - 1) / warps_per_block), (unsigned) ((T + kGemvMaxT - 1) / kGemvMaxT));
        VM_LAUNCH(k_gemv, grid, kThreads, 0, stream_)(A, as, T, L.kp, L.w, L.s, L.bias, L.rows, out, ldo, resid ? 1 : 0);
        launched("k_gemv");
    } else {
        dim3 grid((unsigned) ((L.rows + kGemmBN - 1) / kGemmBN), (unsigned) ((T + kGemmBT - 1) / kGemmBT));
        VM_LAUNCH(k_gemm, grid, kThreads, 0, stream_)(A, as, T, L.kp, L.w, L.s, L.bias, L.rows, out, ldo, resid ? 1 : 0);
        launched("k_gemm");
    }
}

void CudaShardRunner::run_layer(int l, const Session & s, int pos0, int T) {
    const DevLayer & L = layers_[(size_t) l];
    const LayerCache c = layer_cache(s.mem, s.cap, l);
    const int D = dm_.dim;
    const int H = dm_.heads;
    const int Hkv = dm_.kv_heads;

    VM_LAUNCH(k_rmsnorm_q, T, kThreads, 0, stream_)(x_, D, L.attn_norm, eps_q32_, aq_, D, as_);
    launched("k_rmsnorm_q");
    linear(L.qkv, aq_, as_, T, qkv_, qkv_rows_, false);
    VM_LAUNCH(k_rope_qvec, dim3((unsigned) T, (unsigned) (H + 2 * Hkv)), kThreads, (size_t) hd_ * sizeof(int32_t), stream_)(
        qkv_, qkv_rows_, pos0, H, Hkv, hd_, hdp_, rope_, halves_ ? 1 : 0, qh_, qs_, c.K, c.KS, c.V, c.VS);
    launched("k_rope_qvec");
    VM_LAUNCH(k_attention, dim3((unsigned) T, (unsigned) H), kThreads, (size_t) hdp_, stream_)(
        qh_, qs_, c.K, c.KS, c.V, c.VS, pos0, H, Hkv, hd_, hdp_, dm_.context, attn_c_, scores_, o_);
    launched("k_attention");
    VM_LAUNCH(k_qvec, T, kThreads, 0, stream_)(o_, hdim_, hdim_, aq_, hdimp_, as_);
    launched("k_qvec");
    linear(L.wo, aq_, as_, T, x_, D, true);

    VM_LAUNCH(k_rmsnorm_q, T, kThreads, 0, stream_)(x_, D, L.ffn_norm, eps_q32_, aq_, D, as_);
    launched("k_rmsnorm_q");
    linear(L.gu, aq_, as_, T, gu_, 2 * dm_.ffn, false);
    VM_LAUNCH(k_swiglu_q, T, kThreads, 0, stream_)(gu_, dm_.ffn, aq_, ffnp_, as_);
    launched("k_swiglu_q");
    linear(L.down, aq_, as_, T, x_, D, true);

    const size_t blocks = (size_t) T * D / 32;
    VM_LAUNCH(k_bact, (unsigned) ((blocks * 32 + kThreads - 1) / kThreads), kThreads, 0, stream_)(x_, blocks, bq_, bs_);
    launched("k_bact");
}

void CudaShardRunner::forward(const std::string & session, int pos, int n,
                              const int32_t * tokens,
                              const int8_t * act_q, const int32_t * act_scales,
                              int8_t * out_q, int32_t * out_scales,
                              int32_t * logits) {
    const ModelDims & m = dm_;
    const int D = m.dim;
    const int blocks = D / 32;
    const std::string shard = "shard [" + std::to_string(info_.range_start) + ", " + std::to_string(info_.range_end) + ")";
    // The checks and messages of the CPU runner (and of checkShardInput in
    // actors/engine/int/forward.ts), so that callers see one behaviour.
    if (n < 1) {
        throw EngineError("a step needs at least one position");
    }
    if (pos < 0 || (long long) pos + n > m.context) {
        throw EngineError("positions [" + std::to_string(pos) + ", " + std::to_string((long long) pos + n) +
                          ") exceed the model's context of " + std::to_string(m.context));
    }
    if (tokens != nullptr) {
        if (!info_.has_embedding) {
            throw EngineError(shard + " does not own the embeddings; send it activations");
        }
        for (int i = 0; i < n; ++i) {
            if (tokens[i] < 0 || tokens[i] >= m.vocab) {
                throw EngineError("token id " + std::to_string(tokens[i]) + " is outside the vocabulary of " +
                                  std::to_string(m.vocab));
            }
        }
    } else {
        if (act_q == nullptr || act_scales == nullptr) {
            throw EngineError("forward needs tokens or activations");
        }
        if (info_.has_embedding) {
            throw EngineError("the first shard takes tokens, not activations");
        }
        for (size_t i = 0; i < (size_t) n * blocks; ++i) {
            if (act_scales[i] < 1 || act_scales[i] >= (1 << 24)) {
                throw EngineError("activation block scale " + std::to_string(act_scales[i]) + " at " + std::to_string(i) +
                                  " is outside [1, 2^24)");
            }
        }
        for (size_t i = 0; i < (size_t) n * D; ++i) {
            if (act_q[i] == -128) {
                throw EngineError("activation value -128 at " + std::to_string(i) + " is not a valid boundary value");
            }
        }
    }
    if (logits != nullptr && !info_.has_output) {
        throw EngineError(shard + " has no output head: it cannot produce logits");
    }
    if (out_q == nullptr || out_scales == nullptr) {
        throw EngineError("forward needs output buffers for the boundary activations");
    }

    std::shared_ptr<Session> s;
    int valid = 0;   // cached positions that this step keeps
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sessions_.find(session);
        if (it == sessions_.end()) {
            if (pos != 0) {
                throw EngineError("session '" + session + "' is unknown here; it must start at position 0, not " +
                                  std::to_string(pos));
            }
            s = std::make_shared<Session>();
            s->device = device_;
            sessions_.emplace(session, s);
        } else {
            s = it->second;
            // pos < length rewinds: a retried step overwrites its own rows.
            if (pos > s->length) {
                throw EngineError("session '" + session + "' is at position " + std::to_string(s->length) +
                                  ", got a step for position " + std::to_string(pos));
            }
        }
        valid = pos;
    }

    ck(cudaSetDevice(device_), "cudaSetDevice");
    reserve(*s, valid, pos + n);

    int last_chunk = 0;
    for (int c0 = 0; c0 < n; c0 += chunk_) {
        const int T = std::min(chunk_, n - c0);
        last_chunk = T;
        const size_t total = (size_t) T * D;
        const unsigned grid = (unsigned) ((total + kThreads - 1) / kThreads);
        if (tokens != nullptr) {
            ck(cudaMemcpyAsync(tok_, tokens + c0, (size_t) T * sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync (tokens)");
            // Without layers the boundary out is the embedding row itself, as on the CPU.
            const bool pass = layers_.empty();
            VM_LAUNCH(k_embed, grid, kThreads, 0, stream_)(tok_, emb_q_, emb_s_, D, T, x_,
                                                           pass ? bq_ : nullptr, pass ? bs_ : nullptr);
            launched("k_embed");
        } else {
            // bq_/bs_ take the input; without layers they are also the output.
            ck(cudaMemcpyAsync(bq_, act_q + (size_t) c0 * D, total, cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync (activations)");
            ck(cudaMemcpyAsync(bs_, act_scales + (size_t) c0 * blocks, (size_t) T * blocks * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (activation scales)");
            VM_LAUNCH(k_dequant, grid, kThreads, 0, stream_)(bq_, bs_, total, x_);
            launched("k_dequant");
        }
        for (int l = 0; l < (int) layers_.size(); ++l) {
            run_layer(l, *s, pos + c0, T);
        }
        ck(cudaMemcpyAsync(out_q + (size_t) c0 * D, bq_, total, cudaMemcpyDeviceToHost, stream_),
           "cudaMemcpyAsync (output activations)");
        ck(cudaMemcpyAsync(out_scales + (size_t) c0 * blocks, bs_, (size_t) T * blocks * sizeof(int32_t),
                           cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync (output scales)");
    }
    if (logits != nullptr) {
        // Output head on the last position only (spec §2.7).
        VM_LAUNCH(k_rmsnorm_q, 1, kThreads, 0, stream_)(x_ + (size_t) (last_chunk - 1) * D, D, out_norm_, eps_q32_,
                                                        aq_, D, as_);
        launched("k_rmsnorm_q (output)");
        linear(out_, aq_, as_, 1, logits_, m.vocab, false);
        ck(cudaMemcpyAsync(logits, logits_, (size_t) m.vocab * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_),
           "cudaMemcpyAsync (logits)");
    }
    ck(cudaStreamSynchronize(stream_), "forward on the GPU");

    std::lock_guard<std::mutex> lock(mu_);
    s->length = pos + n;
}

} // namespace

std::unique_ptr<ShardRunner> make_cuda_runner(const ShardDesc & desc, int device, std::string * why_not) {
    std::string err = validate_shard_desc(desc);
    if (err.empty()) {
        err = check_shapes(desc);
    }
    if (!err.empty()) {
        // The prefix is how the bindings tell a bad model from a bad option.
        throw EngineError("invalid shard: " + err);
    }
    auto r = std::make_unique<CudaShardRunner>(device);
    const std::string why = r->init(desc);
    if (!why.empty()) {
        r.reset();
        if (why_not != nullptr) {
            *why_not = why;
        }
        return nullptr;
    }
    return r;
}

} // namespace vm_engine
