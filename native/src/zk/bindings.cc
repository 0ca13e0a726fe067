// Converts between JS values and the prover. Heavy work (loading a zkey,
// proving, benchmarks) runs in Napi::AsyncWorkers; the zkTest hooks are
// synchronous and meant for unit tests on small inputs only.

#include "bindings.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../engine/thread_pool.h"
#include "binfile.h"
#include "curve.h"
#include "groth16_prove.h"
#include "glv.h"
#include "msm.h"
#include "napi_errors.h"
#include "ntt.h"
#include "wtns.h"
#include "zkey.h"
#include "../../cuda/zk/zk_backend.h"   // prove()'s backend option (GPU dispatch hook)

namespace vm_zk {

namespace {

Napi::Value rejected(Napi::Env env, const Napi::Error & e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
}

[[noreturn]] void bad(const std::string & msg) { throw ZkError("ZK_BAD_INPUT", msg); }

int get_threads(const Napi::Value & opts) {
    if (opts.IsUndefined() || opts.IsNull()) return vm_engine::default_threads();
    if (!opts.IsObject()) bad("options must be an object");
    Napi::Value t = opts.As<Napi::Object>().Get("threads");
    if (t.IsUndefined() || t.IsNull()) return vm_engine::default_threads();
    if (!t.IsNumber()) bad("threads must be a number");
    const double d = t.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 256) || d != (double) (int) d) bad("threads must be an integer in [0, 256]");
    return d == 0 ? vm_engine::default_threads() : (int) d;
}

std::vector<uint8_t> get_bytes(const Napi::Value & v, const std::string & what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) bad(what + " must be a Uint8Array");
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
}

std::string get_string(const Napi::Value & v, const std::string & what) {
    if (!v.IsString()) bad(what + " must be a string");
    return v.As<Napi::String>().Utf8Value();
}

template <class F>
F get_fp(const Napi::Value & v, const std::string & what) {
    F f;
    if (!F::from_dec(get_string(v, what), f)) bad(what + " must be a decimal string below the field prime");
    return f;
}

U256 get_u256(const Napi::Value & v, const std::string & what) {
    U256 x;
    if (!Fr::dec_to_u256(get_string(v, what), x)) bad(what + " must be a decimal string below 2^256");
    return x;
}

Napi::Array arr(Napi::Env env, std::initializer_list<Napi::Value> xs) {
    Napi::Array a = Napi::Array::New(env, xs.size());
    uint32_t i = 0;
    for (const Napi::Value & x : xs) a.Set(i++, x);
    return a;
}

Napi::Value str(Napi::Env env, const std::string & s) { return Napi::String::New(env, s); }

