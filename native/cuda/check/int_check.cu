// vm_cuda_intcheck: evaluates the integer primitives of native/cuda/int_math.cuh
// (the exact functions the engine kernels call) on cases read from stdin, so
// that test/cuda-engine.test.ts can compare them with the TypeScript reference
// (actors/engine/int/fixed.ts, forward.ts) on a machine without a GPU.
//
//   vm_cuda_intcheck            host evaluation only
//   vm_cuda_intcheck --device   also evaluates every case in a CUDA kernel and
//                               fails (exit 1) on any host/device difference;
//                               exit 3 with the reason when no GPU is usable
//
// Input: one case per line, "<op> <int> <int> ...". Output: one line per case,
// the results separated by spaces. Unknown ops or malformed lines: exit 2.
// Built only by the CUDA build (CMakeLists.txt), next to the addon.

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../int_math.cuh"

namespace {

enum Op : int {
    OP_RSHR,        // x s (s ≥ 0)            -> rshr(x, s)
    OP_RSHRSAT,     // x s                    -> sat32(rshr(x, s))
    OP_MULR,        // a b s                  -> mulr
    OP_RDIV,        // n d                    -> rdiv
    OP_BITLEN,      // x                      -> bitlen
    OP_ISQRT,       // n                      -> isqrt
    OP_EXP2,        // d                      -> exp2q30
    OP_SILU,        // x                      -> silu
    OP_SWIGLU,      // gate up                -> mulr(silu(gate), up, 16)
    OP_QSCALE,      // amax                   -> m x
    OP_QQ,          // v amax                 -> qvec element
    OP_LINOUT,      // acc mw xw ma xa [bias] -> linear output (+ bias)
    OP_LOGIT,       // acc mk xk mq xq mc xc  -> attention logit
    OP_ATTNEXP,     // l mx                   -> e
    OP_ATTNW,       // e S mv xv X            -> w
    OP_ATTNOUT,     // acc X                  -> o
    OP_ROPE,        // a b c s                -> a' b'
    OP_RMSNORM,     // eps n x[n] g[n]        -> q[n] m x   (rmsnorm then qvec, as k_rmsnorm_q)
    OP_QVEC,        // n v[n]                 -> q[n] m x
    OP_BACT,        // n x[n]                 -> q[n] s[n/32] x'[n]  (as k_bact: values, scales, dequantised)
    OP_COUNT
};

const char * const kOpNames[OP_COUNT] = {
    "rshr", "rshrsat", "mulr", "rdiv", "bitlen", "isqrt", "exp2q30", "silu", "swiglu", "qscale", "qq",
    "linout", "logit", "attnexp", "attnw", "attnout", "rope", "rmsnorm", "qvec", "bact",
};

struct Case {
    int    op;
    int    nargs;
    size_t arg;    // offset into the argument pool
    size_t out;    // offset into the result pool
    int    nout;
};

using vm_int::Scale;

// Number of results of a case with these arguments, -1 when the arguments are malformed.
int result_count(int op, const std::vector<long long> & a) {
    const int na = (int) a.size();
    auto fixed = [&](int want, int outs) { return na == want ? outs : -1; };
    switch (op) {
    case OP_RSHR: case OP_RSHRSAT: case OP_RDIV: case OP_QQ: case OP_ATTNEXP: case OP_ATTNOUT: case OP_SWIGLU:
        return fixed(2, 1);
    case OP_MULR: return fixed(3, 1);
    case OP_BITLEN: case OP_ISQRT: case OP_EXP2: case OP_SILU: return fixed(1, 1);
    case OP_QSCALE: return fixed(1, 2);
    case OP_LINOUT: return (na == 5 || na == 6) ? 1 : -1;
    case OP_LOGIT: return fixed(7, 1);
    case OP_ATTNW: return fixed(5, 1);
    case OP_ROPE: return fixed(4, 2);
    case OP_RMSNORM:
        return (na >= 2 && a[1] >= 1 && na == 2 + 2 * a[1]) ? (int) a[1] + 2 : -1;
    case OP_QVEC:
        return (na >= 1 && a[0] >= 1 && na == 1 + a[0]) ? (int) a[0] + 2 : -1;
    case OP_BACT:
        return (na >= 1 && a[0] >= 32 && a[0] % 32 == 0 && na == 1 + a[0]) ? (int) (a[0] * 2 + a[0] / 32) : -1;
    default: return -1;
    }
}

// Sequential composition of the same helpers the kernels use, in the order they use them.
VM_HD void eval_case(const Case & c, const long long * a, long long * r) {
    switch (c.op) {
    case OP_RSHR: r[0] = vm_int::rshr_pos(a[0], (int) a[1]); break;
    case OP_RSHRSAT: r[0] = vm_int::rshr_sat32(a[0], a[1]); break;
    case OP_MULR: r[0] = vm_int::mulr(a[0], a[1], a[2]); break;
    case OP_RDIV: r[0] = vm_int::rdiv(a[0], a[1]); break;
    case OP_BITLEN: r[0] = vm_int::bitlen((uint64_t) a[0]); break;
    case OP_ISQRT: r[0] = (long long) vm_int::isqrt((uint64_t) a[0]); break;
    case OP_EXP2: r[0] = vm_int::exp2q30(a[0]); break;
    case OP_SILU: r[0] = vm_int::silu((int32_t) a[0]); break;
    case OP_SWIGLU: r[0] = vm_int::swiglu((int32_t) a[0], (int32_t) a[1]); break;
    case OP_QSCALE: {
        const Scale s = vm_int::qvec_scale((uint32_t) a[0]);
        r[0] = s.m;
        r[1] = s.x;
        break;
    }
    case OP_QQ: r[0] = vm_int::qvec_q((int32_t) a[0], (uint32_t) a[1]); break;
    case OP_LINOUT: {
        int32_t y = vm_int::linear_out((int32_t) a[0], Scale{(int32_t) a[1], (int32_t) a[2]}, Scale{(int32_t) a[3], (int32_t) a[4]});
        if (c.nargs == 6) {
            y = vm_int::add_sat(y, (int32_t) a[5]);
        }
        r[0] = y;
        break;
    }
    case OP_LOGIT:
        r[0] = vm_int::attn_logit((int32_t) a[0], Scale{(int32_t) a[1], (int32_t) a[2]}, Scale{(int32_t) a[3], (int32_t) a[4]},
                                  Scale{(int32_t) a[5], (int32_t) a[6]});
        break;
    case OP_ATTNEXP: r[0] = vm_int::attn_exp((int32_t) a[0], (int32_t) a[1]); break;
    case OP_ATTNW: r[0] = vm_int::attn_weight(a[0], a[1], Scale{(int32_t) a[2], (int32_t) a[3]}, (int32_t) a[4]); break;
    case OP_ATTNOUT: r[0] = vm_int::attn_out(a[0], (int32_t) a[1]); break;
    case OP_ROPE: {
        int32_t x, y;
        vm_int::rope_pair((int32_t) a[0], (int32_t) a[1], (int32_t) a[2], (int32_t) a[3], &x, &y);
        r[0] = x;
        r[1] = y;
        break;
    }
    case OP_RMSNORM: {
        const long long eps = a[0];
        const int n = (int) a[1];
        const long long * x = a + 2;
        const long long * g = a + 2 + n;
        uint32_t am = 0;
        for (int i = 0; i < n; ++i) {
            const uint32_t v = vm_int::abs32((int32_t) x[i]);
            am = v > am ? v : am;
        }
        const int k = vm_int::rms_shift(am);
        long long ss = 0;
        for (int i = 0; i < n; ++i) {
            const long long xs = vm_int::rshr_pos(x[i], k);
            ss += xs * xs;
        }
        const long long rr = vm_int::rms_r(ss, n, eps, k);
        uint32_t ym = 0;
        for (int i = 0; i < n; ++i) {
            const uint32_t v = vm_int::abs32(vm_int::rms_y((int32_t) vm_int::rshr_pos(x[i], k), (int32_t) g[i], rr));
            ym = v > ym ? v : ym;
        }
        for (int i = 0; i < n; ++i) {
            r[i] = ym == 0 ? 0 : vm_int::qvec_q(vm_int::rms_y((int32_t) vm_int::rshr_pos(x[i], k), (int32_t) g[i], rr), ym);
        }
        const Scale s = vm_int::qvec_scale(ym);
        r[n] = s.m;
        r[n + 1] = s.x;
        break;
    }
    case OP_QVEC: {
        const int n = (int) a[0];
        uint32_t am = 0;
        for (int i = 0; i < n; ++i) {
            const uint32_t v = vm_int::abs32((int32_t) a[1 + i]);
            am = v > am ? v : am;
        }
        for (int i = 0; i < n; ++i) {
            r[i] = am == 0 ? 0 : vm_int::qvec_q((int32_t) a[1 + i], am);
        }
        const Scale s = vm_int::qvec_scale(am);
        r[n] = s.m;
        r[n + 1] = s.x;
        break;
    }
    case OP_BACT: {
        const int n = (int) a[0];
        for (int b = 0; b < n / 32; ++b) {
            uint32_t am = 0;
            for (int i = b * 32; i < b * 32 + 32; ++i) {
                const uint32_t v = vm_int::abs32((int32_t) a[1 + i]);
                am = v > am ? v : am;
            }
            const int32_t s = vm_int::bact_scale(am);
            r[n + b] = s;
            for (int i = b * 32; i < b * 32 + 32; ++i) {
                const int8_t q = vm_int::bact_q((int32_t) a[1 + i], s);
                r[i] = q;
                r[n + n / 32 + i] = vm_int::bact_x(q, s);
            }
        }
        break;
    }
    default: break;
    }
}

__global__ void k_eval(const Case * cases, size_t n, const long long * args, long long * res) {
    const size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        eval_case(cases[i], args + cases[i].arg, res + cases[i].out);
    }
}

