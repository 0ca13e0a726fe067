#pragma once

// How the zk bindings hand errors to JavaScript: an Error with a `code` property
// (ZkError's code, or INTERNAL), shared by the prover (bindings.cc) and the
// setup/verifier (setup_bindings.cc) so that every zk function fails alike.

#include <napi.h>

#include <new>
#include <stdexcept>
#include <string>

#include "binfile.h"

namespace vm_zk {

inline Napi::Error coded_error(Napi::Env env, const std::string & code, const std::string & msg) {
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("code", Napi::String::New(env, code));
    return e;
}

// Runs fn and turns ZkError / bad_alloc / other exceptions into coded JS errors.
template <class Fn>
Napi::Value guarded(Napi::Env env, Fn fn) {
    try {
        return fn();
    } catch (const ZkError & e) {
        throw coded_error(env, e.code, e.what());
    } catch (const std::bad_alloc &) {
        throw coded_error(env, "INTERNAL", "out of memory");
    } catch (const Napi::Error &) {
        throw;
    } catch (const std::exception & e) {
        throw coded_error(env, "INTERNAL", e.what());
    }
}

} // namespace vm_zk