Napi::Array get_array(const Napi::Value & v, const std::string & what, uint32_t len) {
    if (!v.IsArray()) bad(what + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    if (len && a.Length() != len) bad(what + " must have " + std::to_string(len) + " entries");
    return a;
}

Fq2 get_fq2(const Napi::Value & v, const std::string & what) {
    Napi::Array a = get_array(v, what, 2);
    return { get_fp<Fq>(a.Get(0u), what + "[0]"), get_fp<Fq>(a.Get(1u), what + "[1]") };
}
Napi::Value put_fq2(Napi::Env env, const Fq2 & f) { return arr(env, { str(env, f.c0.to_dec()), str(env, f.c1.to_dec()) }); }

// Point codecs: G1 [x, y], G2 [[x0, x1], [y0, y1]], decimal, infinity = zeros.
struct G1Codec {
    using F = Fq;
    static F get(const Napi::Value & v, const std::string & w) { return get_fp<Fq>(v, w); }
    static Napi::Value put(Napi::Env env, const F & f) { return str(env, f.to_dec()); }
};
struct G2Codec {
    using F = Fq2;
    static F get(const Napi::Value & v, const std::string & w) { return get_fq2(v, w); }
    static Napi::Value put(Napi::Env env, const F & f) { return put_fq2(env, f); }
};

template <class C>
Affine<typename C::F> get_point(const Napi::Value & v, const std::string & what) {
    Napi::Array a = get_array(v, what, 2);
    Affine<typename C::F> p = { C::get(a.Get(0u), what + ".x"), C::get(a.Get(1u), what + ".y") };
    if (!p.on_curve()) throw ZkError("ZK_BAD_INPUT", what + " is not on the curve");
    return p;
}
template <class C>
Napi::Value put_point(Napi::Env env, const Affine<typename C::F> & p) {
    return arr(env, { C::put(env, p.x), C::put(env, p.y) });
}

// A Jacobian representative with Z != 1, so tests exercise the general formulas.
template <class F>
Jacobian<F> scaled(const Affine<F> & a, const F & z) {
    if (a.is_inf()) return Jacobian<F>::infinity();
    F z2 = z.sqr();
    return { a.x * z2, a.y * z2 * z, z };
}

// ---- zkTest: synchronous, test-only ----

template <class F>
Napi::Value field_op(Napi::Env env, const std::string & op, const Napi::CallbackInfo & info) {
    F a = get_fp<F>(info[2], "a");
    if (op == "neg") return str(env, (-a).to_dec());
    if (op == "sqr") return str(env, a.sqr().to_dec());
    if (op == "inv") return str(env, a.inv().to_dec());
    if (op == "bytes") {   // to 32 bytes LE and back
        uint8_t b[32];
        a.to_bytes_le(b);
        F r;
        if (!F::from_bytes_le(b, r)) bad("bytes round trip failed");
        return str(env, r.to_dec());
    }
    if (op == "mont") {    // Montgomery limbs as a decimal integer (a·R mod p)
        U256 u; std::memcpy(u.v, a.v, 32);
        return str(env, F::u256_to_dec(u));
    }
    if (op == "pow") return str(env, a.pow(get_u256(info[3], "e")).to_dec());
    F b = get_fp<F>(info[3], "b");
    if (op == "add") return str(env, (a + b).to_dec());
    if (op == "sub") return str(env, (a - b).to_dec());
    if (op == "mul") return str(env, (a * b).to_dec());
    if (op == "eq") return Napi::Boolean::New(env, a == b);
    bad("unknown field op " + op);
}

Napi::Value TestField(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        const std::string field = get_string(info[0], "field"), op = get_string(info[1], "op");
        if (field == "fq") return field_op<Fq>(env, op, info);
        if (field == "fr") return field_op<Fr>(env, op, info);
        bad("field must be 'fq' or 'fr'");
    });
}

Napi::Value TestFq2(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        const std::string op = get_string(info[0], "op");
        Fq2 a = get_fq2(info[1], "a");
        if (op == "neg") return put_fq2(env, -a);
        if (op == "sqr") return put_fq2(env, a.sqr());
        if (op == "inv") return put_fq2(env, a.inv());
        if (op == "conj") return put_fq2(env, a.conj());
        if (op == "mulByXi") return put_fq2(env, a.mul_by_xi());
        Fq2 b = get_fq2(info[2], "b");
        if (op == "add") return put_fq2(env, a + b);
        if (op == "sub") return put_fq2(env, a - b);
        if (op == "mul") return put_fq2(env, a * b);
        bad("unknown fq2 op " + op);
    });
}

