// Spin-then-sleep worker pool: see thread_pool.h.
#include "kernels/cpu/thread_pool.h"

#include "common/assert.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace nw::cpu {
namespace {

// Long enough to bridge the gap between two ops of one decode step (tens of microseconds),
// short enough not to burn a shared core while the engine is idle.
constexpr int kSpinIterations = 1 << 14;

inline void cpuRelax()
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

} // namespace

ThreadPool::ThreadPool(int nThreads) : m_nThreads(std::max(1, nThreads))
{
    m_workers.reserve(static_cast<std::size_t>(m_nThreads - 1));
    for (int i = 1; i < m_nThreads; ++i)
        m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool()
{
    m_stop.store(true, std::memory_order_relaxed);
    m_generation.fetch_add(1, std::memory_order_release);
    m_generation.notify_all();
    for (auto &worker : m_workers)
        worker.join();
}

void ThreadPool::runJob(JobFn fn, void *arg)
{
    if (m_nThreads == 1) {
        fn(arg, 0, 1);
        return;
    }
    NW_ASSERT(m_pending.load(std::memory_order_relaxed) == 0);
    m_jobFn = fn;
    m_jobArg = arg;
    m_pending.store(m_nThreads - 1, std::memory_order_relaxed);
    m_generation.fetch_add(1, std::memory_order_release);
    m_generation.notify_all();
    fn(arg, 0, m_nThreads);
    for (int spins = 0; m_pending.load(std::memory_order_acquire) != 0; ++spins) {
        if (spins < kSpinIterations)
            cpuRelax();
        else
            std::this_thread::yield();
    }
}

void ThreadPool::workerLoop(int index)
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
        m_jobFn(m_jobArg, index, m_nThreads);
        m_pending.fetch_sub(1, std::memory_order_release);
    }
}

} // namespace nw::cpu
