// CPU ShardRunner: the forward pass of docs/engine-spec.md §2 on int8 weights.
//
// Positions of one call are processed as a batch (prefill): every linear is one
// GEMM over the n positions; attention appends the n positions' keys and values to
// the cache first and then lets position t attend to cache rows 0..pos+t, which is
// exactly the spec's position-by-position order because a row depends only on its
// own position. Everything after the int32 accumulators is scalar code shared by
// all kernel paths.

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "fixed.h"
#include "gemm.h"
#include "shard.h"
#include "thread_pool.h"

namespace vm_engine {

ShardRunner::~ShardRunner() = default;

namespace {

std::string str(int64_t v) { return std::to_string(v); }

// ---------------------------------------------------------------------------
// Validation (shared by all backends)

std::string check_linear(const QLinearDesc & l, const std::string & name, int rows, int cols) {
    if (!l.present()) return name + " is missing";
    if (l.rows != rows || l.cols != cols) {
        return name + " is " + str(l.rows) + "x" + str(l.cols) + ", expected " + str(rows) + "x" + str(cols);
    }
    if (l.q_len != (size_t) rows * cols) return name + ".q has " + str(l.q_len) + " values, expected " + str((int64_t) rows * cols);
    if (l.scales == nullptr || l.scales_len != (size_t) rows * 2) {
        return name + ".scales has " + str(l.scales == nullptr ? 0 : l.scales_len) + " values, expected " + str(rows * 2);
    }
    for (int r = 0; r < rows; ++r) {
        const int64_t m = l.scales[2 * r];
        if (m < (1 << 29)) return name + ".scales row " + str(r) + ": m = " + str(m) + " is outside [2^29, 2^31)";
    }
    if (l.bias != nullptr && l.bias_len != (size_t) rows) {
        return name + ".bias has " + str(l.bias_len) + " values, expected " + str(rows);
    }
    return "";
}

std::string check_gains(const int32_t * g, size_t len, const std::string & name, int dim) {
    if (g == nullptr) return name + " is missing";
    if (len != (size_t) dim) return name + " has " + str(len) + " values, expected " + str(dim);
    for (size_t i = 0; i < len; ++i) {
        if (g[i] <= -(1 << 23) || g[i] >= (1 << 23)) return name + "[" + str(i) + "] = " + str(g[i]) + " is outside |g| < 2^23";
    }
    return "";
}

} // namespace

std::string validate_shard_desc(const ShardDesc & d) {
    const ModelDims & m = d.dims;
    const std::pair<const char *, int> fields[] = {
        {"vocab", m.vocab}, {"dim", m.dim}, {"layers", m.layers}, {"heads", m.heads},
        {"kvHeads", m.kv_heads}, {"headDim", m.head_dim}, {"ffn", m.ffn}, {"context", m.context}};
    for (const auto & f : fields) {
        if (f.second < 1) return std::string("dims.") + f.first + " must be a positive integer, got " + str(f.second);
    }
    if (m.dim % 32 != 0) return "dims.dim " + str(m.dim) + " is not a multiple of 32";
    if ((m.heads * (int64_t) m.head_dim) % 32 != 0) {
        return "heads * headDim = " + str((int64_t) m.heads * m.head_dim) + " is not a multiple of 32";
    }
    if (m.heads % m.kv_heads != 0) return "heads " + str(m.heads) + " is not a multiple of kvHeads " + str(m.kv_heads);
    if (m.head_dim % 2 != 0) return "headDim " + str(m.head_dim) + " must be even";
    if (m.dim > 16384 || m.ffn > 131072 || (int64_t) m.heads * m.head_dim > 131072) {
        return "dimensions exceed the spec bounds (dim <= 16384, ffn and heads * headDim <= 131072)";
    }
    if (m.context > (1 << 24)) return "dims.context " + str(m.context) + " exceeds 2^24";
    // ms = ss/D + eps < 2^30 + 2^34, so isqrt(ms * 2^16) stays below the spec's 2^52.
    if (d.eps_q32 < 0 || d.eps_q32 > ((int64_t) 1 << 34)) return "epsQ32 " + str(d.eps_q32) + " is outside [0, 2^34] (eps <= 4)";
    if (d.attn_scale_m < (1 << 29)) return "attnScale m = " + str(d.attn_scale_m) + " is outside [2^29, 2^31)";
    if (d.attn_scale_x < -200 || d.attn_scale_x > 200) return "attnScale x = " + str(d.attn_scale_x) + " is out of range";
    if (d.range_start < 0 || d.range_start > d.range_end || d.range_end > m.layers) {
        return "range [" + str(d.range_start) + ", " + str(d.range_end) + ") is not within [0, " + str(m.layers) + "]";
    }
    if ((int) d.layers.size() != d.range_end - d.range_start) {
        return "shard [" + str(d.range_start) + ", " + str(d.range_end) + ") has " + str(d.layers.size()) + " layers";
    }
    const int64_t rope_expect = (int64_t) m.context * m.head_dim;
    if (d.rope == nullptr || (int64_t) d.rope_len != rope_expect) {
        return "rope table has " + str(d.rope == nullptr ? 0 : d.rope_len) + " entries, expected " + str(rope_expect) + " (context * headDim)";
    }
    for (size_t i = 0; i < d.rope_len; ++i) {
        if (d.rope[i] < -32768 || d.rope[i] > 32768) return "rope[" + str(i) + "] = " + str(d.rope[i]) + " is not a Q15 cos/sin";
    }
    if (d.has_embedding()) {
        if (d.range_start != 0) return "embedding present but the shard starts at layer " + str(d.range_start);
        if (d.emb_q_len != (size_t) m.vocab * m.dim) return "embedding.q has " + str(d.emb_q_len) + " values, expected " + str((int64_t) m.vocab * m.dim);
        if (d.emb_scales == nullptr || d.emb_scales_len != (size_t) m.vocab * (m.dim / 32)) {
            return "embedding.scales has " + str(d.emb_scales == nullptr ? 0 : d.emb_scales_len) + " values, expected " + str((int64_t) m.vocab * (m.dim / 32));
        }
        for (size_t i = 0; i < d.emb_scales_len; ++i) {
            if (d.emb_scales[i] < 1 || d.emb_scales[i] >= (1 << 24)) return "embedding.scales[" + str(i) + "] = " + str(d.emb_scales[i]) + " is outside [1, 2^24)";
        }
        for (size_t i = 0; i < d.emb_q_len; ++i) {
            if (d.emb_q[i] == -128) return "embedding.q[" + str(i) + "] = -128 is not a valid boundary value";
        }
    }
    const int qd = m.heads * m.head_dim, kvd = m.kv_heads * m.head_dim;
    for (size_t l = 0; l < d.layers.size(); ++l) {
        const LayerDesc & L = d.layers[l];
        const std::string p = "layers[" + str(l) + "].";
        std::string e;
        if (!(e = check_gains(L.attn_norm, L.attn_norm_len, p + "attnNorm", m.dim)).empty()) return e;
        if (!(e = check_linear(L.wq, p + "wq", qd, m.dim)).empty()) return e;
        if (!(e = check_linear(L.wk, p + "wk", kvd, m.dim)).empty()) return e;
        if (!(e = check_linear(L.wv, p + "wv", kvd, m.dim)).empty()) return e;
        if (!(e = check_linear(L.wo, p + "wo", m.dim, qd)).empty()) return e;
        if (!(e = check_gains(L.ffn_norm, L.ffn_norm_len, p + "ffnNorm", m.dim)).empty()) return e;
        if (!(e = check_linear(L.w_gate, p + "wGate", m.ffn, m.dim)).empty()) return e;
        if (!(e = check_linear(L.w_up, p + "wUp", m.ffn, m.dim)).empty()) return e;
        if (!(e = check_linear(L.w_down, p + "wDown", m.dim, m.ffn)).empty()) return e;
    }
    if (d.has_output() != (d.output_norm != nullptr)) return "output and outputNorm must be given together";
    if (d.has_output()) {
        if (d.range_end != m.layers) return "output head present but the shard ends at layer " + str(d.range_end) + " of " + str(m.layers);
        std::string e;
        if (!(e = check_gains(d.output_norm, d.output_norm_len, "outputNorm", m.dim)).empty()) return e;
        if (!(e = check_linear(d.output, "output", m.vocab, m.dim)).empty()) return e;
    }
    return "";
}

namespace {

// ---------------------------------------------------------------------------
// Weights as the runner keeps them

struct Linear {
    int rows = 0, cols = 0;
    PackedWeights w;
    std::vector<int32_t> mw, xw;      // per-row scale
    std::vector<int32_t> bias;        // empty: no bias
};

// Several QLinear with the same input, stacked by rows into one GEMM (q|k|v,
// gate|up). A part without bias gets zeros when another part has one: y is
// already sat32, so sat32(y + 0) = y, exactly the no-bias result.
void build_linear(Kernel kernel, bool small_m_vnni, std::initializer_list<const QLinearDesc *> parts, Linear & out) {
    int rows = 0;
    const int cols = (*parts.begin())->cols;
    bool any_bias = false;
    for (const QLinearDesc * p : parts) {
        rows += p->rows;
        any_bias = any_bias || p->bias != nullptr;
    }
    out.rows = rows;
    out.cols = cols;
    std::vector<int8_t> q((size_t) rows * cols);
    out.mw.resize(rows);
    out.xw.resize(rows);
    if (any_bias) out.bias.assign(rows, 0);
    int r0 = 0;
    for (const QLinearDesc * p : parts) {
        std::memcpy(q.data() + (size_t) r0 * cols, p->q, (size_t) p->rows * cols);
        for (int r = 0; r < p->rows; ++r) {
            out.mw[r0 + r] = p->scales[2 * r];
            out.xw[r0 + r] = p->scales[2 * r + 1];
            if (p->bias != nullptr) out.bias[r0 + r] = p->bias[r];
        }
        r0 += p->rows;
    }
    pack_weights(kernel, q.data(), rows, cols, out.w, small_m_vnni);
}

struct Layer {
    std::vector<int32_t> attn_norm, ffn_norm;
    Linear qkv, wo, gate_up, down;
};

// One session's KV cache for the layers of this shard: per layer, per position,
// per kv head, hd int8 plus an (m, x) scale, for K and V. Grown on demand.
struct Session {
    std::atomic<int> length{0};     // read by session_length() while a forward runs
    int capacity = 0;
    std::vector<std::vector<int8_t>> k, v;
    std::vector<std::vector<QScale>> ks, vs;