template <class C>
Napi::Value group_op(Napi::Env env, const Napi::CallbackInfo & info) {
    using F = typename C::F;
    using A = Affine<F>;
    using J = Jacobian<F>;
    const std::string op = get_string(info[0], "op");
    if (op == "generator") {
        if constexpr (std::is_same<F, Fq>::value) return put_point<C>(env, g1_generator());
        else return put_point<C>(env, g2_generator());
    }
    if (op == "batchAffine") {
        Napi::Array in = get_array(info[1], "points", 0);
        std::vector<J> jac(in.Length());
        for (uint32_t i = 0; i < in.Length(); ++i) {
            jac[i] = scaled(get_point<C>(in.Get(i), "points[" + std::to_string(i) + "]"), F::from_u64(3 + i));
        }
        std::vector<A> out(jac.size());
        batch_to_affine(jac.data(), jac.size(), out.data());
        Napi::Array res = Napi::Array::New(env, out.size());
        for (uint32_t i = 0; i < out.size(); ++i) res.Set(i, put_point<C>(env, out[i]));
        return res;
    }
    if (op == "msm") {
        Napi::Array pts = get_array(info[1], "points", 0);
        Napi::Array sc = get_array(info[2], "scalars", pts.Length());
        std::vector<A> bases(pts.Length());
        std::vector<U256> scalars(pts.Length());
        for (uint32_t i = 0; i < pts.Length(); ++i) {
            bases[i] = get_point<C>(pts.Get(i), "points[" + std::to_string(i) + "]");
            Fr f = get_fp<Fr>(sc.Get(i), "scalars[" + std::to_string(i) + "]");
            scalars[i] = f.from_mont();
        }
        const int threads = get_threads(info[3]);
        unsigned window = 0;
        if (info[3].IsObject()) {
            Napi::Value wv = info[3].As<Napi::Object>().Get("window");
            if (!wv.IsUndefined()) {
                if (!wv.IsNumber()) bad("window must be a number");
                const int wi = wv.As<Napi::Number>().Int32Value();
                if (wi < 2 || wi > 15) bad("window must be in [2, 15]");
                window = (unsigned) wi;
            }
        }
        int glv_mode = -1;   // -1 default (msm_g1 / msm_g2), 0 plain, 1 GLV
        if (info[3].IsObject()) {
            Napi::Value gv = info[3].As<Napi::Object>().Get("glv");
            if (!gv.IsUndefined()) {
                if (!gv.IsBoolean()) bad("glv must be a boolean");
                glv_mode = gv.As<Napi::Boolean>().Value() ? 1 : 0;
            }
        }
        J r;
        if constexpr (std::is_same<F, Fq>::value) {
            if (glv_mode == 0) r = msm_g1_plain(bases.data(), scalars.data(), bases.size(), threads, window);
            else if (glv_mode == 1) r = msm_g1_glv(bases.data(), scalars.data(), bases.size(), threads, window);
            else r = msm_g1(bases.data(), scalars.data(), bases.size(), threads, window);
        } else {
            if (glv_mode == 0) r = msm_g2_plain(bases.data(), scalars.data(), bases.size(), threads, window);
            else if (glv_mode == 1) r = msm_g2_glv(bases.data(), scalars.data(), bases.size(), threads, window);
            else r = msm_g2(bases.data(), scalars.data(), bases.size(), threads, window);
        }
        return put_point<C>(env, r.to_affine());
    }
    A p = get_point<C>(info[1], "p");
    if (op == "onCurve") return Napi::Boolean::New(env, p.on_curve());
    if (op == "neg") return put_point<C>(env, p.neg());
    if (op == "dbl") return put_point<C>(env, scaled(p, F::from_u64(5)).dbl().to_affine());
    if (op == "mul") return put_point<C>(env, scaled(p, F::from_u64(7)).mul(get_u256(info[2], "k")).to_affine());
    A q = get_point<C>(info[2], "q");
    if (op == "add") return put_point<C>(env, scaled(p, F::from_u64(5)).add(scaled(q, F::from_u64(11))).to_affine());
    if (op == "addMixed") return put_point<C>(env, scaled(p, F::from_u64(5)).add_mixed(q).to_affine());
    if (op == "eq") return Napi::Boolean::New(env, scaled(p, F::from_u64(5)) == scaled(q, F::from_u64(13)));
    bad("unknown group op " + op);
}

Napi::Value TestG1(const Napi::CallbackInfo & info) {
    return guarded(info.Env(), [&]() { return group_op<G1Codec>(info.Env(), info); });
}
Napi::Value TestG2(const Napi::CallbackInfo & info) {
    return guarded(info.Env(), [&]() { return group_op<G2Codec>(info.Env(), info); });
}

