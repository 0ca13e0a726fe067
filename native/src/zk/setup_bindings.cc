// Node-API bindings of the development setup (AsyncWorker) and the native
// Groth16 verifier (synchronous: about a millisecond). Only argument checking
// and value conversion live here; see setup_dev.h and groth16_verify.h.

#include "setup_bindings.h"

#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../engine/thread_pool.h"
#include "groth16_verify.h"
#include "napi_errors.h"
#include "setup_dev.h"

namespace vm_zk {

namespace {

// ---------------------------------------------------------------------------
// zkSetupDev

class SetupWorker : public Napi::AsyncWorker {
public:
    SetupWorker(Napi::Env env, std::string r1cs, std::string zkey, DevSecrets secrets, int threads)
        : Napi::AsyncWorker(env, "verimesh:zkSetupDev"), r1cs_(std::move(r1cs)), zkey_(std::move(zkey)),
          secrets_(secrets), threads_(threads), deferred_(env) {}
    Napi::Promise promise() { return deferred_.Promise(); }

    void Execute() override {
        try {
            info_ = setup_dev(r1cs_, zkey_, secrets_, threads_);
        } catch (const ZkError & e) {
            code_ = e.code;
            SetError(e.what());
        } catch (const std::bad_alloc &) {
            code_ = "INTERNAL";
            SetError("out of memory during the development setup");
        } catch (const std::exception & e) {
            code_ = "INTERNAL";
            SetError(e.what());
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("nConstraints", Napi::Number::New(env, info_.n_constraints));
        o.Set("nVars", Napi::Number::New(env, info_.n_vars));
        o.Set("nPublic", Napi::Number::New(env, info_.n_public));
        o.Set("domainSize", Napi::Number::New(env, info_.domain_size));
        o.Set("ms", Napi::Number::New(env, info_.ms));
        o.Set("threads", Napi::Number::New(env, threads_));
        o.Set("insecure", Napi::Boolean::New(env, true));
        o.Set("notice", Napi::String::New(env, "INSECURE development setup: the secrets are derived from a public seed"));
        deferred_.Resolve(o);
    }
    void OnError(const Napi::Error & e) override { deferred_.Reject(coded_error(Env(), code_, e.Message()).Value()); }

private:
    std::string r1cs_, zkey_;
    DevSecrets secrets_;
    int threads_;
    DevSetupInfo info_;
    std::string code_ = "INTERNAL";
    Napi::Promise::Deferred deferred_;
};

Napi::Value ZkSetupDev(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    auto reject = [&](const std::string & msg) {
        Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
        d.Reject(coded_error(env, "ZK_BAD_INPUT", "zkSetupDev: " + msg).Value());
        return d.Promise();
    };
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) return reject("r1csPath and zkeyPath must be strings");
    std::string seed = DEV_SETUP_DEFAULT_SEED;
    int threads = vm_engine::default_threads();
    DevSecrets explicit_secrets;
    bool has_explicit = false;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
        if (!info[2].IsObject()) return reject("options must be an object");
        Napi::Object o = info[2].As<Napi::Object>();
        Napi::Value s = o.Get("seed"), t = o.Get("threads"), sec = o.Get("secrets");
        if (!s.IsUndefined()) {
            if (!s.IsString()) return reject("options.seed must be a string");
            seed = s.As<Napi::String>().Utf8Value();
        }
        if (!sec.IsUndefined()) {
            // Explicit toxic waste, to reproduce another tool's setup for the same
            // secrets (tests compare with snarkjs byte for byte). Just as insecure.
            if (!s.IsUndefined()) return reject("options.seed and options.secrets are exclusive");
            if (!sec.IsObject()) return reject("options.secrets must be an object of decimal strings");
            Napi::Object so = sec.As<Napi::Object>();
            DevSecrets d;
            Fr * slots[5] = { &d.tau, &d.alpha, &d.beta, &d.gamma, &d.delta };
            const char * names[5] = { "tau", "alpha", "beta", "gamma", "delta" };
            for (int i = 0; i < 5; ++i) {
                Napi::Value v = so.Get(names[i]);
                if (!v.IsString() || !Fr::from_dec(v.As<Napi::String>().Utf8Value(), *slots[i]) || slots[i]->is_zero()) {
                    return reject(std::string("options.secrets.") + names[i] + " must be a decimal string in [1, r)");
                }
            }
            explicit_secrets = d;
            has_explicit = true;
        }
        if (!t.IsUndefined()) {
            const double d = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : -1;
            if (!(d >= 0 && d <= 256) || d != std::floor(d)) return reject("options.threads must be an integer in [0, 256] (0 = all cores)");
            if (d > 0) threads = (int) d;
        }
    }
    auto * w = new SetupWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                               has_explicit ? explicit_secrets : dev_secrets_from_seed(seed), threads);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// ---------------------------------------------------------------------------
// zkVerify: JS values -> text structs (shape errors name the offending path)

struct Shape {
    const char * code;
    [[noreturn]] void fail(const std::string & msg) const { throw ZkError(code, msg); }

