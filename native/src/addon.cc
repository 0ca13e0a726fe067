// verimesh_native: Node-API bindings. This file only converts between C++ and
// JavaScript values; detection lives in cpu_features.cc, kernel selection in
// dispatch.cc and the GPU probe in gpu.cc, so the engine can grow behind them.

#include <napi.h>

#include <cstdio>
#include <string>

#include "cpu_features.h"
#include "dispatch.h"
#include "engine/bindings.h"
#include "gpu.h"
#include "zk/bindings.h"
#if defined(VERIMESH_CUDA)
#include "../cuda/zk/zk_bindings.h"
#endif
#include "zk/setup_bindings.h"

// Set by the build system (binding.gyp / CMakeLists.txt), so that a report
// always says which build is loaded.
#ifndef VERIMESH_VERSION
#define VERIMESH_VERSION "0.0.0"
#endif
#ifndef VERIMESH_BUILD_TOOL
#define VERIMESH_BUILD_TOOL "unknown"
#endif
#ifndef VERIMESH_BUILD_ARCH
#define VERIMESH_BUILD_ARCH "unknown"
#endif
#ifndef VERIMESH_BUILD_FLAGS
#define VERIMESH_BUILD_FLAGS ""
#endif

#if defined(__clang__)
#define VM_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define VM_COMPILER "gcc " __VERSION__
#else
#define VM_COMPILER "unknown"
#endif

namespace {

Napi::Array split_list(Napi::Env env, const std::string & s, char sep) {
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find(sep, start);
        if (end == std::string::npos) {
            end = s.size();
        }
        if (end > start) {
            out.Set(n++, s.substr(start, end - start));
        }
        start = end + 1;
    }
    return out;
}

Napi::Object build_info(Napi::Env env) {
    const vm_gpu_build_info gb = vm_gpu_get_build_info();
    Napi::Object b = Napi::Object::New(env);
    b.Set("tool",     VERIMESH_BUILD_TOOL);
    b.Set("compiler", VM_COMPILER);
    b.Set("arch",     VERIMESH_BUILD_ARCH);
    b.Set("flags",    VERIMESH_BUILD_FLAGS);
    b.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
    b.Set("cuda",     Napi::Boolean::New(env, gb.cuda));
    b.Set("cudaVersion", gb.cuda ? Napi::Value(Napi::String::New(env, gb.cuda_version)) : env.Null());
    b.Set("cudaArchitectures", split_list(env, gb.architectures, ','));
    return b;
}

Napi::Object cpu_info(Napi::Env env) {
    const vm_cpu_features & f = vm_cpu_get_features();

    Napi::Object feat = Napi::Object::New(env);
    feat.Set("sse42",      Napi::Boolean::New(env, f.sse42));
    feat.Set("avx2",       Napi::Boolean::New(env, f.avx2));
    feat.Set("fma",        Napi::Boolean::New(env, f.fma));
    feat.Set("avx512f",    Napi::Boolean::New(env, f.avx512f));
    feat.Set("avx512bw",   Napi::Boolean::New(env, f.avx512bw));
    feat.Set("avx512vl",   Napi::Boolean::New(env, f.avx512vl));
    feat.Set("avx512vnni", Napi::Boolean::New(env, f.avx512vnni));
    feat.Set("avxvnni",    Napi::Boolean::New(env, f.avxvnni));
    feat.Set("amxTile",    Napi::Boolean::New(env, f.amx_tile));
    feat.Set("amxInt8",    Napi::Boolean::New(env, f.amx_int8));
    feat.Set("amxBf16",    Napi::Boolean::New(env, f.amx_bf16));

    Napi::Object os = Napi::Object::New(env);
    os.Set("avx",    Napi::Boolean::New(env, f.os_avx));
    os.Set("avx512", Napi::Boolean::New(env, f.os_avx512));
    os.Set("amx",    Napi::Boolean::New(env, f.os_amx));
    // Hex string: XCR0 is a 64-bit mask and JS numbers lose bits above 2^53.
    char xcr0[19];
    snprintf(xcr0, sizeof(xcr0), "0x%llx", (unsigned long long) f.xcr0);
    os.Set("xcr0", xcr0);

    Napi::Object cpu = Napi::Object::New(env);
    cpu.Set("vendor",       f.vendor);
    cpu.Set("brand",        f.brand);
    cpu.Set("logicalCores", Napi::Number::New(env, f.logical_cores));
    cpu.Set("features",     feat);
    cpu.Set("osEnabled",    os);
    cpu.Set("amxUsable",    Napi::Boolean::New(env, f.amx_usable));
    cpu.Set("amxReason",    f.amx_reason);
    cpu.Set("tier",         vm_cpu_tier_name(vm_cpu_select_tier(f)));
    return cpu;
}

Napi::Object gpu_info(Napi::Env env) {
    const vm_gpu_info & g = vm_gpu_get_info();
    Napi::Array devices = Napi::Array::New(env, g.devices.size());
    for (size_t i = 0; i < g.devices.size(); ++i) {
        const vm_gpu_device & d = g.devices[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("index",             Napi::Number::New(env, d.index));
        o.Set("name",              d.name);
        o.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
        // Exact up to 8 PiB (2^53 bytes), far beyond any device.
        o.Set("memoryBytes",       Napi::Number::New(env, (double) d.memory_bytes));
        o.Set("multiprocessors",   Napi::Number::New(env, d.multiprocessors));
        devices.Set((uint32_t) i, o);
    }
    Napi::Object gpu = Napi::Object::New(env);
    gpu.Set("present", Napi::Boolean::New(env, g.present));
    gpu.Set("reason",  g.reason);
    gpu.Set("driverVersion", g.driver_version > 0
        ? Napi::Value(Napi::String::New(env, std::to_string(g.driver_version / 1000) + "." + std::to_string((g.driver_version % 1000) / 10)))
        : env.Null());
    gpu.Set("devices", devices);
    return gpu;
}

Napi::Value Capabilities(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object caps = Napi::Object::New(env);
    caps.Set("version", VERIMESH_VERSION);
    caps.Set("build",   build_info(env));
    caps.Set("cpu",     cpu_info(env));
    caps.Set("gpu",     gpu_info(env));
    return caps;
}

Napi::Value GpuSelfTest(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    int device = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
        if (!info[0].IsNumber()) {
            throw Napi::TypeError::New(env, "gpuSelfTest(device): device must be a number");
        }
        device = info[0].As<Napi::Number>().Int32Value();
    }
    const vm_gpu_self_test_result r = vm_gpu_self_test(device);
    Napi::Object out = Napi::Object::New(env);
    out.Set("ok",     Napi::Boolean::New(env, r.ok));
    out.Set("reason", r.reason);
    return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    // Detect eagerly: the AMX permission request belongs at load time, before
    // any engine thread could touch tile registers.
    (void) vm_cpu_get_features();

    exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
    exports.Set("gpuSelfTest",  Napi::Function::New(env, GpuSelfTest,  "gpuSelfTest"));
    vm_engine_register(env, exports);   // NativeShard, gemmS8, gemmS8Bench, kernels
    vm_zk::init(env, exports);          // ZkProver, zkMsmBench, zkNttBench, zkTest
    vm_zk::init_setup(env, exports);    // zkSetupDev
    vm_zk::init_verify(env, exports);   // zkVerify, zkPairing
#if defined(VERIMESH_CUDA)
    vm_zk::cuda_init(env, exports);     // zkCudaStatus, zkCudaCheck (the prover's GPU kernels)
#endif
    return exports;
}

} // namespace

NODE_API_MODULE(verimesh_native, Init)
