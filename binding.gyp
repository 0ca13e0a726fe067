# CPU build of the native addon, run by `npm install` (node-gyp rebuild).
# The CUDA build of the same sources is CMakeLists.txt (npm run build:cuda).
{
  'variables': {
    'verimesh_version': '<!(node -p "require(\'./package.json\').version")',
  },
  'targets': [
    {
      'target_name': 'verimesh_native',
      'sources': [
        'native/src/addon.cc',
        'native/src/cpu_features.cc',
        'native/src/dispatch.cc',
        'native/src/gpu.cc',
        'native/src/engine/bindings.cc',
        'native/src/engine/cpu_runner.cc',
        'native/src/engine/gemm.cc',
        'native/src/engine/thread_pool.cc',
        'native/src/zk/binfile.cc',
        'native/src/zk/bindings.cc',
        'native/src/zk/groth16_prove.cc',
        'native/src/zk/groth16_verify.cc',
        'native/src/zk/msm.cc',
        'native/src/zk/ntt.cc',
        'native/src/zk/pairing.cc',
        'native/src/zk/r1cs.cc',
        'native/src/zk/setup_bindings.cc',
        'native/src/zk/setup_dev.cc',
        'native/src/zk/wtns.cc',
        'native/src/zk/zkey.cc',
        'native/src/zk/zkey_write.cc',
      ],
      # node_addon_api_except: include path + NAPI_CPP_EXCEPTIONS + drops -fno-exceptions
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        'VERIMESH_VERSION="<(verimesh_version)"',
        'VERIMESH_BUILD_TOOL="node-gyp"',
      ],
      # Node's common.gypi asks for gnu++17; we want plain ISO C++17.
      'cflags_cc!': [ '-std=gnu++17' ],
      'cflags_cc': [ '-std=c++17' ],
      # -Wno-uninitialized: GCC 12 warns falsely inside AVX-512 reduction intrinsics.
      'cflags': [ '-fvisibility=hidden', '-Wno-uninitialized' ],
      'conditions': [
        [ 'target_arch=="x64"', {
          # Portable baseline. Never a host-tuned -march: the binary must run on any
          # x86-64-v2 host; faster paths are picked at run time (dispatch.h).
          # Keep VERIMESH_BUILD_FLAGS in step with the flags below.
          'cflags': [ '-march=x86-64-v2', '-mtune=generic' ],
          'defines': [
            'VERIMESH_BUILD_ARCH="x86-64-v2"',
            'VERIMESH_BUILD_FLAGS="-O3 -march=x86-64-v2 -mtune=generic"',
          ],
        }, {
          'defines': [
            'VERIMESH_BUILD_ARCH="<(target_arch)"',
            'VERIMESH_BUILD_FLAGS="-O3"',
          ],
        }],
      ],
    },
  ],
}