    std::string str(const Napi::Value & v, const std::string & what) const {
        if (v.IsString()) return v.As<Napi::String>().Utf8Value();
        if (v.IsBigInt()) return v.ToString().Utf8Value();   // decimal text, any size (negative: rejected by the parser)
        fail(what + " must be a decimal string");
    }
    Napi::Array arr(const Napi::Value & v, const std::string & what, uint32_t min_len, uint32_t max_len) const {
        if (!v.IsArray()) fail(what + " must be an array");
        Napi::Array a = v.As<Napi::Array>();
        if (a.Length() < min_len || a.Length() > max_len) {
            fail(what + " must have " + (min_len == max_len ? std::to_string(min_len) : std::to_string(min_len) + ".." + std::to_string(max_len)) +
                 " elements, got " + std::to_string(a.Length()));
        }
        return a;
    }
    // [x, y] or [x, y, z]; z defaults to "1" (affine).
    G1Text g1(const Napi::Value & v, const std::string & what) const {
        Napi::Array a = arr(v, what, 2, 3);
        return { str(a.Get(0u), what + "[0]"), str(a.Get(1u), what + "[1]"), a.Length() > 2 ? str(a.Get(2u), what + "[2]") : "1" };
    }
    G2Text g2(const Napi::Value & v, const std::string & what) const {
        Napi::Array a = arr(v, what, 2, 3);
        Napi::Array x = arr(a.Get(0u), what + "[0]", 2, 2), y = arr(a.Get(1u), what + "[1]", 2, 2);
        G2Text t;
        t.x0 = str(x.Get(0u), what + "[0][0]"); t.x1 = str(x.Get(1u), what + "[0][1]");
        t.y0 = str(y.Get(0u), what + "[1][0]"); t.y1 = str(y.Get(1u), what + "[1][1]");
        if (a.Length() > 2) {
            Napi::Array z = arr(a.Get(2u), what + "[2]", 2, 2);
            t.z0 = str(z.Get(0u), what + "[2][0]"); t.z1 = str(z.Get(1u), what + "[2][1]");
        } else {
            t.z0 = "1"; t.z1 = "0";
        }
        return t;
    }
    Napi::Object obj(const Napi::Value & v, const std::string & what) const {
        if (!v.IsObject() || v.IsArray()) fail(what + " must be an object");
        return v.As<Napi::Object>();
    }
};

VkText read_vk(const Napi::Value & v) {
    const Shape sh{ "ZK_BAD_VK_SHAPE" };
    Napi::Object o = sh.obj(v, "vk");
    VkText t;
    Napi::Value proto = o.Get("protocol"), curve = o.Get("curve"), np = o.Get("nPublic");
    t.protocol = proto.IsString() ? proto.As<Napi::String>().Utf8Value() : "";
    t.curve = curve.IsString() ? curve.As<Napi::String>().Utf8Value() : "";
    if (!proto.IsString()) sh.fail("vk.protocol must be a string ('groth16')");
    if (!curve.IsString()) sh.fail("vk.curve must be a string ('bn128')");
    if (!np.IsNumber()) sh.fail("vk.nPublic must be a number");
    const double d = np.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d < 1e9) || d != std::floor(d)) sh.fail("vk.nPublic must be a non-negative integer");
    t.n_public = (int64_t) d;
    t.alpha1 = sh.g1(o.Get("vk_alpha_1"), "vk.vk_alpha_1");
    t.beta2 = sh.g2(o.Get("vk_beta_2"), "vk.vk_beta_2");
    t.gamma2 = sh.g2(o.Get("vk_gamma_2"), "vk.vk_gamma_2");
    t.delta2 = sh.g2(o.Get("vk_delta_2"), "vk.vk_delta_2");
    Napi::Array ic = sh.arr(o.Get("IC"), "vk.IC", 1, 1u << 24);
    for (uint32_t i = 0; i < ic.Length(); ++i) t.ic.push_back(sh.g1(ic.Get(i), "vk.IC[" + std::to_string(i) + "]"));
    return t;
}

ProofText read_proof(const Napi::Value & v) {
    const Shape sh{ "ZK_BAD_PROOF_SHAPE" };
    Napi::Object o = sh.obj(v, "proof");
    return { sh.g1(o.Get("pi_a"), "proof.pi_a"), sh.g1(o.Get("pi_c"), "proof.pi_c"), sh.g2(o.Get("pi_b"), "proof.pi_b") };
}