// glvDecompose(k) -> [k1, k2] as signed decimal strings, k ≡ k1 + λ·k2 (mod r).
Napi::Value TestGlvDecompose(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        const U256 k = get_fp<Fr>(info[0], "k").from_mont();
        U256 k1, k2; bool n1, n2;
        glv::decompose(k, k1, n1, k2, n2);
        Napi::Array a = Napi::Array::New(env, 3);
        a.Set((uint32_t) 0, (n1 ? "-" : "") + Fr::u256_to_dec(k1));
        a.Set((uint32_t) 1, (n2 ? "-" : "") + Fr::u256_to_dec(k2));
        a.Set((uint32_t) 2, Fr::u256_to_dec(U256{ { glv::LAMBDA[0], glv::LAMBDA[1], glv::LAMBDA[2], glv::LAMBDA[3] } }));
        return a;
    });
}

// ntt(values, inverse, threads) with n = values.length (a power of two).
Napi::Value TestNtt(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        Napi::Array in = get_array(info[0], "values", 0);
        const uint32_t n = in.Length();
        if (n == 0 || (n & (n - 1)) != 0) bad("values.length must be a power of two");
        std::vector<Fr> v(n);
        for (uint32_t i = 0; i < n; ++i) v[i] = get_fp<Fr>(in.Get(i), "values[" + std::to_string(i) + "]");
        const bool inverse = info[1].ToBoolean().Value();
        ntt(v.data(), (unsigned) __builtin_ctz(n), inverse, get_threads(info[2]));
        Napi::Array out = Napi::Array::New(env, n);
        for (uint32_t i = 0; i < n; ++i) out.Set(i, v[i].to_dec());
        return out;
    });
}

// setMulKernel('adx' | 'int128') -> false when this CPU cannot run it; mulKernel() -> name.
Napi::Value TestSetMulKernel(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        return Napi::Boolean::New(env, set_mul_kernel(get_string(info[0], "kernel")));
    });
}
Napi::Value TestMulKernel(const Napi::CallbackInfo & info) { return Napi::String::New(info.Env(), mul_kernel()); }

Napi::Value TestRootOfUnity(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        if (!info[0].IsNumber()) bad("k must be a number");
        const int k = info[0].As<Napi::Number>().Int32Value();
        if (k < 0 || k > 28) bad("k must be in [0, 28]");
        return str(env, fr_root_of_unity((unsigned) k).to_dec());
    });
}

// ---- ZkProver ----

Napi::Object proof_object(Napi::Env env, const Groth16Proof & p) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("pi_a", arr(env, { str(env, p.pi_a.x.to_dec()), str(env, p.pi_a.y.to_dec()), str(env, "1") }));
    o.Set("pi_b", arr(env, { put_fq2(env, p.pi_b.x), put_fq2(env, p.pi_b.y), arr(env, { str(env, "1"), str(env, "0") }) }));
    o.Set("pi_c", arr(env, { str(env, p.pi_c.x.to_dec()), str(env, p.pi_c.y.to_dec()), str(env, "1") }));
    o.Set("protocol", "groth16");
    o.Set("curve", "bn128");
    return o;
}

// A zkey with its fixed-base MSM tables, shared by the prover object and its
// in-flight workers (close() drops only the object's reference).
struct ProverKey {
    Groth16Zkey zkey;
    ProverTables tables;
    double load_ms = 0, tables_ms = 0;
};
using ZkeyPtr = std::shared_ptr<const ProverKey>;

// Tables pay for themselves after a few proofs (a node loads a prover once per
// circuit and keeps it); capped so a large circuit's prover does not hold
// gigabytes (above the cap that MSM runs without one). 80 MiB takes in the four
// G1 tables of a 2^16 circuit (about 71 MB each) but not its G2 table.
constexpr size_t TABLE_BYTES_MAX = (size_t) 80 << 20;

// max_table_bytes 0: no tables.
ZkeyPtr load_key(const std::string & path, size_t max_table_bytes) {
    using Clock = std::chrono::steady_clock;
    auto k = std::make_shared<ProverKey>();
    const auto t0 = Clock::now();
    k->zkey = read_zkey(path);
    const auto t1 = Clock::now();
    if (max_table_bytes) build_prover_tables(k->zkey, k->tables, vm_engine::default_threads(), max_table_bytes);
    k->load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    k->tables_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
    return k;
}

