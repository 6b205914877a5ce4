// A fixed set of worker threads that is cheap to dispatch many times per token: workers spin
// briefly on a generation counter before sleeping (C++20 atomic wait), so back-to-back ops in a
// decode step wake them without a syscall. The calling thread takes part as thread 0.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace nw::cpu {

class ThreadPool {
public:
    // nThreads counts the caller; nThreads - 1 workers are started.
    explicit ThreadPool(int nThreads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int size() const { return m_nThreads; }

    // Runs fn(threadIndex, nThreads) on every thread and returns when all have finished. The
    // function must not throw (kernels validate before dispatching). Not reentrant.
    template <typename F>
    void run(F &&fn)
    {
        runJob(&invoke<std::remove_reference_t<F>>, &fn);
    }

    // Splits [0, n) into contiguous ranges, one per thread, each a multiple of `grain` (except
    // the last); fn(begin, end) runs once per non-empty range.
    template <typename F>
    void parallelFor(std::int64_t n, std::int64_t grain, F &&fn)
    {
        if (n <= 0)
            return;
        const std::int64_t chunks = (n + grain - 1) / grain;
        if (m_nThreads == 1 || chunks == 1) {
            fn(std::int64_t{0}, n);
            return;
        }
        run([&](int index, int count) {
            const std::int64_t c0 = chunks * index / count;
            const std::int64_t c1 = chunks * (index + 1) / count;
            const std::int64_t begin = c0 * grain;
            const std::int64_t end = std::min(n, c1 * grain);
            if (begin < end)
                fn(begin, end);
        });
    }

private:
    using JobFn = void (*)(void *, int, int);
    template <typename F>
    static void invoke(void *fn, int index, int count)
    {
        (*static_cast<F *>(fn))(index, count);
    }
    void runJob(JobFn fn, void *arg);
    void workerLoop(int index);

    int m_nThreads;
    std::vector<std::thread> m_workers;
    JobFn m_jobFn = nullptr;
    void *m_jobArg = nullptr;
    std::atomic<std::uint32_t> m_generation{0}; // bumped once per job; workers wait on it
    std::atomic<int> m_pending{0};              // workers still running the current job
    std::atomic<bool> m_stop{false};
};

} // namespace nw::cpu
