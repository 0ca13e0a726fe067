#pragma once

#include <napi.h>

// Adds the engine's exports (NativeShard, gemmS8, gemmS8Bench, kernels) to `exports`.
void vm_engine_register(Napi::Env env, Napi::Object exports);