// { tables?: boolean, tableMaxMB?: number } -> byte cap per table (0: none).
size_t get_tables_option(const Napi::Value & opts) {
    if (opts.IsUndefined() || opts.IsNull()) return TABLE_BYTES_MAX;
    if (!opts.IsObject()) bad("options must be an object");
    Napi::Value v = opts.As<Napi::Object>().Get("tables");
    if (!v.IsUndefined() && !v.IsBoolean()) bad("tables must be a boolean");
    if (!v.IsUndefined() && !v.As<Napi::Boolean>().Value()) return 0;
    Napi::Value mb = opts.As<Napi::Object>().Get("tableMaxMB");
    if (mb.IsUndefined()) return TABLE_BYTES_MAX;
    if (!mb.IsNumber()) bad("tableMaxMB must be a number");
    const double d = mb.As<Napi::Number>().DoubleValue();
    if (!(d >= 1 && d <= 65536)) bad("tableMaxMB must be in [1, 65536]");
    return (size_t) (d * 1048576.0);
}

struct CtorHolder { Napi::FunctionReference ctor; };

class ZkProver;

class LoadWorker : public Napi::AsyncWorker {
public:
    LoadWorker(Napi::Env env, std::string path, size_t tables, CtorHolder * holder)
        : Napi::AsyncWorker(env, "verimesh:ZkProver.load"), path_(std::move(path)), tables_(tables), holder_(holder), deferred_(env) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            zkey_ = load_key(path_, tables_);
        } catch (const ZkError & e) {
            code_ = e.code; SetError(e.what());
        } catch (const std::bad_alloc &) {
            code_ = "INTERNAL"; SetError("out of memory while loading " + path_);
        } catch (const std::exception & e) {
            code_ = "INTERNAL"; SetError(e.what());
        }
    }
    void OnOK() override;
    void OnError(const Napi::Error & e) override { deferred_.Reject(coded_error(Env(), code_, e.Message()).Value()); }
private:
    std::string path_;
    size_t tables_;
    CtorHolder * holder_;
    Napi::Promise::Deferred deferred_;
    ZkeyPtr zkey_;
    std::string code_ = "INTERNAL";
};

// prove()'s backend option: 'cpu' (default), 'cuda' or 'auto' (native/cuda/zk/zk_backend.h).
std::string get_backend(const Napi::Value & opts) {
    if (opts.IsUndefined() || opts.IsNull() || !opts.IsObject()) return "cpu";
    Napi::Value b = opts.As<Napi::Object>().Get("backend");
    if (b.IsUndefined() || b.IsNull()) return "cpu";
    if (!b.IsString() || !prove_backend_valid(b.As<Napi::String>().Utf8Value())) bad("backend must be 'cpu', 'cuda' or 'auto'");
    return b.As<Napi::String>().Utf8Value();
}

class ProveWorker : public Napi::AsyncWorker {
public:
    ProveWorker(Napi::Env env, ZkeyPtr z, std::vector<uint8_t> wtns, int threads, std::string backend = "cpu")
        : Napi::AsyncWorker(env, "verimesh:ZkProver.prove"), zkey_(std::move(z)), wtns_(std::move(wtns)),
          threads_(threads), backend_(std::move(backend)), deferred_(env) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            const auto t0 = std::chrono::steady_clock::now();
            Witness w = parse_wtns(std::move(wtns_), "witness");
            parse_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            const ProveBackendChoice be = pick_prove_backend(backend_);
            ran_ = be.ran;
            fallback_ = be.fallback;
            try {
                proof_ = groth16_prove(zkey_->zkey, w, threads_, &timings_, &zkey_->tables, be.accel);
            } catch (const ZkError &) {
                throw;
            } catch (const std::exception & e) {
                if (!be.accel) throw;
                // The GPU failed (device memory, a lost device): the same proof on the CPU.
                ran_ = "cpu";
                fallback_ = std::string("GPU failed: ") + e.what();
                proof_ = groth16_prove(zkey_->zkey, w, threads_, &timings_, &zkey_->tables);
            }
        } catch (const ZkError & e) {
            code_ = e.code; SetError(e.what());
        } catch (const std::bad_alloc &) {
            code_ = "INTERNAL"; SetError("out of memory while proving");
        } catch (const std::exception & e) {
            code_ = "INTERNAL"; SetError(e.what());
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        Napi::Object out = Napi::Object::New(env);
        out.Set("proof", proof_object(env, proof_));
        Napi::Array pub = Napi::Array::New(env, proof_.public_signals.size());
        for (uint32_t i = 0; i < proof_.public_signals.size(); ++i) pub.Set(i, Fr::u256_to_dec(proof_.public_signals[i]));
        out.Set("publicSignals", pub);
        Napi::Object t = Napi::Object::New(env);
        t.Set("witnessMs", parse_ms_);
        t.Set("abcMs", timings_.abc_ms);
        t.Set("nttMs", timings_.ntt_ms);
        t.Set("msmMs", timings_.msm_ms);
        t.Set("totalMs", timings_.total_ms + parse_ms_);
        out.Set("timings", t);
        out.Set("threads", threads_);
        out.Set("kernel", mul_kernel());
        out.Set("backend", ran_);
        out.Set("backendFallback", fallback_);
        deferred_.Resolve(out);
    }
    void OnError(const Napi::Error & e) override { deferred_.Reject(coded_error(Env(), code_, e.Message()).Value()); }