std::string cuda_msg(const char * what, cudaError_t e) {
    return std::string(what) + " failed: " + cudaGetErrorString(e) + " (" + std::to_string((int) e) + ")";
}

// Runs every case on device 0; "" on success (results in `out`), else why not.
std::string eval_on_device(const std::vector<Case> & cases, const std::vector<long long> & args,
                           size_t nres, std::vector<long long> & out) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        return cuda_msg("cudaGetDeviceCount", e);
    }
    if (count == 0) {
        return "no CUDA devices";
    }
    Case * dc = nullptr;
    long long * da = nullptr;
    long long * dr = nullptr;
    std::string err;
    if ((e = cudaMalloc(&dc, cases.size() * sizeof(Case) + 1)) != cudaSuccess ||
        (e = cudaMalloc(&da, args.size() * sizeof(long long) + 8)) != cudaSuccess ||
        (e = cudaMalloc(&dr, nres * sizeof(long long) + 8)) != cudaSuccess) {
        err = cuda_msg("cudaMalloc", e);
    } else if ((e = cudaMemcpy(dc, cases.data(), cases.size() * sizeof(Case), cudaMemcpyHostToDevice)) != cudaSuccess ||
               (e = cudaMemcpy(da, args.data(), args.size() * sizeof(long long), cudaMemcpyHostToDevice)) != cudaSuccess) {
        err = cuda_msg("cudaMemcpy", e);
    } else {
        k_eval<<<(unsigned) ((cases.size() + 127) / 128), 128>>>(dc, cases.size(), da, dr);
        if ((e = cudaGetLastError()) != cudaSuccess || (e = cudaDeviceSynchronize()) != cudaSuccess) {
            err = cuda_msg("k_eval", e);
        } else {
            out.assign(nres, 0);
            if ((e = cudaMemcpy(out.data(), dr, nres * sizeof(long long), cudaMemcpyDeviceToHost)) != cudaSuccess) {
                err = cuda_msg("cudaMemcpy", e);
            }
        }
    }
    cudaFree(dc);
    cudaFree(da);
    cudaFree(dr);
    return err;
}

} // namespace

