// Node-API bindings of the integer engine: NativeShard (a ShardRunner per JS
// object), gemmS8 / gemmS8Bench / kernels for tests and benchmarks. Only value
// conversion and argument checking live here; the engine is in cpu_runner.cc.
//
// Ownership: the constructor copies (and repacks) every tensor, so the caller's
// typed arrays may be dropped, mutated or transferred afterwards. Inputs of
// forwardAsync are copied too before the work leaves the JS thread.

#include "bindings.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gemm.h"
#include "shard.h"
#include "thread_pool.h"

#ifdef VERIMESH_CUDA
// ---- CUDA backend hook (owned by native/cuda/, see its README.md) ----
#include "../../cuda/cuda_runner.h"
#endif

namespace {

using vm_engine::EngineError;

// A JS Error with a `code` matching runtime/errors.ts codes.
Napi::Error coded_error(Napi::Env env, const std::string & code, const std::string & msg) {
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("code", Napi::String::New(env, code));
    return e;
}

struct ArgError {
    std::string code;
    std::string message;
};

[[noreturn]] void fail(const std::string & code, const std::string & msg) { throw ArgError{code, msg}; }

// ---------------------------------------------------------------------------
// Value readers (throw ArgError with the path of the offending field)

int64_t get_int(const Napi::Value & v, const std::string & what, const std::string & code,
                int64_t lo = INT32_MIN, int64_t hi = INT32_MAX) {
    if (!v.IsNumber()) fail(code, what + " must be an integer, got " + (v.IsUndefined() ? "undefined" : "a non-number"));
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d) fail(code, what + " must be an integer, got " + std::to_string(d));
    if (d < (double) lo || d > (double) hi) {
        fail(code, what + " = " + std::to_string((int64_t) d) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return (int64_t) d;
}

template <class T>
struct ArrayView {
    const T * data = nullptr;
    size_t length = 0;
};

template <class T> napi_typedarray_type typed_kind();
template <> napi_typedarray_type typed_kind<int8_t>() { return napi_int8_array; }
template <> napi_typedarray_type typed_kind<int32_t>() { return napi_int32_array; }
template <class T> const char * typed_name();
template <> const char * typed_name<int8_t>() { return "Int8Array"; }
template <> const char * typed_name<int32_t>() { return "Int32Array"; }

template <class T>
ArrayView<T> get_array(const Napi::Value & v, const std::string & what, const std::string & code) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_kind<T>()) {
        fail(code, what + " must be an " + typed_name<T>());
    }
    Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
    ArrayView<T> out;
    out.data = a.Data();
    out.length = a.ElementLength();
    return out;
}

Napi::Object get_object(const Napi::Value & v, const std::string & what, const std::string & code) {
    if (!v.IsObject()) fail(code, what + " must be an object");
    return v.As<Napi::Object>();
}

vm_engine::QLinearDesc read_linear(const Napi::Value & v, const std::string & what) {
    const std::string C = "MODEL_INVALID";
    Napi::Object o = get_object(v, what, C);
    vm_engine::QLinearDesc l;
    l.rows = (int) get_int(o.Get("rows"), what + ".rows", C, 1, INT32_MAX);
    l.cols = (int) get_int(o.Get("cols"), what + ".cols", C, 1, INT32_MAX);
    const auto q = get_array<int8_t>(o.Get("q"), what + ".q", C);
    const auto s = get_array<int32_t>(o.Get("scales"), what + ".scales", C);
    l.q = q.data; l.q_len = q.length;
    l.scales = s.data; l.scales_len = s.length;
    const Napi::Value b = o.Get("bias");
    if (!b.IsUndefined()) {
        const auto bb = get_array<int32_t>(b, what + ".bias", C);
        l.bias = bb.data; l.bias_len = bb.length;
    }
    return l;
}