private:
    ZkeyPtr zkey_;
    std::vector<uint8_t> wtns_;
    int threads_;
    std::string backend_, ran_ = "cpu", fallback_;
    Napi::Promise::Deferred deferred_;
    Groth16Proof proof_;
    ProveTimings timings_;
    double parse_ms_ = 0;
    std::string code_ = "INTERNAL";
};

class ZkProver : public Napi::ObjectWrap<ZkProver> {
public:
    static Napi::Function define(Napi::Env env) {
        CtorHolder * holder = new CtorHolder();
        Napi::Function f = DefineClass(env, "ZkProver", {
            InstanceMethod<&ZkProver::Prove>("prove"),
            InstanceMethod<&ZkProver::Info>("info"),
            InstanceMethod<&ZkProver::Close>("close"),
            InstanceAccessor<&ZkProver::Closed>("closed"),
            StaticMethod("load", &ZkProver::Load, napi_default, holder),
        });
        holder->ctor = Napi::Persistent(f);
        env.AddCleanupHook([holder]() { delete holder; });
        return f;
    }

    // new ZkProver(path) loads synchronously; ZkProver.load(path) on a worker thread.
    explicit ZkProver(const Napi::CallbackInfo & info) : Napi::ObjectWrap<ZkProver>(info) {
        Napi::Env env = info.Env();
        if (info.Length() >= 1 && info[0].IsExternal()) {
            zkey_ = *info[0].As<Napi::External<ZkeyPtr>>().Data();
            return;
        }
        guarded(env, [&]() -> Napi::Value {
            const size_t tables = get_tables_option(info.Length() > 1 ? info[1] : env.Undefined());
            zkey_ = load_key(get_string(info[0], "zkeyPath"), tables);
            return env.Undefined();
        });
    }

