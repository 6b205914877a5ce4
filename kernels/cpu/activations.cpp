// SwiGLU and softmax, split over elements / rows when large enough to pay for a dispatch.
#include "kernels/cpu/activations.h"

#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>

namespace nw::cpu {
namespace {

// Below this many elements one thread is faster than waking the others.
constexpr std::size_t kParallelElements = 1 << 15;

void swigluRange(const float *gate, const float *up, float *y, std::size_t begin, std::size_t end)
{
    for (std::size_t i = begin; i < end; ++i) {
        const float g = gate[i];
        y[i] = g / (1.f + std::exp(-g)) * up[i];
    }
}

void softmaxRow(float *x, int cols)
{
    const float maxValue = *std::max_element(x, x + cols);
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) {
        x[c] = std::exp(x[c] - maxValue);
        sum += x[c];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (int c = 0; c < cols; ++c)
        x[c] *= inv;
}

} // namespace

void swiglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n)
{
    if (n < kParallelElements) {
        swigluRange(gate, up, y, 0, n);
        return;
    }
    pool.parallelFor(static_cast<std::int64_t>(n), 64, [&](std::int64_t b, std::int64_t e) {
        swigluRange(gate, up, y, static_cast<std::size_t>(b), static_cast<std::size_t>(e));
    });
}

void softmax(ThreadPool &pool, float *x, int rows, int cols)
{
    if (rows <= 0 || cols <= 0)
        return;
    const auto range = [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r)
            softmaxRow(x + r * cols, cols);
    };
    if (static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) < kParallelElements)
        range(0, rows);
    else
        pool.parallelFor(rows, 1, range);
}

} // namespace nw::cpu