std::string cache_key(const VkText & t) {
    std::string k = t.protocol + "|" + t.curve + "|" + std::to_string(t.n_public);
    auto g1 = [&](const G1Text & p) { k += "|" + p.x + "," + p.y + "," + p.z; };
    auto g2 = [&](const G2Text & p) { k += "|" + p.x0 + "," + p.x1 + "," + p.y0 + "," + p.y1 + "," + p.z0 + "," + p.z1; };
    g1(t.alpha1); g2(t.beta2); g2(t.gamma2); g2(t.delta2);
    for (const G1Text & p : t.ic) g1(p);
    return k;
}

// Prepared keys, most recent first: validating a key (three G2 subgroup
// checks) and preparing its G2 lines costs more than the pairing itself, and
// a node verifies many proofs against few keys.
class VkCache {
public:
    std::shared_ptr<const PreparedVk> get(const VkText & t) {
        const std::string key = cache_key(t);
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (auto it = items_.begin(); it != items_.end(); ++it) {
                if (it->first == key) {
                    auto v = it->second;
                    items_.erase(it);
                    items_.emplace_front(key, v);
                    return v;
                }
            }
        }
        auto v = std::make_shared<const PreparedVk>(prepare_vk(t));   // throws on a bad key: nothing cached
        std::lock_guard<std::mutex> lock(mu_);
        items_.emplace_front(key, v);
        if (items_.size() > 16) items_.pop_back();
        return v;
    }
private:
    std::mutex mu_;
    std::deque<std::pair<std::string, std::shared_ptr<const PreparedVk>>> items_;
};

VkCache & vk_cache() { static VkCache c; return c; }

Napi::Value ZkVerify(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        const auto t0 = std::chrono::steady_clock::now();
        if (info.Length() < 3) throw ZkError("ZK_BAD_INPUT", "zkVerify(vk, proof, publicSignals): 3 arguments expected");
        const VkText vk = read_vk(info[0]);
        const ProofText proof = read_proof(info[1]);
        const Shape sh{ "ZK_PUBLIC_OUT_OF_RANGE" };
        if (!info[2].IsArray()) throw ZkError("ZK_BAD_PROOF_SHAPE", "publicSignals must be an array of decimal strings");
        Napi::Array ps = info[2].As<Napi::Array>();
        std::vector<std::string> pub;
        for (uint32_t i = 0; i < ps.Length(); ++i) pub.push_back(sh.str(ps.Get(i), "publicSignals[" + std::to_string(i) + "]"));
        const std::shared_ptr<const PreparedVk> pvk = vk_cache().get(vk);
        const bool ok = groth16_verify(*pvk, proof, pub);
        Napi::Object out = Napi::Object::New(env);
        out.Set("valid", Napi::Boolean::New(env, ok));
        out.Set("ms", Napi::Number::New(env, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()));
        return out;
    });
}

// zkPairing(g1, g2): e(P, Q) as 12 decimal strings in the order
// c0.c0.c0, c0.c0.c1, c0.c1.c0, ..., c1.c2.c1 (Fq12 = Fq6 + Fq6·w, Fq6 = 3 × Fq2).
Napi::Value ZkPairing(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
        const Shape sh{ "ZK_BAD_INPUT" };
        if (info.Length() < 2) throw ZkError("ZK_BAD_INPUT", "zkPairing(g1, g2): 2 arguments expected");
        const G1Affine p = parse_g1(sh.g1(info[0], "g1"), "g1", "ZK_BAD_INPUT");
        const G2Affine q = parse_g2(sh.g2(info[1], "g2"), "g2", "ZK_BAD_INPUT");
        const G2Prepared qp = q.is_inf() ? g2_prepare_infinity() : g2_prepare(q.x, q.y);
        const MillerTerm term = { p.x, p.y, p.is_inf(), &qp };
        const Fq12 f = final_exponentiation(multi_miller_loop(&term, 1));
        const Fq2 * c[6] = { &f.c0.c0, &f.c0.c1, &f.c0.c2, &f.c1.c0, &f.c1.c1, &f.c1.c2 };
        Napi::Array out = Napi::Array::New(env, 12);
        for (uint32_t i = 0; i < 6; ++i) {
            out.Set(2 * i, Napi::String::New(env, c[i]->c0.to_dec()));
            out.Set(2 * i + 1, Napi::String::New(env, c[i]->c1.to_dec()));
        }
        return out;
    });
}

} // namespace

void init_setup(Napi::Env env, Napi::Object exports) {
    exports.Set("zkSetupDev", Napi::Function::New(env, ZkSetupDev, "zkSetupDev"));
}

void init_verify(Napi::Env env, Napi::Object exports) {
    exports.Set("zkVerify", Napi::Function::New(env, ZkVerify, "zkVerify"));
    exports.Set("zkPairing", Napi::Function::New(env, ZkPairing, "zkPairing"));
}

} // namespace vm_zk