    static Napi::Value create(Napi::Env env, CtorHolder * holder, ZkeyPtr z) {
        // The External only lives for the constructor call; the instance copies the pointer.
        Napi::External<ZkeyPtr> ext = Napi::External<ZkeyPtr>::New(env, &z);
        return holder->ctor.New({ ext });
    }

private:
    static Napi::Value Load(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        CtorHolder * holder = static_cast<CtorHolder *>(info.Data());
        if (!info[0].IsString()) return rejected(env, coded_error(env, "ZK_BAD_INPUT", "zkeyPath must be a string"));
        size_t tables = 0;
        try {
            tables = get_tables_option(info.Length() > 1 ? info[1] : env.Undefined());
        } catch (const ZkError & e) {
            return rejected(env, coded_error(env, e.code, e.what()));
        }
        LoadWorker * w = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), tables, holder);
        Napi::Promise p = w->promise();
        w->Queue();
        return p;
    }

    // Never throws: bad arguments reject the promise like any other failure.
    Napi::Value Prove(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        try {
            if (!zkey_) throw ZkError("ZK_CLOSED", "ZkProver is closed");
            std::vector<uint8_t> wtns = get_bytes(info[0], "wtns");
            const int threads = get_threads(info.Length() > 1 ? info[1] : env.Undefined());
            const std::string backend = get_backend(info.Length() > 1 ? info[1] : env.Undefined());
            ProveWorker * w = new ProveWorker(env, zkey_, std::move(wtns), threads, backend);
            Napi::Promise p = w->promise();
            w->Queue();
            return p;
        } catch (const ZkError & e) {
            return rejected(env, coded_error(env, e.code, e.what()));
        } catch (const std::bad_alloc &) {
            return rejected(env, coded_error(env, "INTERNAL", "out of memory"));
        }
    }

    Napi::Value Info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        if (!zkey_) throw coded_error(env, "ZK_CLOSED", "ZkProver is closed");
        Napi::Object o = Napi::Object::New(env);
        const Groth16Zkey & z = zkey_->zkey;
        o.Set("nVars", z.nVars);
        o.Set("nPublic", z.nPublic);
        o.Set("domainSize", z.domainSize);
        o.Set("nCoefficients", (double) z.coefs.size());
        o.Set("tableBytes", (double) zkey_->tables.bytes());
        o.Set("loadMs", zkey_->load_ms);
        o.Set("tablesMs", zkey_->tables_ms);
        return o;
    }

    Napi::Value Close(const Napi::CallbackInfo & info) {
        zkey_.reset();
        return info.Env().Undefined();
    }

    Napi::Value Closed(const Napi::CallbackInfo & info) { return Napi::Boolean::New(info.Env(), !zkey_); }

    ZkeyPtr zkey_;
};

void LoadWorker::OnOK() {
    deferred_.Resolve(ZkProver::create(Env(), holder_, std::move(zkey_)));
}

// ---- benchmarks ----

// n distinct points i·G (i = 1..n) and pseudo-random scalars below r.
template <class F>
void bench_inputs(size_t n, const Affine<F> & g, std::vector<Affine<F>> & bases, std::vector<U256> & scalars) {
    std::vector<Jacobian<F>> jac(n);
    Jacobian<F> acc = Jacobian<F>::from_affine(g);
    for (size_t i = 0; i < n; ++i) { jac[i] = acc; acc = acc.add_mixed(g); }
    bases.resize(n);
    batch_to_affine(jac.data(), n, bases.data());
    scalars.resize(n);
    u64 x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < n; ++i) {
        for (int k = 0; k < 4; ++k) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; scalars[i].v[k] = x; }
        scalars[i].v[3] &= (1ULL << 61) - 1;   // < 2^253 < r
    }
}

class BenchWorker : public Napi::AsyncWorker {
public:
    enum Kind { MSM_G1, MSM_G2, NTT };
    BenchWorker(Napi::Env env, Kind kind, size_t n, int threads, bool glv = true)
        : Napi::AsyncWorker(env, "verimesh:zkBench"), kind_(kind), n_(n), threads_(threads), glv_(glv), deferred_(env) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            using Clock = std::chrono::steady_clock;
            if (kind_ == NTT) {
                std::vector<Fr> v(n_);
                for (size_t i = 0; i < n_; ++i) v[i] = Fr::from_u64(i * 2654435761ULL + 1);
                const auto t0 = Clock::now();
                ntt(v.data(), (unsigned) __builtin_ctzll(n_), false, threads_);
                ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
            } else if (kind_ == MSM_G1) {
                std::vector<G1Affine> b; std::vector<U256> s;
                bench_inputs(n_, g1_generator(), b, s);
                const auto t0 = Clock::now();
                G1Jac r = glv_ ? msm_g1(b.data(), s.data(), n_, threads_) : msm_g1_plain(b.data(), s.data(), n_, threads_);
                ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                (void) r;
            } else {
                std::vector<G2Affine> b; std::vector<U256> s;
                bench_inputs(n_, g2_generator(), b, s);
                const auto t0 = Clock::now();
                G2Jac r = glv_ ? msm_g2(b.data(), s.data(), n_, threads_) : msm_g2_plain(b.data(), s.data(), n_, threads_);
                ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                (void) r;
            }
        } catch (const std::bad_alloc &) {
            SetError("out of memory in the benchmark");
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("ms", ms_);
        o.Set("n", (double) n_);
        o.Set("threads", threads_);
        o.Set("kernel", mul_kernel());
        if (kind_ != NTT) {
            o.Set("group", kind_ == MSM_G1 ? "g1" : "g2");
            o.Set("pointsPerSec", (double) n_ / (ms_ / 1000.0));
            o.Set("glv", glv_);
        }
        deferred_.Resolve(o);
    }
    void OnError(const Napi::Error & e) override { deferred_.Reject(coded_error(Env(), "INTERNAL", e.Message()).Value()); }
