#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "../cpu_features.h"
#include "shard.h"
#include "thread_pool.h"

#if defined(__x86_64__)
#define VM_GEMM_X86 1
#include <immintrin.h>
#endif

namespace vm_engine {

// ---------------------------------------------------------------------------
// Names, support, selection

const char * kernel_name(Kernel k) {
    switch (k) {
        case Kernel::Scalar:     return "scalar";
        case Kernel::Avx2:       return "avx2";
        case Kernel::Avx512Vnni: return "avx512vnni";
        case Kernel::Amx:        return "amx";
    }
    return "unknown";
}

bool kernel_supported(Kernel k, std::string * why) {
    const vm_cpu_features & f = vm_cpu_get_features();
    std::string reason;
    switch (k) {
        case Kernel::Scalar:
            return true;
        case Kernel::Avx2:
#ifdef VM_GEMM_X86
            if (f.avx2) return true;
            reason = f.os_avx ? "CPU has no AVX2" : "OS has not enabled AVX state (XCR0)";
#else
            reason = "not an x86-64 build";
#endif
            break;
        case Kernel::Avx512Vnni:
#ifdef VM_GEMM_X86
            if (f.avx512f && f.avx512bw && f.avx512vnni) return true;
            reason = !f.os_avx512 ? "OS has not enabled AVX-512 state (XCR0)" : "CPU lacks AVX-512 F/BW/VNNI";
#else
            reason = "not an x86-64 build";
#endif
            break;
        case Kernel::Amx:
#ifdef VM_GEMM_X86
            if (f.amx_int8 && f.amx_usable) return true;
            reason = !f.amx_reason.empty() ? f.amx_reason : "CPU has no AMX-INT8";
#else
            reason = "not an x86-64 build";
#endif
            break;
    }
    if (why != nullptr) *why = reason;
    return false;
}

std::vector<Kernel> available_kernels() {
    std::vector<Kernel> out;
    for (Kernel k : {Kernel::Scalar, Kernel::Avx2, Kernel::Avx512Vnni, Kernel::Amx}) {
        if (kernel_supported(k, nullptr)) out.push_back(k);
    }
    return out;
}

Kernel resolve_kernel(const std::string & name, bool * is_auto) {
    if (is_auto != nullptr) *is_auto = name == "auto";
    if (name == "auto") {
        return available_kernels().back();
    }
    Kernel k;
    if (name == "scalar") k = Kernel::Scalar;
    else if (name == "avx2") k = Kernel::Avx2;
    else if (name == "avx512vnni") k = Kernel::Avx512Vnni;
    else if (name == "amx") k = Kernel::Amx;
    else if (name == "cuda") throw EngineError("kernel 'cuda' is not a CPU kernel: this NativeShard runs on the CPU ('auto', 'scalar', 'avx2', 'avx512vnni' or 'amx')");
    else throw EngineError("unknown kernel '" + name + "': expected 'auto', 'scalar', 'avx2', 'avx512vnni' or 'amx'");
    std::string why;
    if (!kernel_supported(k, &why)) {
        throw EngineError("kernel '" + name + "' is not usable on this CPU: " + why);
    }
    return k;
}

// ---------------------------------------------------------------------------
// Buffers and packing

void AlignedBytes::Free::operator()(int8_t * p) const { std::free(p); }

void AlignedBytes::resize(size_t n) {
    if (n <= size_) return;
    const size_t bytes = (n + 63) / 64 * 64;
    void * p = std::aligned_alloc(64, bytes);
    if (p == nullptr) throw std::bad_alloc();
    ptr_.reset(static_cast<int8_t *>(p));
    size_ = bytes;
}

static inline int round_up(int x, int m) { return (x + m - 1) / m * m; }


void pack_weights(Kernel kernel, const int8_t * w, int n, int k, PackedWeights & out, bool small_m_vnni) {
    out.kernel = kernel;
    out.n = n;
    out.k = k;
    out.corr.clear();
    out.small_m_vnni = kernel == Kernel::Amx && small_m_vnni;
    if (kernel == Kernel::Scalar) {
        out.np = n;
        out.kp = k;
        out.data.resize((size_t) n * k);
        std::memcpy(out.data.data(), w, (size_t) n * k);
        return;
    }
    out.kp = round_up(k, 64);
    if (kernel == Kernel::Avx2) {
        out.np = n;
        out.data.resize((size_t) n * out.kp);
        int8_t * d = out.data.data();
        for (int j = 0; j < n; ++j) {
            std::memcpy(d + (size_t) j * out.kp, w + (size_t) j * k, k);
            std::memset(d + (size_t) j * out.kp + k, 0, out.kp - k);
        }
        return;
    }
    // Blocked: [np/16][kp/4][16][4]
    out.np = round_up(n, 16);
    const size_t total = (size_t) out.np * out.kp;
    out.data.resize(total);
    int8_t * d = out.data.data();
    std::memset(d, 0, total);
    const int kg_count = out.kp / 4;
    for (int j = 0; j < n; ++j) {
        const int nb = j / 16, col = j % 16;
        int8_t * blk = d + (size_t) nb * kg_count * 64 + col * 4;
        const int8_t * row = w + (size_t) j * k;
        for (int kk = 0; kk < k; ++kk) {
            blk[(size_t) (kk / 4) * 64 + (kk % 4)] = row[kk];
        }
    }
    if (kernel == Kernel::Avx512Vnni || out.small_m_vnni) {
        out.corr.assign(out.np, 0);
        for (int j = 0; j < n; ++j) {
            int32_t s = 0;
            const int8_t * row = w + (size_t) j * k;
            for (int kk = 0; kk < k; ++kk) s += row[kk];
            // 128 * sum: |sum| <= 128 * K, so this can exceed int32 only when the true
            // dot products could too; computed mod 2^32 like vpdpbusd itself.
            out.corr[j] = (int32_t) ((uint32_t) s * 128u);
        }
    }
}

PreparedA prepare_a(const PackedWeights & w, const int8_t * a, int m, AlignedBytes & buf) {
    PreparedA p;
    p.m = m;
    p.path = w.small_m_vnni && m < AMX_MIN_ROWS ? Kernel::Avx512Vnni : w.kernel;
    if (p.path == Kernel::Scalar) {
        p.ptr = a;
        p.lda = w.k;
        return p;
    }
    const int kp = w.kp, k = w.k;
    // AMX loads whole 16-row tiles: pad the rows too (with zeros, results dropped).
    const int mp = p.path == Kernel::Amx ? round_up(m, 16) : m;
    buf.resize((size_t) mp * kp);
    int8_t * d = buf.data();
    if (p.path == Kernel::Avx512Vnni) {
        // s8 -> u8 with a +128 offset (x ^ 0x80); padding is 0x80 (= 0), though any
        // value would do against the zero-padded weights.
        for (int i = 0; i < m; ++i) {
            const uint8_t * src = reinterpret_cast<const uint8_t *>(a + (size_t) i * k);
            uint8_t * dst = reinterpret_cast<uint8_t *>(d + (size_t) i * kp);
            for (int kk = 0; kk < k; ++kk) dst[kk] = src[kk] ^ 0x80u;
            std::memset(dst + k, 0x80, kp - k);
        }
    } else {
        for (int i = 0; i < m; ++i) {
            std::memcpy(d + (size_t) i * kp, a + (size_t) i * k, k);
            std::memset(d + (size_t) i * kp + k, 0, kp - k);
        }
        if (mp > m) std::memset(d + (size_t) m * kp, 0, (size_t) (mp - m) * kp);
    }
    p.ptr = d;
    p.lda = kp;
    return p;
}

int gemm_col_block(const PreparedA & a) {
    switch (a.path) {
        case Kernel::Avx512Vnni: return 64;    // NR = 4 zmm of 16 columns
        case Kernel::Amx:        return 32;    // 2 B tiles of 16 columns
        default:                 return 16;
    }
}

// ---------------------------------------------------------------------------
// scalar

static void scalar_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc) {
    const int k = w.k;
    const int8_t * W = w.data.data();
    for (int i = 0; i < a.m; ++i) {
        const int8_t * ar = a.ptr + (size_t) i * a.lda;
        for (int j = n0; j < n1; ++j) {
            const int8_t * wr = W + (size_t) j * k;
            // Unsigned: wraps mod 2^32 like the SIMD paths instead of being UB when
            // an extreme input overflows (the spec's bounds rule that out for models).
            uint32_t acc = 0;
            for (int kk = 0; kk < k; ++kk) acc += (uint32_t) ((int32_t) ar[kk] * wr[kk]);
            c[(size_t) i * ldc + j] = (int32_t) acc;
        }
    }
}

