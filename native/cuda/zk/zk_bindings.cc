// Node-API bindings of the prover's GPU kernels (zk_bindings.h). Comparisons run
// on a worker thread: a CPU MSM at the test sizes takes seconds.

#include "zk_bindings.h"

#include <string>

#include "../../src/engine/thread_pool.h"
#include "zk_backend.h"
#include "zk_cuda.h"
#include "zk_selfcheck.h"

namespace vm_zk {

namespace {

Napi::Error coded(Napi::Env env, const char * code, const std::string & msg) {
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("code", Napi::String::New(env, code));
    return e;
}

Napi::Value Status(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::string why;
    const bool ok = zk_cuda_available(&why);
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", ok);
    o.Set("reason", ok ? std::string() : why);
    o.Set("device", zk_cuda_device_name());
    return o;
}

class CheckWorker : public Napi::AsyncWorker {
public:
    CheckWorker(Napi::Env env, std::string kind, uint32_t size, uint64_t seed, std::string pattern, int threads)
        : Napi::AsyncWorker(env, "verimesh:zkCudaCheck"), kind_(std::move(kind)), size_(size), seed_(seed),
          pattern_(std::move(pattern)), threads_(threads), deferred_(env) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            if (kind_ == "ntt") out_ = cuda_check::ntt_all(size_, seed_, threads_);
            else out_ = cuda_check::msm(kind_ == "msm_g2", size_, seed_, pattern_, threads_);
        } catch (const std::exception & e) {
            SetError(e.what());
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("equal", out_.equal);
        o.Set("detail", out_.detail);
        o.Set("summary", out_.summary);
        o.Set("cpuMs", out_.cpu_ms);
        o.Set("gpuMs", out_.gpu_ms);
        deferred_.Resolve(o);
    }
    void OnError(const Napi::Error & e) override {
        deferred_.Reject(coded(Env(), "ZK_CUDA_FAILED", e.Message()).Value());
    }
private:
    std::string kind_;
    uint32_t size_;
    uint64_t seed_;
    std::string pattern_;
    int threads_;
    cuda_check::Outcome out_;
    Napi::Promise::Deferred deferred_;
};

// zkCudaCheck(kind, size, seed = 1, pattern = 'mixed', threads = default)
Napi::Value Check(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "kind must be 'msm_g1', 'msm_g2' or 'ntt'");
    const std::string kind = info[0].As<Napi::String>().Utf8Value();
    if (kind != "msm_g1" && kind != "msm_g2" && kind != "ntt") {
        throw Napi::TypeError::New(env, "kind must be 'msm_g1', 'msm_g2' or 'ntt', got '" + kind + "'");
    }
    auto integer = [&](size_t i, double lo, double hi, double dflt, const char * what) {
        if (info.Length() <= i || info[i].IsUndefined()) return dflt;
        if (!info[i].IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
        const double d = info[i].As<Napi::Number>().DoubleValue();
        if (!(d >= lo && d <= hi) || d != (double) (int64_t) d) {
            throw Napi::RangeError::New(env, std::string(what) + " must be an integer in [" + std::to_string((int64_t) lo) +
                                                 ", " + std::to_string((int64_t) hi) + "]");
        }
        return d;
    };
    const bool ntt = kind == "ntt";
    if (info.Length() < 2 || info[1].IsUndefined()) throw Napi::TypeError::New(env, "size is required");
    const uint32_t size = (uint32_t) integer(1, 0, ntt ? 24 : (double) (1u << 24), 0, ntt ? "log2n" : "n");
    const uint64_t seed = (uint64_t) integer(2, 0, 9007199254740991.0, 1, "seed");
    std::string pattern = "mixed";
    if (info.Length() > 3 && !info[3].IsUndefined()) {
        if (!info[3].IsString()) throw Napi::TypeError::New(env, "pattern must be a string");
        pattern = info[3].As<Napi::String>().Utf8Value();
        if (!cuda_check::msm_pattern_ok(pattern)) {
            throw Napi::TypeError::New(env, "pattern must be 'random', 'mixed', 'ones' or 'zeros'");
        }
    }
    const int threads = (int) integer(4, 0, 256, 0, "threads");
    std::string why;
    if (!zk_cuda_available(&why)) throw coded(env, "ZK_CUDA_UNAVAILABLE", "no usable GPU: " + why);
    CheckWorker * w = new CheckWorker(env, kind, size, seed, pattern, threads ? threads : vm_engine::default_threads());
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

} // namespace

const ProveAccel * zk_cuda_prove_accel(std::string * why_not) {
    if (!zk_cuda_available(why_not)) return nullptr;
    static const ProveAccel accel = { zk_cuda_to_coset, zk_cuda_msm_g1, zk_cuda_msm_g2 };
    return &accel;
}

void cuda_init(Napi::Env env, Napi::Object exports) {
    exports.Set("zkCudaStatus", Napi::Function::New(env, Status, "zkCudaStatus"));
    exports.Set("zkCudaCheck", Napi::Function::New(env, Check, "zkCudaCheck"));
}

} // namespace vm_zk