private:
    Kind kind_;
    size_t n_;
    int threads_;
    bool glv_;
    Napi::Promise::Deferred deferred_;
    double ms_ = 0;
};

Napi::Value MsmBench(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        if (!info[0].IsNumber()) bad("zkMsmBench(n): n must be a number");
        const double n = info[0].As<Napi::Number>().DoubleValue();
        if (!(n >= 1 && n <= (1 << 24)) || n != (double) (int64_t) n) bad("zkMsmBench(n): n must be an integer in [1, 2^24]");
        const int threads = get_threads(info[1]);
        BenchWorker::Kind kind = BenchWorker::MSM_G1;
        if (info[1].IsObject()) {
            Napi::Value g = info[1].As<Napi::Object>().Get("group");
            if (!g.IsUndefined()) {
                const std::string gs = get_string(g, "group");
                if (gs == "g2") kind = BenchWorker::MSM_G2;
                else if (gs != "g1") bad("group must be 'g1' or 'g2'");
            }
        }
        bool glv = true;   // { glv: false }: without the endomorphism (comparison)
        if (info[1].IsObject()) {
            Napi::Value gv = info[1].As<Napi::Object>().Get("glv");
            if (!gv.IsUndefined()) {
                if (!gv.IsBoolean()) bad("glv must be a boolean");
                glv = gv.As<Napi::Boolean>().Value();
            }
        }
        BenchWorker * w = new BenchWorker(env, kind, (size_t) n, threads, glv);
        Napi::Promise p = w->promise();
        w->Queue();
        return p;
    });
}

Napi::Value NttBench(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        if (!info[0].IsNumber()) bad("zkNttBench(log2n): log2n must be a number");
        const int k = info[0].As<Napi::Number>().Int32Value();
        if (k < 1 || k > 26) bad("zkNttBench(log2n): log2n must be in [1, 26]");
        BenchWorker * w = new BenchWorker(env, BenchWorker::NTT, (size_t) 1 << k, get_threads(info[1]));
        Napi::Promise p = w->promise();
        w->Queue();
        return p;
    });
}

} // namespace

void init(Napi::Env env, Napi::Object exports) {
    exports.Set("ZkProver", ZkProver::define(env));
    exports.Set("zkMsmBench", Napi::Function::New(env, MsmBench, "zkMsmBench"));
    exports.Set("zkNttBench", Napi::Function::New(env, NttBench, "zkNttBench"));
    Napi::Object t = Napi::Object::New(env);
    t.Set("field", Napi::Function::New(env, TestField, "field"));
    t.Set("fq2", Napi::Function::New(env, TestFq2, "fq2"));
    t.Set("g1", Napi::Function::New(env, TestG1, "g1"));
    t.Set("g2", Napi::Function::New(env, TestG2, "g2"));
    t.Set("ntt", Napi::Function::New(env, TestNtt, "ntt"));
    t.Set("glvDecompose", Napi::Function::New(env, TestGlvDecompose, "glvDecompose"));
    t.Set("rootOfUnity", Napi::Function::New(env, TestRootOfUnity, "rootOfUnity"));
    t.Set("setMulKernel", Napi::Function::New(env, TestSetMulKernel, "setMulKernel"));
    t.Set("mulKernel", Napi::Function::New(env, TestMulKernel, "mulKernel"));
    exports.Set("zkTest", t);
}

} // namespace vm_zk