#ifdef VM_GEMM_X86

// ---------------------------------------------------------------------------
// AVX2: sign-extend 16 int8 to int16 and vpmaddwd. Products of int16 pairs summed
// into int32 are exact (at most 2 * 128 * 128), unlike vpmaddubsw's i16 saturation.

__attribute__((target("avx2")))
static inline int32_t hsum256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

template <int MR, int NR>
__attribute__((target("avx2")))
static void avx2_tile(const int8_t * a, int lda, const int8_t * w, int ldw, int kp, int32_t * c, int ldc) {
    __m256i acc[MR][NR];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; ++i)
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
    for (int k = 0; k < kp; k += 16) {
        __m256i av[MR];
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; ++i)
            av[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(a + (size_t) i * lda + k)));
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; ++j) {
            const __m256i bw = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(w + (size_t) j * ldw + k)));
            _Pragma("GCC unroll 8")
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av[i], bw));
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; ++i)
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; ++j) c[(size_t) i * ldc + j] = hsum256(acc[i][j]);
}

template <int MR>
__attribute__((target("avx2")))
static void avx2_row_block(const int8_t * a, int lda, const PackedWeights & w, int n0, int n1, int32_t * c, int ldc) {
    const int kp = w.kp;
    const int8_t * W = w.data.data();
    int j = n0;
    for (; j + 4 <= n1; j += 4) avx2_tile<MR, 4>(a, lda, W + (size_t) j * kp, kp, kp, c + j, ldc);
    switch (n1 - j) {
        case 3: avx2_tile<MR, 3>(a, lda, W + (size_t) j * kp, kp, kp, c + j, ldc); break;
        case 2: avx2_tile<MR, 2>(a, lda, W + (size_t) j * kp, kp, kp, c + j, ldc); break;
        case 1: avx2_tile<MR, 1>(a, lda, W + (size_t) j * kp, kp, kp, c + j, ldc); break;
        default: break;
    }
}

