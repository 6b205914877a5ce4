// Row broadcasts, copies, gathers and scatters, split over rows when large enough to pay for a
// dispatch.
#include "kernels/cpu/rows.h"

#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cstring>

namespace nw::cpu {
namespace {

// Below this many floats one thread is faster than waking the others.
constexpr std::size_t kParallelElements = 1 << 15;

template <typename F>
void forRows(ThreadPool &pool, int rows, std::size_t rowElements, F &&f)
{
    if (rows <= 0)
        return;
    if (std::size_t(rows) * rowElements < kParallelElements) {
        f(0, rows);
        return;
    }
    pool.parallelFor(rows, 1, [&](std::int64_t r0, std::int64_t r1) { f(r0, r1); });
}

} // namespace

void addRow(ThreadPool &pool, float *y, const float *row, int nTokens, int dim)
{
    forRows(pool, nTokens, std::size_t(dim), [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            float *out = y + t * dim;
            for (int c = 0; c < dim; ++c)
                out[c] += row[c];
        }
    });
}

void scale(ThreadPool &pool, float *x, float s, std::size_t n)
{
    constexpr std::size_t kRow = 4096;
    const int rows = int((n + kRow - 1) / kRow);
    forRows(pool, rows, kRow, [&](std::int64_t r0, std::int64_t r1) {
        const std::size_t end = std::min(n, std::size_t(r1) * kRow);
        for (std::size_t i = std::size_t(r0) * kRow; i < end; ++i)
            x[i] *= s;
    });
}

void copyRows(ThreadPool &pool, float *dst, std::size_t dstStride, const float *src, std::size_t srcStride,
              int rows, int cols)
{
    forRows(pool, rows, std::size_t(cols), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r)
            std::memmove(dst + std::size_t(r) * dstStride, src + std::size_t(r) * srcStride,
                         std::size_t(cols) * sizeof(float));
    });
}

void gatherRows(ThreadPool &pool, const float *src, const std::int32_t *rows, int n, int dim, float *dst)
{
    forRows(pool, n, std::size_t(dim), [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i)
            std::memcpy(dst + std::size_t(i) * dim, src + std::size_t(rows[i]) * dim, std::size_t(dim) * sizeof(float));
    });
}

void scatterAddRows(ThreadPool &pool, float *dst, const float *src, const std::int32_t *rows, const float *weights,
                    int n, int dim)
{
    forRows(pool, n, std::size_t(dim), [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) {
            float *out = dst + std::size_t(rows[i]) * dim;
            const float *in = src + std::size_t(i) * dim;
            const float w = weights[i];
            for (int c = 0; c < dim; ++c)
                out[c] += w * in[c];
        }
    });
}

} // namespace nw::cpu