// ShardWeights (actors/engine/int/types.ts) -> ShardDesc pointing into the arrays.
vm_engine::ShardDesc read_weights(const Napi::Value & wv) {
    const std::string C = "MODEL_INVALID";
    vm_engine::ShardDesc d;
    Napi::Object w = get_object(wv, "weights", C);
    Napi::Object config = get_object(w.Get("config"), "weights.config", C);
    Napi::Object dims = get_object(config.Get("dims"), "weights.config.dims", C);
    const auto dim_field = [&](const char * name) {
        return (int) get_int(dims.Get(name), std::string("weights.config.dims.") + name, C, 1, INT32_MAX);
    };
    d.dims.vocab = dim_field("vocab");
    d.dims.dim = dim_field("dim");
    d.dims.layers = dim_field("layers");
    d.dims.heads = dim_field("heads");
    d.dims.kv_heads = dim_field("kvHeads");
    d.dims.head_dim = dim_field("headDim");
    d.dims.ffn = dim_field("ffn");
    d.dims.context = dim_field("context");

    const Napi::Value style = config.Get("ropeStyle");
    const std::string st = style.IsString() ? style.As<Napi::String>().Utf8Value() : "";
    if (st == "adjacent") d.rope_style = vm_engine::RopeStyle::Adjacent;
    else if (st == "halves") d.rope_style = vm_engine::RopeStyle::Halves;
    else fail(C, "weights.config.ropeStyle must be 'adjacent' or 'halves'");
    d.eps_q32 = get_int(config.Get("epsQ32"), "weights.config.epsQ32", C, 0, ((int64_t) 1 << 53) - 1);
    const Napi::Value as = config.Get("attnScale");
    if (!as.IsArray() || as.As<Napi::Array>().Length() != 2) fail(C, "weights.config.attnScale must be [m, x]");
    d.attn_scale_m = (int32_t) get_int(as.As<Napi::Array>().Get((uint32_t) 0), "weights.config.attnScale[0]", C);
    d.attn_scale_x = (int32_t) get_int(as.As<Napi::Array>().Get((uint32_t) 1), "weights.config.attnScale[1]", C);

    const Napi::Value rv = w.Get("range");
    if (!rv.IsArray() || rv.As<Napi::Array>().Length() != 2) fail(C, "weights.range must be [start, end]");
    d.range_start = (int) get_int(rv.As<Napi::Array>().Get((uint32_t) 0), "weights.range[0]", C, 0, INT32_MAX);
    d.range_end = (int) get_int(rv.As<Napi::Array>().Get((uint32_t) 1), "weights.range[1]", C, 0, INT32_MAX);

    const auto rope = get_array<int32_t>(w.Get("rope"), "weights.rope", C);
    d.rope = rope.data; d.rope_len = rope.length;

    const Napi::Value ev = w.Get("embedding");
    if (!ev.IsUndefined()) {
        Napi::Object e = get_object(ev, "weights.embedding", C);
        const auto q = get_array<int8_t>(e.Get("q"), "weights.embedding.q", C);
        const auto s = get_array<int32_t>(e.Get("scales"), "weights.embedding.scales", C);
        d.emb_q = q.data; d.emb_q_len = q.length;
        d.emb_scales = s.data; d.emb_scales_len = s.length;
    }

    const Napi::Value lv = w.Get("layers");
    if (!lv.IsArray()) fail(C, "weights.layers must be an array");
    Napi::Array layers = lv.As<Napi::Array>();
    for (uint32_t i = 0; i < layers.Length(); ++i) {
        const std::string p = "weights.layers[" + std::to_string(i) + "]";
        Napi::Object L = get_object(layers.Get(i), p, C);
        vm_engine::LayerDesc ld;
        const auto an = get_array<int32_t>(L.Get("attnNorm"), p + ".attnNorm", C);
        ld.attn_norm = an.data; ld.attn_norm_len = an.length;
        const auto fn = get_array<int32_t>(L.Get("ffnNorm"), p + ".ffnNorm", C);
        ld.ffn_norm = fn.data; ld.ffn_norm_len = fn.length;
        ld.wq = read_linear(L.Get("wq"), p + ".wq");
        ld.wk = read_linear(L.Get("wk"), p + ".wk");
        ld.wv = read_linear(L.Get("wv"), p + ".wv");
        ld.wo = read_linear(L.Get("wo"), p + ".wo");
        ld.w_gate = read_linear(L.Get("wGate"), p + ".wGate");
        ld.w_up = read_linear(L.Get("wUp"), p + ".wUp");
        ld.w_down = read_linear(L.Get("wDown"), p + ".wDown");
        d.layers.push_back(ld);
    }

    const Napi::Value onv = w.Get("outputNorm");
    if (!onv.IsUndefined()) {
        const auto on = get_array<int32_t>(onv, "weights.outputNorm", C);
        d.output_norm = on.data; d.output_norm_len = on.length;
    }
    const Napi::Value ov = w.Get("output");
    if (!ov.IsUndefined()) d.output = read_linear(ov, "weights.output");
    return d;
}