static void avx2_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc) {
    int i = 0;
    for (; i + 2 <= a.m; i += 2) avx2_row_block<2>(a.ptr + (size_t) i * a.lda, a.lda, w, n0, n1, c + (size_t) i * ldc, ldc);
    if (i < a.m) avx2_row_block<1>(a.ptr + (size_t) i * a.lda, a.lda, w, n0, n1, c + (size_t) i * ldc, ldc);
}

// ---------------------------------------------------------------------------
// AVX-512 VNNI: vpdpbusd(acc, u8 A broadcast, s8 W block). A row i, k-group g is a
// dword broadcast to 16 lanes; W block (16 columns x 4 k) is one 64-byte load.
// Result = sum (a+128)*w = sum a*w + corr  =>  subtract corr per column.

// Accumulators are named variables (c<row><block>) so that each lives in a register
// for the whole loop; unused ones (row >= MR, block >= NR) are dead code.
#define VM_V8(i, X) X(i, 0) X(i, 1) X(i, 2) X(i, 3) X(i, 4) X(i, 5) X(i, 6) X(i, 7)
#define VM_R6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define VM_DECL(i, j) __m512i c##i##j = _mm512_setzero_si512();
#define VM_DECL_ROW(i) VM_V8(i, VM_DECL)
// vpdpbusd through asm: GCC 12's pattern for _mm512_dpbusd_epi32 only allocates the
// accumulator in zmm0-15, so beyond ~12 accumulators every update became a register
// copy plus a stack store. "+v" lets it use all 32 registers.
#define VM_DP(i, j) if constexpr (NR > j) __asm__("vpdpbusd %2, %1, %0" : "+v"(c##i##j) : "v"(av), "v"(b##j));
#define VM_DP_ROW(i) if constexpr (MR > i) {                                       \
        int32_t a4;                                                                 \
        std::memcpy(&a4, a + (size_t) i * lda + (size_t) g * 4, 4);                \
        const __m512i av = _mm512_set1_epi32(a4);                                   \
        VM_V8(i, VM_DP)                                                             \
    }
