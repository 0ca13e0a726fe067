#pragma once

// Node-API surface of the development setup and the native Groth16 verifier
// (see runtime/addon.ts for the typed view):
//   init_setup:  zkSetupDev(r1csPath, zkeyPath, { seed?, threads? }) -> Promise<info>
//   init_verify: zkVerify(vk, proof, publicSignals) -> { valid, ms }
//                zkPairing(g1, g2) -> 12 decimal strings (diagnostic, for tests)

#include <napi.h>

namespace vm_zk {

void init_setup(Napi::Env env, Napi::Object exports);
void init_verify(Napi::Env env, Napi::Object exports);

} // namespace vm_zk