std::string read_kernel(const Napi::Value & v, const std::string & what) {
    if (v.IsUndefined()) return "auto";
    if (!v.IsString()) fail("CONFIG_INVALID", what + " must be 'auto', 'scalar', 'avx2', 'avx512vnni' or 'amx'");
    return v.As<Napi::String>().Utf8Value();
}

// Forward input, copied so that it can cross to a worker thread.
struct ForwardArgs {
    std::string session;
    int pos = 0;
    int n = 0;
    bool tokens = false;
    std::vector<int32_t> tok;
    std::vector<int8_t> q;
    std::vector<int32_t> scales;
};

ForwardArgs read_forward_args(const Napi::CallbackInfo & info, const vm_engine::ShardInfo & si) {
    const std::string C = "ENGINE_INPUT_INVALID";
    ForwardArgs a;
    if (info.Length() < 3) fail(C, "forward(session, pos, input) needs 3 arguments");
    if (!info[0].IsString()) fail(C, "session must be a string");
    a.session = info[0].As<Napi::String>().Utf8Value();
    a.pos = (int) get_int(info[1], "pos", C, 0, INT32_MAX);
    Napi::Object in = get_object(info[2], "input", C);
    const Napi::Value kind = in.Get("kind");
    const std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
    const int D = si.dims.dim;
    if (k == "tokens") {
        const auto t = get_array<int32_t>(in.Get("tokens"), "input.tokens", C);
        if (t.length < 1) fail(C, "a step needs at least one position");
        if (t.length > (size_t) si.dims.context) fail(C, "input.tokens has " + std::to_string(t.length) + " tokens, more than the context of " + std::to_string(si.dims.context));
        a.tokens = true;
        a.n = (int) t.length;
        a.tok.assign(t.data, t.data + t.length);
    } else if (k == "acts") {
        Napi::Object acts = get_object(in.Get("acts"), "input.acts", C);
        const int64_t n = get_int(acts.Get("positions"), "input.acts.positions", C, 1, si.dims.context);
        const auto q = get_array<int8_t>(acts.Get("q"), "input.acts.q", C);
        const auto s = get_array<int32_t>(acts.Get("scales"), "input.acts.scales", C);
        if (q.length != (size_t) n * D || s.length != (size_t) n * (D / 32)) {
            fail(C, "activations for " + std::to_string(n) + " positions need " + std::to_string(n * D) + " values and " +
                    std::to_string(n * (D / 32)) + " scales, got " + std::to_string(q.length) + " and " + std::to_string(s.length));
        }
        a.n = (int) n;
        a.q.assign(q.data, q.data + q.length);
        a.scales.assign(s.data, s.data + s.length);
    } else {
        fail(C, "input.kind must be 'tokens' or 'acts'");
    }
    return a;
}

struct ForwardResult {
    int n = 0;
    std::vector<int8_t> q;
    std::vector<int32_t> scales;
    std::vector<int32_t> logits;
    bool has_logits = false;
};

// The runner plus the lock that serialises its forward calls. Shared with
// in-flight async workers, so close() never frees a runner under a worker.
class ForwardWorker;

struct Holder {
    std::unique_ptr<vm_engine::ShardRunner> runner;
    std::mutex mu;
    // forwardAsync queue, touched only on the JS thread: one worker of a shard is on
    // the libuv pool at a time, so queued steps wait here instead of each holding a
    // libuv thread blocked on `mu` (the pool has only 4 by default, shared with fs/dns).
    bool busy = false;
    std::deque<ForwardWorker *> waiting;
    void submit(ForwardWorker * w);
    void done();
};