#define VM_ST(i, j) if constexpr (NR > j) _mm512_mask_storeu_epi32(c + (size_t) i * ldc + j * 16, \
        j == NR - 1 ? last_mask : (__mmask16) 0xffff, _mm512_sub_epi32(c##i##j, k##j));
#define VM_ST_ROW(i) if constexpr (MR > i) { VM_V8(i, VM_ST) }
#define VM_LOADB(j) if constexpr (NR > j) b##j = _mm512_load_si512(b + j * bstride + (size_t) g * 64);
#define VM_LOADK(j) if constexpr (NR > j) k##j = _mm512_loadu_si512(corr + j * 16);

template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void vnni_tile(const uint8_t * a, int lda, const int8_t * b, size_t bstride, int kgroups,
                      const int32_t * corr, int32_t * c, int ldc, int last_cols) {
    static_assert(MR >= 1 && MR <= 6 && NR >= 1 && NR <= 8, "tile shape");
    VM_R6(VM_DECL_ROW)
    const __m512i zero = _mm512_setzero_si512();
    __m512i b0 = zero, b1 = zero, b2 = zero, b3 = zero, b4 = zero, b5 = zero, b6 = zero, b7 = zero;
    for (int g = 0; g < kgroups; ++g) {
        VM_LOADB(0) VM_LOADB(1) VM_LOADB(2) VM_LOADB(3) VM_LOADB(4) VM_LOADB(5) VM_LOADB(6) VM_LOADB(7)
        VM_R6(VM_DP_ROW)
    }
    __m512i k0 = zero, k1 = zero, k2 = zero, k3 = zero, k4 = zero, k5 = zero, k6 = zero, k7 = zero;
    VM_LOADK(0) VM_LOADK(1) VM_LOADK(2) VM_LOADK(3) VM_LOADK(4) VM_LOADK(5) VM_LOADK(6) VM_LOADK(7)
    const __mmask16 last_mask = (__mmask16) ((1u << last_cols) - 1u);
    VM_R6(VM_ST_ROW)
}

#undef VM_V8
#undef VM_R6
#undef VM_DECL
#undef VM_DECL_ROW
#undef VM_DP
#undef VM_DP_ROW
#undef VM_ST
#undef VM_ST_ROW
#undef VM_LOADB
#undef VM_LOADK

template <int MR>
static void vnni_row_block(const uint8_t * a, int lda, const PackedWeights & w, int n0, int n1, int32_t * c, int ldc) {
    const int kgroups = w.kp / 4;
    const size_t bstride = (size_t) kgroups * 64;
    const int8_t * B = w.data.data();
    // NR: as many 16-column blocks as registers allow; 8 for one or two rows so a
    // GEMV has enough independent accumulator chains to hide vpdpbusd latency.
    constexpr int NR = MR <= 2 ? 8 : 4;
    int j = n0;
    for (; j + NR * 16 <= n1; j += NR * 16) {
        vnni_tile<MR, NR>(a, lda, B + (size_t) (j / 16) * bstride, bstride, kgroups, w.corr.data() + j, c + j, ldc, 16);
    }
    const int rem = n1 - j;
    if (rem <= 0) return;
    const int blocks = (rem + 15) / 16;
    const int last = rem - (blocks - 1) * 16;
    const int8_t * bp = B + (size_t) (j / 16) * bstride;
    switch (blocks) {
#define VM_VNNI_CASE(NB) case NB: \
        if constexpr (NB <= NR) vnni_tile<MR, NB>(a, lda, bp, bstride, kgroups, w.corr.data() + j, c + j, ldc, last); \
        break;
        VM_VNNI_CASE(1) VM_VNNI_CASE(2) VM_VNNI_CASE(3) VM_VNNI_CASE(4)
        VM_VNNI_CASE(5) VM_VNNI_CASE(6) VM_VNNI_CASE(7)
#undef VM_VNNI_CASE
        default: break;
    }
}

static void vnni_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc) {
    const uint8_t * A = reinterpret_cast<const uint8_t *>(a.ptr);
    const int lda = a.lda;
    int i = 0;
    for (; i + 6 <= a.m; i += 6) vnni_row_block<6>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc);
    switch (a.m - i) {
        case 5: vnni_row_block<5>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc); break;
        case 4: vnni_row_block<4>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc); break;
        case 3: vnni_row_block<3>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc); break;
        case 2: vnni_row_block<2>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc); break;
        case 1: vnni_row_block<1>(A + (size_t) i * lda, lda, w, n0, n1, c + (size_t) i * ldc, ldc); break;
        default: break;
    }
}

