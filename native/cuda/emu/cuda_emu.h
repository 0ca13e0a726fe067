#pragma once

// A host emulation of the small CUDA subset engine_cuda.cu uses, so that the
// CUDA runner — its kernels and its host code, unmodified — can run and be
// compared with the TypeScript reference on a machine without a GPU
// (test/cuda-engine.test.ts through vm_cuda_emu, see emu_main.cc).
//
// Every CUDA thread of a block is a coroutine with its own stack; blocks run one
// after another. __syncthreads and warp shuffles are real barriers: a thread
// waits until every thread of its block (or warp) has arrived. The scheduler
// reports what a GPU would leave undefined instead of guessing: a barrier that
// not all threads reach (divergence, or threads that already exited), a shuffle
// with exited lanes, an invalid launch configuration. Device memory is host heap
// filled with garbage, so reads of never-written memory change results, and an
// AddressSanitizer build catches out-of-bounds kernel accesses.
//
// What it cannot show: races the GPU's memory model would expose but a
// sequential schedule hides (VM_EMU_ORDER=reverse runs threads in the opposite
// order to catch the ones that depend on it), __ldg/__restrict__ aliasing,
// performance.
//
// x86-64 only (the coroutine switch is a few lines of assembly).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#if !defined(__x86_64__)
#error "the CUDA emulation needs x86-64"
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define VM_EMU_ASAN 1
#endif

// ---------------------------------------------------------------- language

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Blocks run one at a time, so one static instance per declaration is exactly
// one block's shared memory.
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define VM_DYN_SHARED(type, name) type * name = static_cast<type *>(vm_emu::dyn_shared())
#define VM_LAUNCH(kernel, grid, block, shmem, stream) vm_emu::make_launch(kernel, dim3(grid), dim3(block), (size_t) (shmem))

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct uint3 {
    unsigned x, y, z;
};

struct alignas(16) int4 {
    int x, y, z, w;
};

inline int4 make_int4(int x, int y, int z, int w) {
    return int4{x, y, z, w};
}

template <class T>
inline T max(T a, T b) {
    return a < b ? b : a;
}

template <class T>
inline T min(T a, T b) {
    return b < a ? b : a;
}

template <class T>
inline T __ldg(const T * p) {
    return *p;
}

inline int __dp4a(int a, int b, int c) {
    int32_t acc = c;
    for (int i = 0; i < 4; ++i) {
        const int8_t x = (int8_t) (uint8_t) ((uint32_t) a >> (8 * i));
        const int8_t y = (int8_t) (uint8_t) ((uint32_t) b >> (8 * i));
        acc = (int32_t) ((uint32_t) acc + (uint32_t) ((int32_t) x * (int32_t) y));   // wraps like the hardware
    }
    return acc;
}

// ---------------------------------------------------------------- scheduler

extern "C" void vm_emu_switch(void ** save_sp, void * load_sp);