    void reserve(int positions, int layers, int kvh, int hd, int context) {
        if (positions <= capacity) return;
        int cap = std::max(positions, std::min(context, std::max(16, capacity * 2)));
        k.resize(layers); v.resize(layers); ks.resize(layers); vs.resize(layers);
        for (int l = 0; l < layers; ++l) {
            k[l].resize((size_t) cap * kvh * hd);
            v[l].resize((size_t) cap * kvh * hd);
            ks[l].resize((size_t) cap * kvh);
            vs[l].resize((size_t) cap * kvh);
        }
        capacity = cap;
    }
};

// ---------------------------------------------------------------------------

class CpuRunner final : public ShardRunner {
public:
    CpuRunner(const ShardDesc & d, const CpuRunnerOptions & opts);

    void forward(const std::string & session, int pos, int n, const int32_t * tokens,
                 const int8_t * act_q, const int32_t * act_scales,
                 int8_t * out_q, int32_t * out_scales, int32_t * logits) override;
    void end_session(const std::string & session) override;
    int session_length(const std::string & session) const override;
    const char * kernel_name() const override { return vm_engine::kernel_name(kernel_); }
    const ShardInfo & info() const override { return info_; }

private:
    void rmsnorm(const int32_t * x, const int32_t * g, int8_t * q, QScale * s, int tid);
    void rope(int32_t * v, int heads, int p) const;
    void linear(const Linear & L, const int8_t * a, const QScale * as, int m, int32_t * out);
    void layer(int l, Session & s, int pos, int n);
    void attention_item(int l, const Session & s, int t, int h, int pos, int tid);
    template <class F> void parallel_rows(int n, F && f);