// ---------------------------------------------------------------------------
// AMX-INT8. Tiles: C 0..3 (2x2 blocks of 16x16 int32), A 4..5 (16 rows x 64 k),
// B 6..7 (16 k-groups x 16 columns x 4). Own asm (not GCC 12's _tile_loadconfig,
// which declares an 8-byte operand so a stack config gets half-optimised away, and
// whose tile loads lack a memory clobber). The config lives in static memory.

struct alignas(64) AmxConfig {
    uint8_t  palette;
    uint8_t  start_row;
    uint8_t  reserved[14];
    uint16_t colsb[16];
    uint8_t  rows[16];
};

static const AmxConfig amx_config = [] {
    AmxConfig cfg;
    std::memset(&cfg, 0, sizeof(cfg));
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    return cfg;
}();

#define VM_TILE_LOAD(t, base, stride) \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t :: "r"(base), "r"((long) (stride)) : "memory")
#define VM_TILE_STORE(t, base, stride) \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" :: "r"(base), "r"((long) (stride)) : "memory")
#define VM_TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
// tdpbssd dst += src1 (A, s8) . src2 (B, s8); AT&T order is src2, src1, dst
#define VM_TDPBSSD(dst, a, b) __asm__ volatile("tdpbssd %%tmm" #b ", %%tmm" #a ", %%tmm" #dst ::)

static void amx_load_config() {
    __asm__ volatile("ldtilecfg %0" :: "m"(amx_config));
}

static void amx_release() {
    __asm__ volatile("tilerelease" ::);
}

// Copies a 16x16 tile from `t` (stride 16) into C, keeping rows < mrows, cols < ncols.
static void amx_copy_out(const int32_t * t, int32_t * c, int ldc, int mrows, int ncols) {
    for (int r = 0; r < mrows; ++r) std::memcpy(c + (size_t) r * ldc, t + r * 16, (size_t) ncols * 4);
}

template <int MT, int NT>
static void amx_block(const int8_t * a, int lda, const int8_t * b, size_t bstride, int ksteps,
                      int32_t * c, int ldc, int mrows, int ncols) {
    VM_TILE_ZERO(0);
    if (NT == 2) VM_TILE_ZERO(1);
    if (MT == 2) VM_TILE_ZERO(2);
    if (MT == 2 && NT == 2) VM_TILE_ZERO(3);
    for (int s = 0; s < ksteps; ++s) {
        VM_TILE_LOAD(4, a + (size_t) s * 64, lda);
        VM_TILE_LOAD(6, b + (size_t) s * 1024, 64);
        if (NT == 2) VM_TILE_LOAD(7, b + bstride + (size_t) s * 1024, 64);
        if (MT == 2) VM_TILE_LOAD(5, a + (size_t) 16 * lda + (size_t) s * 64, lda);
        VM_TDPBSSD(0, 4, 6);
        if (NT == 2) VM_TDPBSSD(1, 4, 7);
        if (MT == 2) VM_TDPBSSD(2, 5, 6);
        if (MT == 2 && NT == 2) VM_TDPBSSD(3, 5, 7);
    }
    const bool full = mrows >= MT * 16 && ncols >= NT * 16;
    if (full) {
        const long stride = (long) ldc * 4;
        VM_TILE_STORE(0, c, stride);
        if (NT == 2) VM_TILE_STORE(1, c + 16, stride);
        if (MT == 2) VM_TILE_STORE(2, c + (size_t) 16 * ldc, stride);
        if (MT == 2 && NT == 2) VM_TILE_STORE(3, c + (size_t) 16 * ldc + 16, stride);
        return;
    }
    alignas(64) int32_t tmp[16 * 16];
    for (int ti = 0; ti < MT; ++ti) {
        for (int tj = 0; tj < NT; ++tj) {
            const int mr = std::min(16, mrows - ti * 16);
            const int nc = std::min(16, ncols - tj * 16);
            if (mr <= 0 || nc <= 0) continue;
            switch (ti * 2 + tj) {
                case 0: VM_TILE_STORE(0, tmp, 64); break;
                case 1: VM_TILE_STORE(1, tmp, 64); break;
                case 2: VM_TILE_STORE(2, tmp, 64); break;
                default: VM_TILE_STORE(3, tmp, 64); break;
            }
            amx_copy_out(tmp, c + (size_t) ti * 16 * ldc + tj * 16, ldc, mr, nc);
        }
    }
}

