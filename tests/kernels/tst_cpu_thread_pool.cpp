// The CPU thread pool: every index is covered exactly once, ranges respect the grain, and many
// back-to-back dispatches (as in a decode step) neither lose nor repeat work nor stall.
#include "kernels/cpu/thread_pool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

TEST_CASE("parallelFor covers [0, n) exactly once in grain-aligned ranges")
{
    for (int threads : {1, 2, 3, 5}) {
        nw::cpu::ThreadPool pool(threads);
        CHECK(pool.size() == threads);
        for (std::int64_t n : {1, 2, 7, 64, 1000, 1003}) {
            for (std::int64_t grain : {1, 4, 16}) {
                CAPTURE(threads);
                CAPTURE(n);
                CAPTURE(grain);
                std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
                std::atomic<int> badRanges{0};
                pool.parallelFor(n, grain, [&](std::int64_t begin, std::int64_t end) {
                    if (begin % grain != 0 || begin >= end || end > n)
                        ++badRanges;
                    for (std::int64_t i = begin; i < end; ++i)
                        ++hits[static_cast<std::size_t>(i)];
                });
                CHECK(badRanges == 0);
                int wrong = 0;
                for (auto &h : hits)
                    wrong += h.load() != 1;
                CHECK(wrong == 0);
            }
        }
    }
}

TEST_CASE("forEachTask runs every task once per dispatch, many dispatches in a row")
{
    // More threads than this machine may have cores: claimed tasks must not wait for a thread
    // that the OS has not scheduled yet.
    for (int threads : {2, 3}) {
        nw::cpu::ThreadPool pool(threads);
        constexpr int kTasks = 7;
        std::vector<std::atomic<int>> perTask(kTasks);
        std::atomic<int> outOfRange{0};
        constexpr int kDispatches = 20000;
        for (int d = 0; d < kDispatches; ++d)
            pool.forEachTask(kTasks, [&](std::int64_t task) {
                if (task < 0 || task >= kTasks)
                    ++outOfRange;
                else
                    ++perTask[static_cast<std::size_t>(task)];
            });
        CHECK(outOfRange == 0);
        for (auto &n : perTask)
            CHECK(n.load() == kDispatches);
    }
}

TEST_CASE("work written by workers is visible to the caller after run returns")
{
    nw::cpu::ThreadPool pool(2);
    std::vector<int> data(4096, 0);
    for (int round = 1; round <= 200; ++round) {
        pool.parallelFor(static_cast<std::int64_t>(data.size()), 8, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i)
                data[static_cast<std::size_t>(i)] += 1; // plain writes: the pool must publish them
        });
        int wrong = 0;
        for (int v : data)
            wrong += v != round;
        REQUIRE(wrong == 0);
    }
}
