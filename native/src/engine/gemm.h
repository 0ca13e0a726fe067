#pragma once

// int8 x int8 -> int32 GEMM, the only SIMD code of the CPU engine.
//
//   C[m][n] = sum_k A[m][k] * W[n][k]        (A: activations, W: weights [N][K])
//
// Integer accumulation is exact and associative, so every path below returns the
// same int32 values (tests check this bit for bit); everything after the
// accumulator (requantisation, spec §2.1) is shared scalar code in the runner.
//
// Paths, each built with __attribute__((target(...))) and picked at run time:
//   scalar      plain C++ (baseline x86-64-v2, also the reference)
//   avx2        sign-extend to i16 (vpmovsxbw) + vpmaddwd: exact, no i16 saturation
//               (vpmaddubsw is u8 x s8 with i16 saturation, so it is not used)
//   avx512vnni  vpdpbusd (u8 x s8): A is offset by +128 to make it unsigned, and the
//               per-column correction 128 * sum_k W[n][k] is subtracted; exact
//               (mod 2^32 arithmetic, and the true result fits int32)
//   amx         tdpbssd (s8 x s8) on 16x64 tiles
//
// Weights are repacked once (pack_weights) into the layout their path wants; the
// activations are repacked per call (prepare_a), which is O(M*K) against O(M*N*K).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vm_engine {

enum class Kernel : int {
    Scalar = 0,
    Avx2 = 1,
    Avx512Vnni = 2,
    Amx = 3,
};

const char * kernel_name(Kernel k);

// Kernel by name ('scalar' | 'avx2' | 'avx512vnni' | 'amx' | 'auto'). Throws
// EngineError for an unknown name or a path this CPU (or OS) cannot run, saying why.
// `is_auto` (optional) tells whether the name was 'auto'.
Kernel resolve_kernel(const std::string & name, bool * is_auto = nullptr);

// Whether this process can run `k`; when not, `why` says why.
bool kernel_supported(Kernel k, std::string * why);

// Usable paths on this CPU, best last.
std::vector<Kernel> available_kernels();

// 64-byte aligned byte buffer (AVX-512 loads, AMX tile loads).
struct AlignedBytes {
    AlignedBytes() = default;
    explicit AlignedBytes(size_t n) { resize(n); }
    void resize(size_t n);
    int8_t * data() { return ptr_.get(); }
    const int8_t * data() const { return ptr_.get(); }
    size_t size() const { return size_; }
private:
    struct Free { void operator()(int8_t * p) const; };
    std::unique_ptr<int8_t, Free> ptr_;
    size_t size_ = 0;
};

// W [N][K] in the layout of one kernel.
//   scalar:          row-major [N][K]
//   avx2:            row-major [N][Kp], Kp = K rounded up to 64, zero padded
//   avx512vnni, amx: [Np/16][Kp/4][16][4] (Np = N rounded up to 16, zero padded):
//                    16 columns x 4 consecutive k per 64-byte row, which is both
//                    a zmm operand of vpdpbusd and a row of an AMX B tile
struct PackedWeights {
    Kernel kernel = Kernel::Scalar;
    int n = 0, k = 0;        // logical
    int np = 0, kp = 0;      // padded
    AlignedBytes data;
    std::vector<int32_t> corr;   // avx512vnni: 128 * sum_k W[n][k], per column n
    // amx weights that may also run products of few rows on avx512vnni (same layout;
    // 'auto' only, a forced 'amx' runs every product on tiles)
    bool small_m_vnni = false;
    size_t bytes() const { return data.size() + corr.size() * 4; }
};

// Below this many rows an AMX tile (16 rows) is mostly padding, and vpdpbusd on
// the same packed weights is faster (measured: 1-4 rows 1.5-2.3x; 8 rows AMX wins).
constexpr int AMX_MIN_ROWS = 8;

// `small_m_vnni` (amx only): also prepare the weights for avx512vnni products of
// fewer than AMX_MIN_ROWS rows; used by 'auto'.
void pack_weights(Kernel kernel, const int8_t * w, int n, int k, PackedWeights & out, bool small_m_vnni = false);

// Activations in the layout of the path that will run the product (see prepare_a).
struct PreparedA {
    Kernel path = Kernel::Scalar;
    const int8_t * ptr = nullptr;
    int m = 0;
    int lda = 0;            // bytes between rows
};

// Chooses the path for an m-row product on `w` and puts A [M][K] (row-major,
// stride K) into its layout, using `buf` when a copy is needed (scalar: none).
PreparedA prepare_a(const PackedWeights & w, const int8_t * a, int m, AlignedBytes & buf);

// C[m][n] for all m and columns n in [n0, n1) (n0 a multiple of gemm_col_block),
// C row-major with stride ldc int32. Thread-safe; no allocation.
void gemm_s8_cols(const PackedWeights & w, const PreparedA & a, int n0, int n1, int32_t * c, int ldc);

// Column granularity a thread's range must respect (multiple of 16).
int gemm_col_block(const PreparedA & a);

// Whole GEMM, split over `threads` threads of cpu_pool().
void gemm_s8(const PackedWeights & w, const int8_t * a, int m, int32_t * c, int threads, AlignedBytes & abuf);

} // namespace vm_engine