static void amx_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc) {
    amx_load_config();
    const int ksteps = w.kp / 64;
    const size_t bstride = (size_t) (w.kp / 4) * 64;
    const int8_t * B = w.data.data();
    const int mp = round_up(a.m, 16);
    // Column panels outer: a panel of B (2 x 16 columns x K) stays in L1/L2 while
    // the rows of A stream past it.
    for (int j = n0; j < n1; j += 32) {
        const int ncols = std::min(32, n1 - j);
        const int8_t * bp = B + (size_t) (j / 16) * bstride;
        for (int i = 0; i < mp; i += 32) {
            const int mrows = std::min(32, a.m - i);
            const int8_t * ap = a.ptr + (size_t) i * a.lda;
            int32_t * cp = c + (size_t) i * ldc + j;
            const bool two_m = mp - i >= 32;
            const bool two_n = ncols > 16;
            if (two_m && two_n) amx_block<2, 2>(ap, a.lda, bp, bstride, ksteps, cp, ldc, mrows, ncols);
            else if (two_m) amx_block<2, 1>(ap, a.lda, bp, bstride, ksteps, cp, ldc, mrows, ncols);
            else if (two_n) amx_block<1, 2>(ap, a.lda, bp, bstride, ksteps, cp, ldc, mrows, ncols);
            else amx_block<1, 1>(ap, a.lda, bp, bstride, ksteps, cp, ldc, mrows, ncols);
        }
    }
    amx_release();
}

#endif // VM_GEMM_X86

// ---------------------------------------------------------------------------

void gemm_s8_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc) {
    if (n1 <= n0 || a.m <= 0) return;
    switch (a.path) {
        case Kernel::Scalar:     scalar_cols(w, a, n0, n1, c, ldc); return;
#ifdef VM_GEMM_X86
        case Kernel::Avx2:       avx2_cols(w, a, n0, n1, c, ldc); return;
        case Kernel::Avx512Vnni: vnni_cols(w, a, n0, n1, c, ldc); return;
        case Kernel::Amx:        amx_cols(w, a, n0, n1, c, ldc); return;
#else
        default: break;
#endif
    }
    scalar_cols(w, a, n0, n1, c, ldc);
}

void gemm_s8(const PackedWeights & w, const int8_t * a, int m, int32_t * c, int threads, AlignedBytes & abuf) {
    const PreparedA pa = prepare_a(w, a, m, abuf);
    const int blk = gemm_col_block(pa);
    const int nblocks = (w.n + blk - 1) / blk;
    const int nt = std::max(1, std::min(threads, nblocks));
    cpu_pool().run(nt, [&](int tid, int n) {
        const int b0 = (int) ((long) nblocks * tid / n), b1 = (int) ((long) nblocks * (tid + 1) / n);
        gemm_s8_cols(w, pa, b0 * blk, std::min(w.n, b1 * blk), c, w.n);
    });
}

} // namespace vm_engine
