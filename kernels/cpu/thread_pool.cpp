// Spin-then-sleep worker pool with claimed tasks: see thread_pool.h.
#include "kernels/cpu/thread_pool.h"

#include "common/assert.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace nw::cpu {
namespace {

// Long enough to bridge the gap between two ops of one decode step (tens of microseconds),
// short enough not to burn a shared core while the engine is idle.
constexpr int kSpinIterations = 1 << 12;

constexpr std::uint64_t kFieldMask = (1u << 20) - 1;

inline void cpuRelax()
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

constexpr std::uint64_t packClaim(std::uint64_t generation, std::uint64_t nTasks, std::uint64_t next)
{
    return (generation << 40) | (nTasks << 20) | next;
}

} // namespace

ThreadPool::ThreadPool(int nThreads) : m_nThreads(std::max(1, nThreads))
{
    m_workers.reserve(static_cast<std::size_t>(m_nThreads - 1));
    for (int i = 1; i < m_nThreads; ++i)
        m_workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool()
{
    m_stop.store(true, std::memory_order_relaxed);
    m_generation.fetch_add(1, std::memory_order_release);
    m_generation.notify_all();
    for (auto &worker : m_workers)
        worker.join();
}

void ThreadPool::drain()
{
    std::uint64_t claim = m_claim.load(std::memory_order_acquire);
    for (;;) {
        const std::uint64_t nTasks = (claim >> 20) & kFieldMask;
        const std::uint64_t next = claim & kFieldMask;
        if (next >= nTasks)
            return;
        // Success proves the job is still current and unfinished, so its fn/arg are live.
        if (!m_claim.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
            continue;
        const JobFn fn = m_jobFn.load(std::memory_order_relaxed);
        fn(m_jobArg.load(std::memory_order_relaxed), static_cast<std::int64_t>(next));
        m_done.fetch_add(1, std::memory_order_release);
        claim = m_claim.load(std::memory_order_acquire);
    }
}

void ThreadPool::runJob(JobFn fn, void *arg, std::int64_t nTasks)
{
    NW_ASSERT(nTasks > 0 && nTasks <= kMaxTasks);
    const std::uint32_t generation = m_generation.load(std::memory_order_relaxed) + 1;
    m_jobFn.store(fn, std::memory_order_relaxed);
    m_jobArg.store(arg, std::memory_order_relaxed);
    m_done.store(0, std::memory_order_relaxed);
    m_claim.store(packClaim(generation & 0xffffff, static_cast<std::uint64_t>(nTasks), 0), std::memory_order_release);
    m_generation.store(generation, std::memory_order_release);
    m_generation.notify_all();
    drain();
    for (int spins = 0; m_done.load(std::memory_order_acquire) != nTasks; ++spins) {
        if (spins < kSpinIterations)
            cpuRelax();
        else
            std::this_thread::yield(); // a worker holding a task was descheduled
    }
}

void ThreadPool::workerLoop()
{
    std::uint32_t seen = 0;
    for (;;) {
        std::uint32_t now = m_generation.load(std::memory_order_acquire);
        for (int spins = 0; now == seen && spins < kSpinIterations; ++spins) {
            cpuRelax();
            now = m_generation.load(std::memory_order_acquire);
        }
        while (now == seen) {
            m_generation.wait(seen, std::memory_order_acquire);
            now = m_generation.load(std::memory_order_acquire);
        }
        seen = now;
        if (m_stop.load(std::memory_order_relaxed))
            return;
        drain();
    }
}

} // namespace nw::cpu