void run_forward(Holder & h, const ForwardArgs & a, ForwardResult & r) {
    const vm_engine::ShardInfo & si = h.runner->info();
    const int D = si.dims.dim;
    r.n = a.n;
    r.q.resize((size_t) a.n * D);
    r.scales.resize((size_t) a.n * (D / 32));
    r.has_logits = si.has_output;
    if (r.has_logits) r.logits.resize(si.dims.vocab);
    std::lock_guard<std::mutex> lk(h.mu);
    h.runner->forward(a.session, a.pos, a.n, a.tokens ? a.tok.data() : nullptr,
                      a.tokens ? nullptr : a.q.data(), a.tokens ? nullptr : a.scales.data(),
                      r.q.data(), r.scales.data(), r.has_logits ? r.logits.data() : nullptr);
}

Napi::Object to_js(Napi::Env env, ForwardResult & r) {
    Napi::Object acts = Napi::Object::New(env);
    acts.Set("positions", Napi::Number::New(env, r.n));
    Napi::Int8Array q = Napi::Int8Array::New(env, r.q.size());
    std::memcpy(q.Data(), r.q.data(), r.q.size());
    Napi::Int32Array s = Napi::Int32Array::New(env, r.scales.size());
    std::memcpy(s.Data(), r.scales.data(), r.scales.size() * 4);
    acts.Set("q", q);
    acts.Set("scales", s);
    Napi::Object out = Napi::Object::New(env);
    out.Set("acts", acts);
    if (r.has_logits) {
        Napi::Int32Array l = Napi::Int32Array::New(env, r.logits.size());
        std::memcpy(l.Data(), r.logits.data(), r.logits.size() * 4);
        out.Set("logits", l);
    }
    return out;
}

class ForwardWorker : public Napi::AsyncWorker {
public:
    ForwardWorker(Napi::Env env, std::shared_ptr<Holder> h, ForwardArgs && a)
        : Napi::AsyncWorker(env, "verimesh:NativeShard.forward"), holder_(std::move(h)), args_(std::move(a)),
          deferred_(Napi::Promise::Deferred::New(env)) {}

    Napi::Promise promise() { return deferred_.Promise(); }

    void Execute() override {
        try {
            run_forward(*holder_, args_, result_);
        } catch (const EngineError & e) {
            code_ = "ENGINE_INPUT_INVALID";
            SetError(e.what());
        } catch (const std::bad_alloc &) {
            code_ = "INTERNAL";
            SetError("out of memory in NativeShard.forward");
        } catch (const std::exception & e) {
            code_ = "INTERNAL";
            SetError(e.what());
        }
    }

    void OnOK() override {
        deferred_.Resolve(to_js(Env(), result_));
        holder_->done();
    }

    void OnError(const Napi::Error & e) override {
        deferred_.Reject(coded_error(Env(), code_, e.Message()).Value());
        holder_->done();
    }

private:
    std::shared_ptr<Holder> holder_;
    ForwardArgs args_;
    ForwardResult result_;
    std::string code_ = "INTERNAL";
    Napi::Promise::Deferred deferred_;
};

#ifdef VERIMESH_CUDA
// ---- CUDA backend hook (owned by native/cuda/, see its README.md) ----
// kernel 'cuda', or 'auto' unless opts.device is false, runs the shard on the GPU
// opts.device (an index, default 0). Without a usable GPU it returns nullptr, sets
// `fallback` to the reason and leaves opts.kernel for the CPU runner ('auto').
std::unique_ptr<vm_engine::ShardRunner> try_cuda_runner(const Napi::CallbackInfo & info, const vm_engine::ShardDesc & desc,
                                                        vm_engine::CpuRunnerOptions & opts, std::string & fallback) {
    const Napi::Value dv = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>().Get("device") : info.Env().Undefined();
    bool allowed = true;
    int device = 0;
    if (dv.IsBoolean()) allowed = dv.As<Napi::Boolean>().Value();
    else if (!dv.IsUndefined()) device = (int) get_int(dv, "opts.device", "CONFIG_INVALID", 0, 1023);
    if (opts.kernel == "cuda" && !allowed) fail("CONFIG_INVALID", "opts.kernel 'cuda' contradicts opts.device = false");
    if (!(opts.kernel == "cuda" || (opts.kernel == "auto" && allowed))) return nullptr;
    std::unique_ptr<vm_engine::ShardRunner> r;
    try {
        r = vm_engine::make_cuda_runner(desc, device, &fallback);
    } catch (const EngineError & e) {
        fail("MODEL_INVALID", e.what());   // it throws only for an invalid shard
    }
    if (!r) opts.kernel = "auto";
    return r;
}
#endif

