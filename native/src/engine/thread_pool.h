#pragma once

// A small persistent fork-join pool for the CPU engine.
//
// One pool per process (vm_engine::cpu_pool()), not one per shard: cores are a
// process-wide resource, and two shards (or a shard and a benchmark) each owning
// a pool sized to the machine would oversubscribe it, which with spinning workers
// is far worse than taking turns. Parallel regions are therefore serialised: a
// caller that finds the pool busy waits for the region in flight to finish. Each
// caller chooses how many threads its region uses (its shard's `threads` option).
//
// The calling thread always takes part as thread 0, so a region of 1 thread
// never touches the pool at all.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vm_engine {

class ThreadPool {
public:
    ThreadPool() = default;
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool & operator=(const ThreadPool &) = delete;

    // Runs fn(tid, nthreads) for tid in [0, nthreads), the caller being tid 0,
    // and returns when all have finished. Grows the pool to nthreads - 1 helper
    // threads the first time it is asked for that many. Exceptions must not
    // escape fn (the engine's kernels do not throw).
    void run(int nthreads, const std::function<void(int, int)> & fn);

private:
    void worker(int index, uint64_t seen);
    void grow(int helpers);

    std::mutex                region_;      // one parallel region at a time
    std::mutex                mu_;          // guards the fields below with cv_
    std::condition_variable   cv_;
    std::vector<std::thread>  threads_;
    const std::function<void(int, int)> * job_ = nullptr;
    int                       job_threads_ = 0;
    std::atomic<uint64_t>     generation_{0};
    std::atomic<int>          pending_{0};
    bool                      stop_ = false;
};

// The process-wide pool (created on first use, threads joined at exit).
ThreadPool & cpu_pool();

// Default thread count: the hardware concurrency (at least 1).
int default_threads();

} // namespace vm_engine