namespace vm_emu {

enum State : int { RUN, WARP_WAIT, BLOCK_WAIT, DONE };

struct Thread {
    void *   sp = nullptr;
    char *   stack = nullptr;
    uint3    tid{0, 0, 0};
    int      linear = 0;
    State    state = RUN;
    uint64_t shfl = 0;
#if defined(VM_EMU_ASAN)
    void *   fake = nullptr;
#endif
};

struct BlockCtx {
    uint3 bidx{0, 0, 0};
    dim3  bdim;
    dim3  gdim;
    std::vector<Thread> threads;
    std::vector<unsigned char> dyn;   // dynamic shared memory (16-byte aligned start ensured below)
};

constexpr size_t kStackBytes = 256 * 1024;

struct Emu {
    BlockCtx block;
    Thread * cur = nullptr;
    void *   sched_sp = nullptr;
    const std::function<void()> * body = nullptr;
    std::vector<char *> stacks;
    bool     reverse = false;
    int      last_error = 0;
#if defined(VM_EMU_ASAN)
    void *       sched_fake = nullptr;
    const void * sched_bottom = nullptr;
    size_t       sched_size = 0;
#endif
    Emu() {
        const char * o = std::getenv("VM_EMU_ORDER");
        reverse = o != nullptr && std::strcmp(o, "reverse") == 0;
    }
    ~Emu() {
        for (char * s : stacks) {
            std::free(s);
        }
    }
};

inline Emu & emu() {
    static Emu e;
    return e;
}

[[noreturn]] inline void fatal(const std::string & msg) {
    std::fprintf(stderr, "cuda emulation: %s (block %u,%u,%u)\n", msg.c_str(), emu().block.bidx.x, emu().block.bidx.y,
                 emu().block.bidx.z);
    std::fflush(stderr);
    std::abort();
}

inline void * dyn_shared() {
    BlockCtx & b = emu().block;
    return b.dyn.empty() ? nullptr : b.dyn.data();
}

// Called by a thread: back to the scheduler.
inline void yield_to_scheduler(bool finished) {
    Emu & e = emu();
    Thread * t = e.cur;
#if defined(VM_EMU_ASAN)
    __sanitizer_start_switch_fiber(finished ? nullptr : &t->fake, e.sched_bottom, e.sched_size);
#else
    (void) finished;
#endif
    vm_emu_switch(&t->sp, e.sched_sp);
#if defined(VM_EMU_ASAN)
    __sanitizer_finish_switch_fiber(t->fake, nullptr, nullptr);
#endif
}

inline void wait(State s) {
    emu().cur->state = s;
    yield_to_scheduler(false);
}

inline void thread_entry() {
    Emu & e = emu();
#if defined(VM_EMU_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &e.sched_bottom, &e.sched_size);
#endif
    (*e.body)();
    e.cur->state = DONE;
    yield_to_scheduler(true);
    fatal("a finished thread was resumed");
}

inline void resume(Thread & t) {
    Emu & e = emu();
    e.cur = &t;
#if defined(VM_EMU_ASAN)
    __sanitizer_start_switch_fiber(&e.sched_fake, t.stack, kStackBytes);
#endif
    vm_emu_switch(&e.sched_sp, t.sp);
#if defined(VM_EMU_ASAN)
    __sanitizer_finish_switch_fiber(e.sched_fake, nullptr, nullptr);
#endif
    e.cur = nullptr;
}

// Runs every thread of the current block to completion, releasing barriers
// only when every live thread of the warp / block waits at one.
inline void run_block() {
    Emu & e = emu();
    std::vector<Thread> & th = e.block.threads;
    const int n = (int) th.size();
    for (;;) {
        for (int k = 0; k < n; ++k) {
            Thread & t = th[(size_t) (e.reverse ? n - 1 - k : k)];
            if (t.state == RUN) {
                resume(t);
            }
        }
        bool released = false;
        for (int w0 = 0; w0 < n; w0 += 32) {
            const int w1 = std::min(n, w0 + 32);
            int waiting = 0, done = 0;
            for (int i = w0; i < w1; ++i) {
                waiting += th[(size_t) i].state == WARP_WAIT;
                done += th[(size_t) i].state == DONE;
            }
            if (waiting == 0) {
                continue;
            }
            if (done != 0) {
                fatal("warp shuffle with lanes that already exited");
            }
            if (waiting == w1 - w0) {
                for (int i = w0; i < w1; ++i) {
                    th[(size_t) i].state = RUN;
                }
                released = true;
            }
        }
        if (released) {
            continue;
        }
        int waiting = 0, done = 0;
        for (const Thread & t : th) {
            waiting += t.state == BLOCK_WAIT;
            done += t.state == DONE;
        }
        if (done == n) {
            return;
        }
        if (waiting != 0 && done != 0) {
            fatal("__syncthreads reached after some threads of the block exited");
        }
        if (waiting == n) {
            for (Thread & t : th) {
                t.state = RUN;
            }
            continue;
        }
        fatal("deadlock: threads wait at different barriers (divergent __syncthreads or shuffle)");
    }
}

inline uint64_t garbage(uint64_t & s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

inline void fill_garbage(void * p, size_t n, uint64_t seed) {
    unsigned char * b = static_cast<unsigned char *>(p);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; ++i) {
        b[i] = (unsigned char) garbage(s);
    }
}

inline void run_grid(dim3 g, dim3 b, size_t shmem, const std::function<void()> & body) {
    Emu & e = emu();
    const size_t nthreads = (size_t) b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || g.y > 65535 || g.z > 65535 || nthreads == 0 || nthreads > 1024 ||
        shmem > 48 * 1024) {
        e.last_error = 9;   // cudaErrorInvalidConfiguration
        return;
    }
    while (e.stacks.size() < nthreads) {
        e.stacks.push_back(static_cast<char *>(std::aligned_alloc(64, kStackBytes)));
    }
    e.body = &body;
    e.block.bdim = b;
    e.block.gdim = g;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (unsigned bz = 0; bz < g.z; ++bz) {
        for (unsigned by = 0; by < g.y; ++by) {
            for (unsigned bx = 0; bx < g.x; ++bx) {
                e.block.bidx = uint3{bx, by, bz};
                e.block.dyn.assign(shmem, 0);
                fill_garbage(e.block.dyn.data(), shmem, garbage(seed));
                e.block.threads.assign(nthreads, Thread{});
                for (size_t i = 0; i < nthreads; ++i) {
                    Thread & t = e.block.threads[i];
                    t.linear = (int) i;
                    t.tid = uint3{(unsigned) (i % b.x), (unsigned) (i / b.x % b.y), (unsigned) (i / ((size_t) b.x * b.y))};
                    t.stack = e.stacks[i];
#if defined(VM_EMU_ASAN)
                    // Frames of the previous block's coroutines were abandoned, never
                    // returned from: their redzones are still marked on this stack.
                    ASAN_UNPOISON_MEMORY_REGION(t.stack, kStackBytes);
#endif
                    // Initial frame for vm_emu_switch: six callee-saved registers,
                    // then thread_entry as the return address, 16-byte aligned as a call would leave it.
                    uintptr_t top = ((uintptr_t) (t.stack + kStackBytes)) & ~(uintptr_t) 15;
                    void ** sp = reinterpret_cast<void **>(top);
                    *--sp = nullptr;
                    *--sp = reinterpret_cast<void *>(&thread_entry);
                    for (int r = 0; r < 6; ++r) {
                        *--sp = nullptr;
                    }
                    t.sp = sp;
                    t.state = RUN;
                }
                run_block();
            }
        }
    }
    e.body = nullptr;
}