void Holder::submit(ForwardWorker * w) {
    if (busy) {
        waiting.push_back(w);
        return;
    }
    busy = true;
    w->Queue();
}

void Holder::done() {
    if (waiting.empty()) {
        busy = false;
        return;
    }
    ForwardWorker * next = waiting.front();
    waiting.pop_front();
    next->Queue();
}

// ---------------------------------------------------------------------------

class NativeShard : public Napi::ObjectWrap<NativeShard> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "NativeShard", {
            InstanceMethod<&NativeShard::Forward>("forward"),
            InstanceMethod<&NativeShard::ForwardAsync>("forwardAsync"),
            InstanceMethod<&NativeShard::EndSession>("endSession"),
            InstanceMethod<&NativeShard::SessionLength>("sessionLength"),
            InstanceMethod<&NativeShard::Close>("close"),
            InstanceAccessor<&NativeShard::Kernel>("kernel"),
            InstanceAccessor<&NativeShard::Threads>("threads"),
            InstanceAccessor<&NativeShard::Closed>("closed"),
        });
    }

    NativeShard(const Napi::CallbackInfo & info) : Napi::ObjectWrap<NativeShard>(info) {
        Napi::Env env = info.Env();
        try {
            if (info.Length() < 1) fail("MODEL_INVALID", "new NativeShard(weights, opts?) needs the shard weights");
            vm_engine::ShardDesc desc = read_weights(info[0]);
            vm_engine::CpuRunnerOptions opts;
            if (info.Length() > 1 && !info[1].IsUndefined()) {
                Napi::Object o = get_object(info[1], "opts", "CONFIG_INVALID");
                const Napi::Value th = o.Get("threads");
                if (!th.IsUndefined()) opts.threads = (int) get_int(th, "opts.threads", "CONFIG_INVALID", 0, 256);
                opts.kernel = read_kernel(o.Get("kernel"), "opts.kernel");
            }
            threads_ = opts.threads == 0 ? vm_engine::default_threads() : opts.threads;
            holder_ = std::make_shared<Holder>();
#ifdef VERIMESH_CUDA
            // ---- CUDA backend hook: `gpuFallback` is why the GPU was asked for but not used, else '' ----
            std::string gpu_fallback;
            holder_->runner = try_cuda_runner(info, desc, opts, gpu_fallback);
            info.This().As<Napi::Object>().DefineProperty(
                Napi::PropertyDescriptor::Value("gpuFallback", Napi::String::New(env, gpu_fallback), napi_enumerable));
#endif
            try {
                if (!holder_->runner) holder_->runner = vm_engine::make_cpu_runner(desc, opts);
            } catch (const EngineError & e) {
                const std::string m = e.what();
                fail(m.rfind("invalid shard", 0) == 0 ? "MODEL_INVALID" : "CONFIG_INVALID", m);
            }
            kernel_ = holder_->runner->kernel_name();
        } catch (const ArgError & e) {
            throw coded_error(env, e.code, e.message);
        } catch (const std::bad_alloc &) {
            throw coded_error(env, "INTERNAL", "out of memory while loading the shard");
        }
    }