int main(int argc, char ** argv) {
    bool device = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--device") == 0) {
            device = true;
        } else {
            std::fprintf(stderr, "usage: %s [--device] < cases\n", argv[0]);
            return 2;
        }
    }
    std::ios::sync_with_stdio(false);
    std::vector<Case> cases;
    std::vector<long long> args;
    size_t nres = 0;
    std::string line;
    std::vector<long long> a;
    size_t lineno = 0;
    while (std::getline(std::cin, line)) {
        ++lineno;
        if (line.empty()) {
            continue;
        }
        std::istringstream in(line);
        std::string name;
        in >> name;
        int op = -1;
        for (int k = 0; k < OP_COUNT; ++k) {
            if (name == kOpNames[k]) {
                op = k;
            }
        }
        a.clear();
        long long v;
        while (in >> v) {
            a.push_back(v);
        }
        const int nout = op < 0 ? -1 : result_count(op, a);
        if (!in.eof() || nout < 0) {
            std::fprintf(stderr, "line %zu: malformed case: %s\n", lineno, line.c_str());
            return 2;
        }
        cases.push_back(Case{op, (int) a.size(), args.size(), nres, nout});
        args.insert(args.end(), a.begin(), a.end());
        nres += (size_t) nout;
    }

    std::vector<long long> res(nres, 0);
    for (const Case & c : cases) {
        eval_case(c, args.data() + c.arg, res.data() + c.out);
    }

    if (device) {
        std::vector<long long> dres;
        const std::string why = eval_on_device(cases, args, nres, dres);
        if (!why.empty()) {
            std::fprintf(stderr, "device unavailable: %s\n", why.c_str());
            return 3;
        }
        size_t bad = 0;
        for (size_t i = 0; i < cases.size(); ++i) {
            const Case & c = cases[i];
            if (std::memcmp(res.data() + c.out, dres.data() + c.out, (size_t) c.nout * sizeof(long long)) != 0) {
                if (bad++ < 10) {
                    std::fprintf(stderr, "host/device differ on case %zu (%s)\n", i + 1, kOpNames[c.op]);
                }
            }
        }
        if (bad != 0) {
            std::fprintf(stderr, "%zu of %zu cases differ between host and device\n", bad, cases.size());
            return 1;
        }
    }

    std::string out;
    out.reserve(nres * 8);
    for (const Case & c : cases) {
        for (int k = 0; k < c.nout; ++k) {
            if (k != 0) {
                out += ' ';
            }
            out += std::to_string(res[c.out + (size_t) k]);
        }
        out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
