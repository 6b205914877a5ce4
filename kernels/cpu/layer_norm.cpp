// LayerNorm in f32 with the mean and variance summed in double, as ggml_norm does in its
// float accumulator order-insensitively enough for the tests' tolerances.
#include "kernels/cpu/layer_norm.h"

#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <cmath>

namespace nw::cpu {

void layerNorm(
    ThreadPool &pool, const float *x, const float *weight, const float *bias, float *y, int nTokens, int dim, float eps)
{
    if (dim <= 0 || nTokens < 0)
        fail("layerNorm: {} rows of {}", nTokens, dim);
    pool.parallelFor(nTokens, 4, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            const float *in = x + std::size_t(t) * dim;
            float *out = y + std::size_t(t) * dim;
            double mean = 0.0;
            for (int i = 0; i < dim; ++i)
                mean += in[i];
            mean /= dim;
            double var = 0.0;
            for (int i = 0; i < dim; ++i)
                var += (in[i] - mean) * (in[i] - mean);
            var /= dim;
            const double inv = 1.0 / std::sqrt(var + eps);
            for (int i = 0; i < dim; ++i) {
                float v = float((in[i] - mean) * inv);
                if (weight)
                    v *= weight[i];
                if (bias)
                    v += bias[i];
                out[i] = v;
            }
        }
    });
}

} // namespace nw::cpu
