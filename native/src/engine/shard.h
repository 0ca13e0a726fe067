#pragma once

// Backend-neutral interface of the integer transformer engine (docs/engine-spec.md,
// "vm-int8/1"). A ShardRunner executes layers [range_start, range_end) of a model,
// plus the embedding (first shard) and the output head (last shard), and keeps the
// per-session KV cache of its layers. Every backend (CPU here, CUDA later) must
// produce byte-identical outputs for the same ShardDesc and inputs.
//
// Ownership: a ShardDesc only points at memory owned by the caller (the JS typed
// arrays of a ShardWeights). A runner factory must copy / upload everything it needs
// before returning: the pointers are not guaranteed to stay valid after that.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vm_engine {

struct ModelDims {
    int vocab    = 0;
    int dim      = 0;
    int layers   = 0;
    int heads    = 0;
    int kv_heads = 0;
    int head_dim = 0;
    int ffn      = 0;
    int context  = 0;   // maximum positions; rows of the RoPE table
};

enum class RopeStyle {
    Adjacent,   // pairs (2i, 2i+1): llama.cpp NORM
    Halves,     // pairs (i, i + hd/2): NEOX (Qwen, GPT-NeoX)
};

// int8 [rows][cols] row-major, one (m, x) scale per row, optional Q16 bias.
struct QLinearDesc {
    int            rows = 0;
    int            cols = 0;
    const int8_t * q = nullptr;          size_t q_len = 0;        // rows * cols
    const int32_t *scales = nullptr;     size_t scales_len = 0;   // rows * 2: (m, x) per row
    const int32_t *bias = nullptr;       size_t bias_len = 0;     // rows, or nullptr
    bool present() const { return q != nullptr; }
};

struct LayerDesc {
    const int32_t *attn_norm = nullptr;  size_t attn_norm_len = 0;   // dim, Q16 gains
    QLinearDesc    wq, wk, wv, wo;
    const int32_t *ffn_norm = nullptr;   size_t ffn_norm_len = 0;    // dim
    QLinearDesc    w_gate, w_up, w_down;
};

struct ShardDesc {
    ModelDims dims;
    RopeStyle rope_style = RopeStyle::Adjacent;
    int64_t   eps_q32 = 0;             // round(eps * 2^32)
    int32_t   attn_scale_m = 0;        // LOG2E_HD = (m, x): log2(e) / sqrt(head_dim)
    int32_t   attn_scale_x = 0;
    int       range_start = 0;         // layers [range_start, range_end)
    int       range_end = 0;

    const int32_t *rope = nullptr;     size_t rope_len = 0;     // context * head_dim/2 * 2 (cos, sin), Q15

    // First shard only (nullptr otherwise): one bact row per token.
    const int8_t  *emb_q = nullptr;       size_t emb_q_len = 0;        // vocab * dim
    const int32_t *emb_scales = nullptr;  size_t emb_scales_len = 0;   // vocab * dim/32

    std::vector<LayerDesc> layers;     // range_end - range_start entries

    // Last shard only (output_norm == nullptr and !output.present() otherwise).
    const int32_t *output_norm = nullptr; size_t output_norm_len = 0;   // dim
    QLinearDesc    output;                                                // vocab x dim

    bool has_embedding() const { return emb_q != nullptr; }
    bool has_output() const { return output.present(); }
};

struct ShardInfo {
    ModelDims dims;
    int       range_start = 0;
    int       range_end = 0;
    bool      has_embedding = false;
    bool      has_output = false;
};

// Thrown for bad descriptors / bad forward arguments; the message is meant for the user.
struct EngineError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Checks every length, dimension and constant of `d` against the spec. Returns an
// empty string when valid, otherwise a precise message. Shared by all backends.
std::string validate_shard_desc(const ShardDesc & d);

class ShardRunner {
public:
    virtual ~ShardRunner();

    // Runs positions [pos, pos + n) of `session` in order, appending to (or, when
    // pos is below the cached length, rewinding and overwriting) its KV cache.
    // Input: `tokens` (n token ids; first shard only) or boundary activations
    // `act_q` (n * dim int8) + `act_scales` (n * dim/32 int32); pass nullptr for the
    // unused one. Output: boundary activations of the n positions in `out_q` /
    // `out_scales` (same sizes), and, when `logits` is not nullptr (last shard only),
    // the vocab int32 Q16 logits of the LAST position.
    // An unknown session must start at pos 0. Throws EngineError on bad arguments
    // (pos + n > context, pos beyond the cached length, token out of range, wrong
    // input kind for this shard, activation scale outside [1, 2^24) or q = -128),
    // before touching any session state (a refused step leaves no trace).
    // Calls on one runner are serialised by the caller; end_session may be called
    // concurrently with forward (of another or the same session).
    virtual void forward(const std::string & session, int pos, int n,
                         const int32_t * tokens,
                         const int8_t * act_q, const int32_t * act_scales,
                         int8_t * out_q, int32_t * out_scales,
                         int32_t * logits) = 0;

    // Drops the KV cache of `session` (no-op when unknown).
    virtual void end_session(const std::string & session) = 0;

    // Cached positions of `session` (0 when unknown).
    virtual int session_length(const std::string & session) const = 0;

    // Name of the compute path actually used, e.g. "amx", "avx512vnni", "cuda". (The
    // CPU runner under 'auto' on an AMX host says "amx" and runs products of fewer
    // than 8 rows on avx512vnni, see gemm.h.)
    virtual const char * kernel_name() const = 0;

    // Shape of the shard (no tensor pointers: the runner owns its own copies).
    virtual const ShardInfo & info() const = 0;
};

struct CpuRunnerOptions {
    int         threads = 0;        // 0 = hardware concurrency
    std::string kernel = "auto";    // "auto" | "scalar" | "avx2" | "avx512vnni" | "amx"
};

// Validates `desc`, copies and repacks all weights, and returns a CPU runner.
// Throws EngineError (bad desc, unknown kernel, kernel unsupported by this CPU).
std::unique_ptr<ShardRunner> make_cpu_runner(const ShardDesc & desc, const CpuRunnerOptions & opts);

} // namespace vm_engine
