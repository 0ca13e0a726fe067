#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VM_PAUSE() _mm_pause()
#else
#define VM_PAUSE() ((void) 0)
#endif

namespace vm_engine {

namespace {
// How long a helper spins on the next region before sleeping. Consecutive GEMMs of
// one forward pass are separated by a few microseconds of scalar work, so a short
// spin saves a futex wake per GEMM; kept short because on a 2-core host a spinning
// helper steals the core the event loop or the other engine thread needs.
constexpr auto SPIN = std::chrono::microseconds(50);
} // namespace

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
        generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto & t : threads_) {
        t.join();
    }
}

void ThreadPool::grow(int helpers) {
    while ((int) threads_.size() < helpers) {
        const int index = (int) threads_.size();
        // Start from the generation before the region being set up (grow runs
        // under mu_ ahead of the bump), so a new helper joins that region.
        const uint64_t g = generation_.load(std::memory_order_relaxed);
        threads_.emplace_back([this, index, g] { worker(index, g); });
    }
}

void ThreadPool::worker(int index, uint64_t seen) {
    for (;;) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        if (g == seen) {
            const auto until = std::chrono::steady_clock::now() + SPIN;
            int spins = 0;
            while ((g = generation_.load(std::memory_order_acquire)) == seen) {
                VM_PAUSE();
                if (++spins == 64) {
                    spins = 0;
                    if (std::chrono::steady_clock::now() > until) {
                        break;
                    }
                }
            }
            if (g == seen) {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                g = generation_.load(std::memory_order_acquire);
            }
        }
        const std::function<void(int, int)> * job;
        int n;
        bool stop;
        {
            // Job and generation are published together under mu_: read both here
            // so that a helper waking late runs the current region exactly once.
            std::lock_guard<std::mutex> lk(mu_);
            seen = generation_.load(std::memory_order_acquire);
            job = job_;
            n = job_threads_;
            stop = stop_;
        }
        if (stop) {
            return;
        }
        const int tid = index + 1;
        if (job != nullptr && tid < n) {
            (*job)(tid, n);
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }
}

void ThreadPool::run(int nthreads, const std::function<void(int, int)> & fn) {
    if (nthreads <= 1) {
        fn(0, 1);
        return;
    }
    std::lock_guard<std::mutex> region(region_);
    {
        std::lock_guard<std::mutex> lk(mu_);
        grow(nthreads - 1);
        job_ = &fn;
        job_threads_ = nthreads;
        pending_.store(nthreads - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    fn(0, nthreads);
    int spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
        VM_PAUSE();
        if (++spins > 256) {
            std::this_thread::yield();
        }
    }
    std::lock_guard<std::mutex> lk(mu_);
    job_ = nullptr;
}

ThreadPool & cpu_pool() {
    // Deliberately leaked: at process exit a libuv worker may still be inside a
    // region, and joining or destroying the pool under it would be worse than
    // letting the OS reap the helpers.
    static ThreadPool * pool = new ThreadPool();
    return *pool;
}

int default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : (int) n;
}

} // namespace vm_engine
