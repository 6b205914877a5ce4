// SwiGLU and GeGLU, split over elements when large enough to pay for a dispatch.
#include "kernels/cpu/activations.h"

#include "common/assert.h"
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

// ggml's CPU geglu reads gelu from an f16 table of the f16-rounded input; this is the formula
// itself, so the two differ by f16 rounding (about 1e-3 relative).
void gegluRange(const float *gate, const float *up, float *y, std::size_t begin, std::size_t end)
{
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    for (std::size_t i = begin; i < end; ++i) {
        const float x = gate[i];
        y[i] = 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * x * (1.f + 0.044715f * x * x))) * up[i];
    }
}

void swigluOaiRange(
    const float *gate, const float *up, float *y, float alpha, float limit, std::size_t begin, std::size_t end)
{
    for (std::size_t i = begin; i < end; ++i) {
        const float g = std::min(gate[i], limit);
        const float u = std::clamp(up[i], -limit, limit);
        y[i] = g / (1.f + std::exp(-alpha * g)) * (u + 1.f);
    }
}

void swigluLimitedRange(const float *gate, const float *up, float *y, float limit, std::size_t begin, std::size_t end)
{
    for (std::size_t i = begin; i < end; ++i) {
        const float g = std::min(gate[i], limit);
        y[i] = g / (1.f + std::exp(-g)) * std::clamp(up[i], -limit, limit);
    }
}

void sigmoidMulRows(float *y, const float *gate, int cols, int gateCols, std::int64_t r0, std::int64_t r1)
{
    for (std::int64_t r = r0; r < r1; ++r) {
        float *row = y + std::size_t(r) * std::size_t(cols);
        const float *g = gate + std::size_t(r) * std::size_t(gateCols);
        if (gateCols == 1) {
            const float s = 1.f / (1.f + std::exp(-g[0]));
            for (int c = 0; c < cols; ++c)
                row[c] *= s;
        } else {
            for (int c = 0; c < cols; ++c)
                row[c] *= 1.f / (1.f + std::exp(-g[c]));
        }
    }
}

} // namespace

void sigmoidMul(ThreadPool &pool, float *y, const float *gate, int rows, int cols, int gateCols)
{
    NW_ASSERT(gateCols == 1 || gateCols == cols);
    if (std::size_t(rows) * std::size_t(cols) < kParallelElements) {
        sigmoidMulRows(y, gate, cols, gateCols, 0, rows);
        return;
    }
    pool.parallelFor(
        rows, 1, [&](std::int64_t r0, std::int64_t r1) { sigmoidMulRows(y, gate, cols, gateCols, r0, r1); });
}

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

void geglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n)
{
    if (n < kParallelElements) {
        gegluRange(gate, up, y, 0, n);
        return;
    }
    pool.parallelFor(static_cast<std::int64_t>(n), 64, [&](std::int64_t b, std::int64_t e) {
        gegluRange(gate, up, y, static_cast<std::size_t>(b), static_cast<std::size_t>(e));
    });
}

void swigluOai(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit)
{
    if (n < kParallelElements) {
        swigluOaiRange(gate, up, y, alpha, limit, 0, n);
        return;
    }
    pool.parallelFor(static_cast<std::int64_t>(n), 64, [&](std::int64_t b, std::int64_t e) {
        swigluOaiRange(gate, up, y, alpha, limit, static_cast<std::size_t>(b), static_cast<std::size_t>(e));
    });
}

void swigluLimited(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n, float limit)
{
    if (n < kParallelElements) {
        swigluLimitedRange(gate, up, y, limit, 0, n);
        return;
    }
    pool.parallelFor(static_cast<std::int64_t>(n), 64, [&](std::int64_t b, std::int64_t e) {
        swigluLimitedRange(gate, up, y, limit, static_cast<std::size_t>(b), static_cast<std::size_t>(e));
    });
}

} // namespace nw::cpu