    ShardInfo info_;
    ModelDims d_;
    RopeStyle style_;
    int64_t eps_;
    int32_t mc_, xc_;
    Kernel kernel_;
    int threads_;

    std::vector<int32_t> rope_;
    std::vector<int8_t> emb_q_;
    std::vector<int32_t> emb_s_;
    std::vector<Layer> layers_;
    std::vector<int32_t> out_norm_;
    Linear output_;

    mutable std::mutex sessions_mu_;
    std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;

    // Scratch, reused across calls (forward is serialised by forward_mu_).
    std::mutex forward_mu_;
    std::vector<int32_t> x_, y_, qkv_, o_, gu_, h_;
    std::vector<int8_t> aq_;
    std::vector<QScale> as_;
    AlignedBytes abuf_;
    // per-thread attention scratch
    std::vector<std::vector<int64_t>> att_l_, att_w_;
    std::vector<std::vector<int8_t>> att_q_;
    std::vector<std::vector<int32_t>> att_o_;
    std::vector<std::vector<int32_t>> norm_xs_, norm_y_;
};

CpuRunner::CpuRunner(const ShardDesc & d, const CpuRunnerOptions & opts) {
    const std::string err = validate_shard_desc(d);
    if (!err.empty()) throw EngineError("invalid shard: " + err);
    if (opts.threads < 0) throw EngineError("threads must be >= 0 (0 = hardware concurrency), got " + str(opts.threads));
    if (opts.threads > 256) throw EngineError("threads must be <= 256, got " + str(opts.threads));
    bool is_auto = false;
    kernel_ = resolve_kernel(opts.kernel, &is_auto);
    // 'auto' on an AMX host runs products of few rows (decode) on avx512vnni over the
    // same packed weights; a forced kernel runs every product on that kernel.
    const bool mixed = is_auto && kernel_ == Kernel::Amx && kernel_supported(Kernel::Avx512Vnni, nullptr);
    threads_ = opts.threads == 0 ? default_threads() : opts.threads;

    d_ = d.dims;
    style_ = d.rope_style;
    eps_ = d.eps_q32;
    mc_ = d.attn_scale_m;
    xc_ = d.attn_scale_x;
    info_.dims = d.dims;
    info_.range_start = d.range_start;
    info_.range_end = d.range_end;
    info_.has_embedding = d.has_embedding();
    info_.has_output = d.has_output();

    rope_.assign(d.rope, d.rope + d.rope_len);
    if (d.has_embedding()) {
        emb_q_.assign(d.emb_q, d.emb_q + d.emb_q_len);
        emb_s_.assign(d.emb_scales, d.emb_scales + d.emb_scales_len);
    }
    layers_.resize(d.layers.size());
    for (size_t l = 0; l < d.layers.size(); ++l) {
        const LayerDesc & L = d.layers[l];
        Layer & o = layers_[l];
        o.attn_norm.assign(L.attn_norm, L.attn_norm + L.attn_norm_len);
        o.ffn_norm.assign(L.ffn_norm, L.ffn_norm + L.ffn_norm_len);
        build_linear(kernel_, mixed, {&L.wq, &L.wk, &L.wv}, o.qkv);
        build_linear(kernel_, mixed, {&L.wo}, o.wo);
        build_linear(kernel_, mixed, {&L.w_gate, &L.w_up}, o.gate_up);
        build_linear(kernel_, mixed, {&L.w_down}, o.down);
    }
    if (d.has_output()) {
        out_norm_.assign(d.output_norm, d.output_norm + d.output_norm_len);
        build_linear(kernel_, mixed, {&d.output}, output_);
    }
    att_l_.resize(threads_);
    att_w_.resize(threads_);
    att_q_.resize(threads_);
    att_o_.resize(threads_);
    norm_xs_.assign(threads_, std::vector<int32_t>(d_.dim));
    norm_y_.assign(threads_, std::vector<int32_t>(d_.dim));
}

template <class F>
void CpuRunner::parallel_rows(int n, F && f) {
    const int nt = std::min(threads_, n);
    if (nt <= 1) {
        for (int t = 0; t < n; ++t) f(t, 0);
        return;
    }
    cpu_pool().run(nt, [&](int tid, int k) {
        for (int t = (int) ((long) n * tid / k); t < (int) ((long) n * (tid + 1) / k); ++t) f(t, tid);
    });
}

// Spec §2.2.
void CpuRunner::rmsnorm(const int32_t * x, const int32_t * g, int8_t * q, QScale * s, int tid) {
    const int D = d_.dim;
    int64_t amax = 0;
    for (int i = 0; i < D; ++i) {
        const int64_t a = x[i] < 0 ? -(int64_t) x[i] : x[i];
        amax = std::max(amax, a);
    }
    const int k = amax == 0 ? 0 : std::max(0, bitlen((uint64_t) amax) - 15);
    int32_t * xs = norm_xs_[tid].data();
    int32_t * y = norm_y_[tid].data();
    int64_t ss = 0;
    for (int i = 0; i < D; ++i) {
        const int64_t v = rshr(x[i], k);
        xs[i] = (int32_t) v;
        ss += v * v;
    }
    const int64_t ms = std::max<int64_t>(1, ss / D + rshr(eps_, 2 * k));
    const int64_t r = isqrt(ms * 65536);
    const RDiv div(r);
    for (int i = 0; i < D; ++i) {
        // |xs * g * 2^8| < 2^46. The quotient fits int32 for every input the spec
        // allows (|y| <= sqrt(2D) * |g|); the cast wraps exactly like the
        // reference's Int32Array store would.
        y[i] = (int32_t) div((int64_t) xs[i] * g[i] * 256);
    }
    *s = qvec(y, D, q);
}

// Spec §2.3, in place on `heads` heads at position p.
void CpuRunner::rope(int32_t * v, int heads, int p) const {
    const int hd = d_.head_dim, half = hd / 2;
    const int32_t * row = rope_.data() + (size_t) p * hd;
    for (int h = 0; h < heads; ++h) {
        int32_t * base = v + (size_t) h * hd;
        for (int i = 0; i < half; ++i) {
            const int64_t c = row[2 * i], s = row[2 * i + 1];
            const int ia = style_ == RopeStyle::Adjacent ? 2 * i : i;
            const int ib = style_ == RopeStyle::Adjacent ? ia + 1 : ia + half;
            const int64_t a = base[ia], b = base[ib];
            base[ia] = sat32(rshr(a * c - b * s, 15));
            base[ib] = sat32(rshr(a * s + b * c, 15));
        }
    }
}

// Spec §2.1 for m rows: out[m][rows] (Q16). The GEMM and the requantisation of a
// column range run on the same thread, so the accumulators are still in cache.
void CpuRunner::linear(const Linear & L, const int8_t * a, const QScale * as, int m, int32_t * out) {
    const PreparedA pa = prepare_a(L.w, a, m, abuf_);
    const int blk = gemm_col_block(pa);
    const int nblocks = (L.rows + blk - 1) / blk;
    // Below ~64k MACs per thread a fork costs more than it saves.
    const int64_t work = (int64_t) m * L.rows * L.cols;
    const int nt = std::max(1, std::min<int>({threads_, nblocks, (int) std::max<int64_t>(1, work / 65536)}));
    const bool has_bias = !L.bias.empty();
    cpu_pool().run(nt, [&](int tid, int k) {
        const int n0 = (int) ((long) nblocks * tid / k) * blk;
        const int n1 = std::min(L.rows, (int) ((long) nblocks * (tid + 1) / k) * blk);
        gemm_s8_cols(L.w, pa, n0, n1, out, L.rows);
        for (int i = 0; i < m; ++i) {
            int32_t * row = out + (size_t) i * L.rows;
            const int64_t ma = as[i].m;
            const int xa = as[i].x;
            for (int j = n0; j < n1; ++j) {
                const int32_t u = mulr(row[j], L.mw[j], 31);
                int32_t y = mulr(u, (int32_t) ma, -(xa + L.xw[j] + 47));
                if (has_bias) y = sat32((int64_t) y + L.bias[j]);
                row[j] = y;
            }
        }
    });
}

// Spec §2.5 for query head h of batch row t (absolute position pos + t), reading
// cache rows 0..pos+t, writing o_[t][h*hd ..].
void CpuRunner::attention_item(int l, const Session & s, int t, int h, int pos, int tid) {
    const int hd = d_.head_dim, H = d_.heads, Hkv = d_.kv_heads;
    const int g = h / (H / Hkv);
    const int tp = pos + t;
    // Sized by layer() before the region: nothing allocates on pool threads.
    std::vector<int64_t> & L = att_l_[tid];
    std::vector<int64_t> & W = att_w_[tid];
    std::vector<int8_t> & qh = att_q_[tid];
    std::vector<int32_t> & acc_o = att_o_[tid];

    const int32_t * qv = qkv_.data() + (size_t) t * (H + 2 * Hkv) * hd + (size_t) h * hd;
    const QScale sq = qvec(qv, hd, qh.data());
    const int8_t * K = s.k[l].data();
    const int8_t * V = s.v[l].data();
    const QScale * KS = s.ks[l].data();
    const QScale * VS = s.vs[l].data();

    int64_t mx = INT64_MIN;
    for (int j = 0; j <= tp; ++j) {
        const int8_t * kr = K + ((size_t) j * Hkv + g) * hd;
        int32_t acc = 0;
        for (int i = 0; i < hd; ++i) acc += (int32_t) qh[i] * kr[i];
        const QScale sk = KS[(size_t) j * Hkv + g];
        const int32_t lj = mulr(mulr(mulr(acc, sk.m, 31), sq.m, 31), mc_, -(sk.x + sq.x + xc_ + 78));
        L[j] = lj;
        mx = std::max<int64_t>(mx, lj);
    }
    int64_t S = 0;
    int32_t X = INT32_MIN;
    for (int j = 0; j <= tp; ++j) {
        const int64_t e = exp2q30(std::max<int64_t>(L[j] - mx, -2147483647));
        L[j] = e;
        S += e;
        X = std::max(X, VS[(size_t) j * Hkv + g].x);
    }
    const RDiv div(S);
    for (int j = 0; j <= tp; ++j) {
        const QScale sv = VS[(size_t) j * Hkv + g];
        const int64_t p = div(L[j] * 32768);
        W[j] = rshr(p * sv.m, 30 + X - sv.x);
    }
    // sum_j w_j * V_j[i] fits int32: w_j <= 2 p_j + 1 and sum p_j <= 2^15 + (t+1)/2,
    // so |sum| <= 127 * (2^16 + 2 (t+1)) < 2^31 for any context below 2^22.
    std::fill(acc_o.begin(), acc_o.begin() + hd, 0);
    int32_t * ao = acc_o.data();
    for (int j = 0; j <= tp; ++j) {
        const int8_t * vr = V + ((size_t) j * Hkv + g) * hd;
        const int32_t w = (int32_t) W[j];
        for (int i = 0; i < hd; ++i) ao[i] += w * vr[i];
    }
    int32_t * o = o_.data() + (size_t) t * H * hd + (size_t) h * hd;
    for (int i = 0; i < hd; ++i) o[i] = sat32(rshr(ao[i], -(X + 31)));
}

void CpuRunner::layer(int l, Session & s, int pos, int n) {
    const Layer & L = layers_[l];
    const int D = d_.dim, hd = d_.head_dim, H = d_.heads, Hkv = d_.kv_heads, F = d_.ffn;
    const int qkv_rows = (H + 2 * Hkv) * hd;

    // Attention (§2.5)
    parallel_rows(n, [&](int t, int tid) {
        rmsnorm(x_.data() + (size_t) t * D, L.attn_norm.data(), aq_.data() + (size_t) t * D, &as_[t], tid);
    });
    linear(L.qkv, aq_.data(), as_.data(), n, qkv_.data());
    parallel_rows(n, [&](int t, int tid) {
        int32_t * row = qkv_.data() + (size_t) t * qkv_rows;
        rope(row, H, pos + t);
        rope(row + (size_t) H * hd, Hkv, pos + t);
        for (int g = 0; g < Hkv; ++g) {
            const size_t ci = (size_t) (pos + t) * Hkv + g;
            s.ks[l][ci] = qvec(row + (size_t) (H + g) * hd, hd, s.k[l].data() + ci * hd);
            s.vs[l][ci] = qvec(row + (size_t) (H + Hkv + g) * hd, hd, s.v[l].data() + ci * hd);
        }
    });
    const int items = n * H;
    const int nt = std::min(threads_, items);
    for (int t = 0; t < nt; ++t) {
        if ((int) att_l_[t].size() < pos + n) {
            att_l_[t].resize(pos + n);
            att_w_[t].resize(pos + n);
        }
        att_q_[t].resize(hd);
        att_o_[t].resize(hd);
    }
    cpu_pool().run(nt, [&](int tid, int k) {
        for (int it = (int) ((long) items * tid / k); it < (int) ((long) items * (tid + 1) / k); ++it) {
            attention_item(l, s, it / H, it % H, pos, tid);
        }
    });
    parallel_rows(n, [&](int t, int tid) {
        as_[t] = qvec(o_.data() + (size_t) t * H * hd, H * hd, aq_.data() + (size_t) t * H * hd);
    });
    linear(L.wo, aq_.data(), as_.data(), n, y_.data());
    for (size_t i = 0; i < (size_t) n * D; ++i) x_[i] = sat32((int64_t) x_[i] + y_[i]);

    // MLP (§2.6)
    parallel_rows(n, [&](int t, int tid) {
        rmsnorm(x_.data() + (size_t) t * D, L.ffn_norm.data(), aq_.data() + (size_t) t * D, &as_[t], tid);
    });
    linear(L.gate_up, aq_.data(), as_.data(), n, gu_.data());
    parallel_rows(n, [&](int t, int tid) {
        const int32_t * gate = gu_.data() + (size_t) t * 2 * F;
        const int32_t * up = gate + F;
        int32_t * h = h_.data() + (size_t) t * F;
        for (int i = 0; i < F; ++i) h[i] = mulr(silu(gate[i]), up[i], 16);
        as_[t] = qvec(h, F, aq_.data() + (size_t) t * F);
    });
    linear(L.down, aq_.data(), as_.data(), n, y_.data());
    for (size_t i = 0; i < (size_t) n * D; ++i) x_[i] = sat32((int64_t) x_[i] + y_[i]);
}

void CpuRunner::forward(const std::string & session, int pos, int n, const int32_t * tokens,
                        const int8_t * act_q, const int32_t * act_scales,
                        int8_t * out_q, int32_t * out_scales, int32_t * logits) {
    const int D = d_.dim, blocks = D / 32;
    const std::string shard = "shard [" + str(info_.range_start) + ", " + str(info_.range_end) + ")";
    if (n < 1) throw EngineError("a step needs at least one position");
    if (pos < 0 || (int64_t) pos + n > d_.context) {
        throw EngineError("positions [" + str(pos) + ", " + str((int64_t) pos + n) + ") exceed the model's context of " + str(d_.context));
    }
    if (tokens != nullptr) {
        if (!info_.has_embedding) throw EngineError(shard + " does not own the embeddings; send it activations");
        for (int t = 0; t < n; ++t) {
            if (tokens[t] < 0 || tokens[t] >= d_.vocab) throw EngineError("token id " + str(tokens[t]) + " is outside the vocabulary of " + str(d_.vocab));
        }
    } else {
        if (act_q == nullptr || act_scales == nullptr) throw EngineError("forward needs tokens or activations");
        if (info_.has_embedding) throw EngineError("the first shard takes tokens, not activations");
        for (int64_t i = 0; i < (int64_t) n * blocks; ++i) {
            if (act_scales[i] < 1 || act_scales[i] >= (1 << 24)) {
                throw EngineError("activation block scale " + str(act_scales[i]) + " at " + str(i) + " is outside [1, 2^24)");
            }
        }
        for (int64_t i = 0; i < (int64_t) n * D; ++i) {
            if (act_q[i] == -128) throw EngineError("activation value -128 at " + str(i) + " is not a valid boundary value");
        }
    }
    if (logits != nullptr && !info_.has_output) throw EngineError(shard + " has no output head: it cannot produce logits");

    std::lock_guard<std::mutex> lk(forward_mu_);
    std::shared_ptr<Session> s;
    {
        std::lock_guard<std::mutex> sl(sessions_mu_);
        auto it = sessions_.find(session);
        if (it == sessions_.end()) {
            if (pos != 0) throw EngineError("session '" + session + "' is unknown here; it must start at position 0, not " + str(pos));
            s = std::make_shared<Session>();
            sessions_.emplace(session, s);
        } else {
            s = it->second;
            // pos < length rewinds: a retried step overwrites its own cache rows.
            if (pos > s->length) {
                throw EngineError("session '" + session + "' is at position " + str(s->length) + ", got a step for position " + str(pos));
            }
        }
    }
    const int nl = (int) layers_.size();
    s->reserve(pos + n, nl, d_.kv_heads, d_.head_dim, d_.context);

    // Scratch for n positions.
    const int hd = d_.head_dim, H = d_.heads, Hkv = d_.kv_heads, F = d_.ffn;
    const size_t widest = (size_t) std::max({D, H * hd, F});
    x_.resize((size_t) n * D);
    y_.resize((size_t) n * D);
    qkv_.resize((size_t) n * (H + 2 * Hkv) * hd);
    o_.resize((size_t) n * H * hd);
    gu_.resize((size_t) n * 2 * F);
    h_.resize((size_t) n * F);
    aq_.resize((size_t) n * widest);
    as_.resize(n);

    for (int t = 0; t < n; ++t) {
        const int8_t * q = tokens != nullptr ? emb_q_.data() + (size_t) tokens[t] * D : act_q + (size_t) t * D;
        const int32_t * sc = tokens != nullptr ? emb_s_.data() + (size_t) tokens[t] * blocks : act_scales + (size_t) t * blocks;
        from_bact(q, sc, D, x_.data() + (size_t) t * D);
        if (nl == 0) {
            // No layer requantises: the boundary out is the boundary in.
            std::memcpy(out_q + (size_t) t * D, q, D);
            std::memcpy(out_scales + (size_t) t * blocks, sc, (size_t) blocks * 4);
        }
    }
    for (int l = 0; l < nl; ++l) {
        layer(l, *s, pos, n);
        // Requantise after every layer (§2.7) so results do not depend on the cut.
        parallel_rows(n, [&](int t, int tid) {
            int32_t * x = x_.data() + (size_t) t * D;
            to_bact(x, D, out_q + (size_t) t * D, out_scales + (size_t) t * blocks);
            from_bact(out_q + (size_t) t * D, out_scales + (size_t) t * blocks, D, x);
        });
    }
    s->length = pos + n;

    if (logits != nullptr) {
        QScale sc;
        rmsnorm(x_.data() + (size_t) (n - 1) * D, out_norm_.data(), aq_.data(), &sc, 0);
        linear(output_, aq_.data(), &sc, 1, logits);
    }
}

void CpuRunner::end_session(const std::string & session) {
    std::shared_ptr<Session> drop;     // freed outside the lock
    std::lock_guard<std::mutex> sl(sessions_mu_);
    auto it = sessions_.find(session);
    if (it != sessions_.end()) {
        drop = std::move(it->second);
        sessions_.erase(it);
    }
}

int CpuRunner::session_length(const std::string & session) const {
    std::lock_guard<std::mutex> sl(sessions_mu_);
    auto it = sessions_.find(session);
    return it == sessions_.end() ? 0 : it->second->length.load();
}

} // namespace

std::unique_ptr<ShardRunner> make_cpu_runner(const ShardDesc & desc, const CpuRunnerOptions & opts) {
    return std::unique_ptr<ShardRunner>(new CpuRunner(desc, opts));
}

} // namespace vm_engine
