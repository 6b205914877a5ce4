// A fixed set of worker threads that is cheap to dispatch many times per token: workers spin
// briefly on a generation counter before sleeping (C++20 atomic wait), so back-to-back ops in a
// decode step wake them without a syscall. Work is handed out as tasks claimed from one atomic
// word, and the calling thread claims tasks too: when a worker is descheduled (a busy or
// oversubscribed machine) the others take its share instead of waiting for it to wake.
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

    // Runs fn(task) for every task in [0, nTasks) across the threads and returns when all have
    // finished. fn must not throw (kernels validate before dispatching). Not reentrant.
    template <typename F>
    void forEachTask(std::int64_t nTasks, F &&fn)
    {
        if (nTasks <= 0)
            return;
        if (m_nThreads == 1 || nTasks == 1) {
            for (std::int64_t t = 0; t < nTasks; ++t)
                fn(t);
            return;
        }
        runJob(&invoke<std::remove_reference_t<F>>, &fn, nTasks);
    }

    // Splits [0, n) into contiguous ranges of whole grains (the last may be shorter), a few per
    // thread for balance; fn(begin, end) runs once per range.
    template <typename F>
    void parallelFor(std::int64_t n, std::int64_t grain, F &&fn)
    {
        if (n <= 0)
            return;
        grain = std::max<std::int64_t>(1, grain);
        const std::int64_t grains = (n + grain - 1) / grain;
        const std::int64_t ranges = std::min<std::int64_t>(grains, std::int64_t(m_nThreads) * kRangesPerThread);
        if (m_nThreads == 1 || ranges == 1) {
            fn(std::int64_t{0}, n);
            return;
        }
        forEachTask(ranges, [&](std::int64_t r) {
            const std::int64_t begin = grains * r / ranges * grain;
            const std::int64_t end = std::min(n, grains * (r + 1) / ranges * grain);
            if (begin < end)
                fn(begin, end);
        });
    }

    static constexpr int kRangesPerThread = 4;
    static constexpr std::int64_t kMaxTasks = (1 << 20) - 1;

private:
    using JobFn = void (*)(void *, std::int64_t);
    template <typename F>
    static void invoke(void *fn, std::int64_t task)
    {
        (*static_cast<F *>(fn))(task);
    }
    void runJob(JobFn fn, void *arg, std::int64_t nTasks);
    // Claims and runs tasks of the job published as `claim`'s generation until none are left.
    void drain();
    void workerLoop();

    int m_nThreads;
    std::vector<std::thread> m_workers;
    // The current job. Only read after claiming one of its tasks (which proves it is current).
    std::atomic<JobFn> m_jobFn{nullptr};
    std::atomic<void *> m_jobArg{nullptr};
    // generation (24 bits) | task count (20 bits) | next task (20 bits): claiming a task is one
    // compare-exchange that also checks the job is still the one the claimer saw.
    std::atomic<std::uint64_t> m_claim{0};
    std::atomic<std::int64_t> m_done{0};        // tasks finished in the current job
    std::atomic<std::uint32_t> m_generation{0}; // what sleeping workers wait on
    std::atomic<bool> m_stop{false};
};

} // namespace nw::cpu