private:
    std::shared_ptr<Holder> live(Napi::Env env) {
        if (!holder_) throw coded_error(env, "ENGINE_INPUT_INVALID", "NativeShard is closed");
        return holder_;
    }

    Napi::Value Forward(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        std::shared_ptr<Holder> h = live(env);
        ForwardResult r;
        try {
            const ForwardArgs a = read_forward_args(info, h->runner->info());
            run_forward(*h, a, r);
        } catch (const ArgError & e) {
            throw coded_error(env, e.code, e.message);
        } catch (const EngineError & e) {
            throw coded_error(env, "ENGINE_INPUT_INVALID", e.what());
        } catch (const std::bad_alloc &) {
            throw coded_error(env, "INTERNAL", "out of memory in NativeShard.forward");
        }
        return to_js(env, r);
    }

    // Never throws: argument errors reject the promise like engine errors do.
    Napi::Value ForwardAsync(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        try {
            std::shared_ptr<Holder> h = live(env);
            ForwardArgs a;
            try {
                a = read_forward_args(info, h->runner->info());
            } catch (const ArgError & e) {
                throw coded_error(env, e.code, e.message);
            }
            ForwardWorker * w = new ForwardWorker(env, h, std::move(a));
            Napi::Promise p = w->promise();
            h->submit(w);
            return p;
        } catch (const Napi::Error & e) {
            Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
            d.Reject(e.Value());
            return d.Promise();
        }
    }

    Napi::Value EndSession(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsString()) throw coded_error(env, "ENGINE_INPUT_INVALID", "endSession(session): session must be a string");
        if (holder_) holder_->runner->end_session(info[0].As<Napi::String>().Utf8Value());
        return env.Undefined();
    }

    Napi::Value SessionLength(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsString()) throw coded_error(env, "ENGINE_INPUT_INVALID", "sessionLength(session): session must be a string");
        std::shared_ptr<Holder> h = live(env);
        return Napi::Number::New(env, h->runner->session_length(info[0].As<Napi::String>().Utf8Value()));
    }

    // Drops this object's reference; an in-flight forwardAsync keeps the runner
    // alive until it settles. Idempotent.
    Napi::Value Close(const Napi::CallbackInfo & info) {
        holder_.reset();
        return info.Env().Undefined();
    }

    Napi::Value Kernel(const Napi::CallbackInfo & info) { return Napi::String::New(info.Env(), kernel_); }
    Napi::Value Threads(const Napi::CallbackInfo & info) { return Napi::Number::New(info.Env(), threads_); }
    Napi::Value Closed(const Napi::CallbackInfo & info) { return Napi::Boolean::New(info.Env(), !holder_); }

    std::shared_ptr<Holder> holder_;
    std::string kernel_;
    int threads_ = 1;
};

// ---------------------------------------------------------------------------

int read_threads(const Napi::Value & v, const std::string & what) {
    if (v.IsUndefined()) return vm_engine::default_threads();
    const int t = (int) get_int(v, what, "CONFIG_INVALID", 0, 256);
    return t == 0 ? vm_engine::default_threads() : t;
}

// gemmS8(a: Int8Array, w: Int8Array, m, n, k, kernel = 'auto', threads = hw) -> Int32Array
Napi::Value GemmS8(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const std::string C = "ENGINE_INPUT_INVALID";
    try {
        if (info.Length() < 5) fail(C, "gemmS8(a, w, m, n, k, kernel?, threads?) needs at least 5 arguments");
        const auto a = get_array<int8_t>(info[0], "a", C);
        const auto w = get_array<int8_t>(info[1], "w", C);
        const int m = (int) get_int(info[2], "m", C, 1, 1 << 24);
        const int n = (int) get_int(info[3], "n", C, 1, 1 << 24);
        const int k = (int) get_int(info[4], "k", C, 1, 131072);
        if (a.length != (size_t) m * k) fail(C, "a has " + std::to_string(a.length) + " values, expected m*k = " + std::to_string((int64_t) m * k));
        if (w.length != (size_t) n * k) fail(C, "w has " + std::to_string(w.length) + " values, expected n*k = " + std::to_string((int64_t) n * k));
        const std::string kname = read_kernel(info.Length() > 5 ? info[5] : env.Undefined(), "kernel");
        const int threads = read_threads(info.Length() > 6 ? info[6] : env.Undefined(), "threads");
        vm_engine::Kernel kern;
        bool is_auto = false;
        try {
            kern = vm_engine::resolve_kernel(kname, &is_auto);
        } catch (const EngineError & e) {
            fail("CONFIG_INVALID", e.what());
        }
        const bool mixed = is_auto && kern == vm_engine::Kernel::Amx && vm_engine::kernel_supported(vm_engine::Kernel::Avx512Vnni, nullptr);
        vm_engine::PackedWeights pw;
        vm_engine::pack_weights(kern, w.data, n, k, pw, mixed);
        Napi::Int32Array c = Napi::Int32Array::New(env, (size_t) m * n);
        vm_engine::AlignedBytes abuf;
        vm_engine::gemm_s8(pw, a.data, m, c.Data(), threads, abuf);
        return c;
    } catch (const ArgError & e) {
        throw coded_error(env, e.code, e.message);
    } catch (const std::bad_alloc &) {
        throw coded_error(env, "INTERNAL", "out of memory in gemmS8");
    }
}