template <class... P>
struct Launch {
    void (*kernel)(P...);
    dim3   grid;
    dim3   block;
    size_t shmem;

    template <class... A>
    void operator()(A &&... args) const {
        std::tuple<std::decay_t<P>...> a(std::forward<A>(args)...);
        auto k = kernel;
        const std::function<void()> body = [&a, k]() { std::apply(k, a); };
        run_grid(grid, block, shmem, body);
    }
};

template <class... P>
Launch<P...> make_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem) {
    return Launch<P...>{kernel, grid, block, shmem};
}

inline uint3 & thread_idx() { return emu().cur->tid; }

template <class T>
inline T shfl_xor(T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    Emu & e = emu();
    Thread * t = e.cur;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    t->shfl = bits;
    wait(WARP_WAIT);
    const int lane = t->linear & 31;
    const int partner = (t->linear & ~31) | ((lane ^ lane_mask) & 31);
    if (partner >= (int) e.block.threads.size()) {
        fatal("shuffle partner outside the block");
    }
    T r;
    std::memcpy(&r, &e.block.threads[(size_t) partner].shfl, sizeof(T));
    wait(WARP_WAIT);   // nobody overwrites its value before every lane has read
    return r;
}

} // namespace vm_emu

#define threadIdx (vm_emu::thread_idx())
#define blockIdx (vm_emu::emu().block.bidx)
#define blockDim (vm_emu::emu().block.bdim)
#define gridDim (vm_emu::emu().block.gdim)

