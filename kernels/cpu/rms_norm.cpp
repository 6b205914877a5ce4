// RMSNorm rows, split over tokens.
#include "kernels/cpu/rms_norm.h"

#include "kernels/cpu/thread_pool.h"

#include <cmath>

namespace nw::cpu {
namespace {

void normRow(const float *x, const float *weight, float *y, int dim, float eps)
{
    // Eight partial sums: vectorisable without -ffast-math and a little more accurate.
    float partial[8] = {};
    int i = 0;
    for (; i + 8 <= dim; i += 8)
        for (int k = 0; k < 8; ++k)
            partial[k] += x[i + k] * x[i + k];
    double sum = 0.0;
    for (float p : partial)
        sum += p;
    for (; i < dim; ++i)
        sum += double(x[i]) * x[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum / dim + double(eps)));
    if (weight)
        for (int c = 0; c < dim; ++c)
            y[c] = x[c] * inv * weight[c];
    else
        for (int c = 0; c < dim; ++c)
            y[c] = x[c] * inv;
}

} // namespace

void rmsNorm(ThreadPool &pool, const float *x, const float *weight, float *y, int nTokens, int dim, float eps)
{
    if (nTokens <= 0 || dim <= 0)
        return;
    const std::int64_t stride = dim;
    if (nTokens == 1) {
        normRow(x, weight, y, dim, eps);
        return;
    }
    pool.parallelFor(nTokens, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t)
            normRow(x + t * stride, weight, y + t * stride, dim, eps);
    });
}

} // namespace nw::cpu