// gemmS8Bench(m, n, k, kernel, threads, iters) -> seconds for `iters` GEMMs on
// seeded random operands (packing excluded, one untimed warm-up run).
Napi::Value GemmS8Bench(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const std::string C = "ENGINE_INPUT_INVALID";
    try {
        if (info.Length() < 6) fail(C, "gemmS8Bench(m, n, k, kernel, threads, iters) needs 6 arguments");
        const int m = (int) get_int(info[0], "m", C, 1, 1 << 16);
        const int n = (int) get_int(info[1], "n", C, 1, 1 << 16);
        const int k = (int) get_int(info[2], "k", C, 1, 131072);
        const std::string kname = read_kernel(info[3], "kernel");
        const int threads = read_threads(info[4], "threads");
        const int iters = (int) get_int(info[5], "iters", C, 1, 1 << 20);
        vm_engine::Kernel kern;
        bool is_auto = false;
        try {
            kern = vm_engine::resolve_kernel(kname, &is_auto);
        } catch (const EngineError & e) {
            fail("CONFIG_INVALID", e.what());
        }
        const bool mixed = is_auto && kern == vm_engine::Kernel::Amx && vm_engine::kernel_supported(vm_engine::Kernel::Avx512Vnni, nullptr);
        std::vector<int8_t> a((size_t) m * k), w((size_t) n * k);
        uint32_t x = 12345;
        for (auto & v : a) { x = x * 1664525u + 1013904223u; v = (int8_t) (x >> 24); }
        for (auto & v : w) { x = x * 1664525u + 1013904223u; v = (int8_t) (x >> 24); }
        vm_engine::PackedWeights pw;
        vm_engine::pack_weights(kern, w.data(), n, k, pw, mixed);
        std::vector<int32_t> c((size_t) m * n);
        vm_engine::AlignedBytes abuf;
        vm_engine::gemm_s8(pw, a.data(), m, c.data(), threads, abuf);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) vm_engine::gemm_s8(pw, a.data(), m, c.data(), threads, abuf);
        const auto t1 = std::chrono::steady_clock::now();
        // Touch the result so the work cannot be considered dead.
        volatile int32_t sink = c[(size_t) (x % (uint32_t) c.size())];
        (void) sink;
        return Napi::Number::New(env, std::chrono::duration<double>(t1 - t0).count());
    } catch (const ArgError & e) {
        throw coded_error(env, e.code, e.message);
    } catch (const std::bad_alloc &) {
        throw coded_error(env, "INTERNAL", "out of memory in gemmS8Bench");
    }
}

Napi::Value Kernels(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const auto ks = vm_engine::available_kernels();
    Napi::Array out = Napi::Array::New(env, ks.size());
    for (size_t i = 0; i < ks.size(); ++i) out.Set((uint32_t) i, vm_engine::kernel_name(ks[i]));
    return out;
}

} // namespace

void vm_engine_register(Napi::Env env, Napi::Object exports) {
    exports.Set("NativeShard", NativeShard::Define(env));
    exports.Set("gemmS8", Napi::Function::New(env, GemmS8, "gemmS8"));
    exports.Set("gemmS8Bench", Napi::Function::New(env, GemmS8Bench, "gemmS8Bench"));
    exports.Set("kernels", Napi::Function::New(env, Kernels, "kernels"));
}