inline void __syncthreads() {
    vm_emu::wait(vm_emu::BLOCK_WAIT);
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    if (mask != 0xffffffffu) {
        vm_emu::fatal("only full-warp shuffles are emulated");
    }
    return vm_emu::shfl_xor(v, lane_mask);
}

// ---------------------------------------------------------------- runtime API

enum cudaError_t : int {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
};

enum cudaMemcpyKind : int {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

struct vm_emu_stream {};
using cudaStream_t = vm_emu_stream *;
constexpr unsigned cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
    char   name[256];
    int    major;
    int    minor;
    size_t totalGlobalMem;
    int    multiProcessorCount;
};

struct cudaFuncAttributes {
    int maxThreadsPerBlock;
};

inline const char * cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    }
    return "unknown error";
}

inline cudaError_t cudaGetDeviceCount(int * n) {
    *n = 1;
    return cudaSuccess;
}

inline cudaError_t cudaSetDevice(int d) {
    return d == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

inline cudaError_t cudaGetLastError() {
    const int e = vm_emu::emu().last_error;
    vm_emu::emu().last_error = 0;
    return (cudaError_t) e;
}

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp * p, int) {
    std::memset(p, 0, sizeof(*p));
    std::snprintf(p->name, sizeof(p->name), "verimesh CUDA emulation");
    p->major = 9;
    p->totalGlobalMem = (size_t) 1 << 34;
    p->multiProcessorCount = 1;
    return cudaSuccess;
}

template <class F>
inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes * a, F) {
    a->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}

inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t * s, unsigned) {
    *s = new vm_emu_stream();
    return cudaSuccess;
}

inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete s;
    return cudaSuccess;
}

// Launches run synchronously: a stream is always idle.
inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
    return (cudaError_t) vm_emu::emu().last_error;
}

inline cudaError_t cudaDeviceSynchronize() {
    return (cudaError_t) vm_emu::emu().last_error;
}

inline cudaError_t cudaMalloc(void ** p, size_t n) {
    static uint64_t seed = 0x2545f4914f6cdd1dull;
    *p = std::malloc(n);
    if (*p == nullptr) {
        return cudaErrorMemoryAllocation;
    }
    vm_emu::fill_garbage(*p, n, vm_emu::garbage(seed));
    return cudaSuccess;
}

inline cudaError_t cudaFree(void * p) {
    std::free(p);
    return cudaSuccess;
}

inline cudaError_t cudaMemcpy(void * d, const void * s, size_t n, cudaMemcpyKind) {
    if (n != 0) {
        std::memcpy(d, s, n);
    }
    return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void * d, const void * s, size_t n, cudaMemcpyKind k, cudaStream_t) {
    return cudaMemcpy(d, s, n, k);
}

inline cudaError_t cudaMemcpy2D(void * d, size_t dpitch, const void * s, size_t spitch, size_t width, size_t height,
                                cudaMemcpyKind) {
    if (width > dpitch || width > spitch) {
        return cudaErrorInvalidValue;
    }
    for (size_t r = 0; r < height; ++r) {
        std::memcpy(static_cast<char *>(d) + r * dpitch, static_cast<const char *>(s) + r * spitch, width);
    }
    return cudaSuccess;
}

inline cudaError_t cudaMemset(void * p, int v, size_t n) {
    std::memset(p, v, n);
    return cudaSuccess;
}

inline cudaError_t cudaMemsetAsync(void * p, int v, size_t n, cudaStream_t) {
    return cudaMemset(p, v, n);
}
