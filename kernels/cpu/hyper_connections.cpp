// Hyper-connections as llama.cpp's deepseek4 graph computes them (build_hc_pre, build_hc_post,
// build_hc_sinkhorn), one token at a time for the weights (a few dozen numbers each) and split
// over tokens for the stream reads and writes.
#include "kernels/cpu/hyper_connections.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nw::cpu {
namespace {

float sigmoid(float x)
{
    return 1.f / (1.f + std::exp(-x));
}

// comb [src][dst] of one token: softmax over dst, + eps, then column (over src) and row (over
// dst) normalisations, each sum + eps in the denominator.
void sinkhorn(float *c, int n, float eps, int iters)
{
    for (int s = 0; s < n; ++s) {
        float *row = c + s * n;
        const float peak = *std::max_element(row, row + n);
        float sum = 0.f;
        for (int d = 0; d < n; ++d)
            sum += row[d] = std::exp(row[d] - peak);
        for (int d = 0; d < n; ++d)
            row[d] = row[d] / sum + eps;
    }
    const auto normCols = [&] {
        for (int d = 0; d < n; ++d) {
            float sum = 0.f;
            for (int s = 0; s < n; ++s)
                sum += c[s * n + d];
            sum += eps;
            for (int s = 0; s < n; ++s)
                c[s * n + d] /= sum;
        }
    };
    const auto normRows = [&] {
        for (int s = 0; s < n; ++s) {
            float sum = eps;
            for (int d = 0; d < n; ++d)
                sum += c[s * n + d];
            for (int d = 0; d < n; ++d)
                c[s * n + d] /= sum;
        }
    };
    normCols();
    for (int i = 1; i < iters; ++i) {
        normRows();
        normCols();
    }
}

} // namespace

void hyperMix(ThreadPool &pool, const HyperMixArgs &a)
{
    const int hc = a.nStreams;
    if (hc <= 0 || a.nTokens < 0)
        fail("hyperMix: {} streams for {} tokens", hc, a.nTokens);
    const bool full = a.post != nullptr;
    if (full != (a.comb != nullptr))
        fail("hyperMix: post and comb go together");
    const int width = full ? (2 + hc) * hc : hc;
    if (a.mixStride < width)
        fail("hyperMix: mix rows of {} hold fewer than {} logits", a.mixStride, width);
    if (full && a.sinkhornIters < 1)
        fail("hyperMix: {} Sinkhorn iterations", a.sinkhornIters);
    NW_ASSERT(a.mixes && a.scale && a.base && a.pre);
    pool.parallelFor(a.nTokens, 16, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            const float *m = a.mixes + std::size_t(t) * std::size_t(a.mixStride);
            float *pre = a.pre + std::size_t(t) * hc;
            for (int i = 0; i < hc; ++i)
                pre[i] = sigmoid(m[i] * a.scale[0] + a.base[i]) + a.eps;
            if (!full)
                continue;
            float *post = a.post + std::size_t(t) * hc;
            for (int i = 0; i < hc; ++i)
                post[i] = 2.f * sigmoid(m[hc + i] * a.scale[1] + a.base[hc + i]);
            float *comb = a.comb + std::size_t(t) * hc * hc;
            for (int i = 0; i < hc * hc; ++i) // logit i is (dst = i % hc, src = i / hc)
                comb[i] = m[2 * hc + i] * a.scale[2] + a.base[2 * hc + i];
            sinkhorn(comb, hc, a.eps, a.sinkhornIters);
        }
    });
}

void hyperCollapse(ThreadPool &pool, const float *x, const float *weights, int nTokens, int nStreams, int dim, float *y)
{
    if (nStreams <= 0 || dim <= 0)
        fail("hyperCollapse: {} streams of {}", nStreams, dim);
    pool.parallelFor(nTokens, 4, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            const float *w = weights + std::size_t(t) * nStreams;
            float *out = y + std::size_t(t) * dim;
            for (int s = 0; s < nStreams; ++s) {
                const float *in = x + (std::size_t(t) * nStreams + s) * dim;
                for (int i = 0; i < dim; ++i)
                    out[i] = s == 0 ? in[i] * w[0] : out[i] + in[i] * w[s];
            }
        }
    });
}

void hyperExpand(ThreadPool &pool, const float *y, const float *x, const float *post, const float *comb, int nTokens,
    int nStreams, int dim, float *out)
{
    if (nStreams <= 0 || dim <= 0)
        fail("hyperExpand: {} streams of {}", nStreams, dim);
    NW_ASSERT(out != x);
    pool.parallelFor(nTokens, 4, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            const float *in = y + std::size_t(t) * dim;
            const float *c = comb + std::size_t(t) * nStreams * nStreams;
            for (int d = 0; d < nStreams; ++d) {
                float *o = out + (std::size_t(t) * nStreams + d) * dim;
                const float p = post[std::size_t(t) * nStreams + d];
                for (int i = 0; i < dim; ++i)
                    o[i] = in[i] * p;
                for (int s = 0; s < nStreams; ++s) {
                    const float w = c[s * nStreams + d];
                    const float *xs = x + (std::size_t(t) * nStreams + s) * dim;
                    for (int i = 0; i < dim; ++i)
                        o[i] += xs[i] * w;
                }
            }
        }
    });
}

} // namespace nw::cpu
