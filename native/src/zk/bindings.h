#pragma once

// Node-API surface of the Groth16 prover: ZkProver, zkMsmBench, zkNttBench and
// the test-only zkTest hooks (see runtime/addon.ts for the typed view).

#include <napi.h>

namespace vm_zk {

void init(Napi::Env env, Napi::Object exports);

} // namespace vm_zk
