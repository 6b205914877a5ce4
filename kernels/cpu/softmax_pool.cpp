// The gated pooling of llama.cpp's build_overlap_compressed_kv_from_state (CSA, with the
// previous block's half) and build_hca_compressed_kv_from_state (HCA): softmax over the block's
// rows, per dimension, of the scores; the kv rows weighted by it.
#include "kernels/cpu/softmax_pool.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nw::cpu {

void softmaxPool(ThreadPool &pool, const SoftmaxPoolArgs &a)
{
    if (a.nBlocks < 0 || a.ratio <= 0 || a.dim <= 0)
        fail("softmaxPool: {} blocks of {} rows of {}", a.nBlocks, a.ratio, a.dim);
    NW_ASSERT(a.rows && a.cur && a.out);
    const bool overlap = a.prev != nullptr;
    const int d = a.dim, coff = overlap ? 2 : 1;
    const std::size_t rowWidth = std::size_t(2 * coff * d); // kv [coff·d] then score [coff·d]
    pool.parallelFor(a.nBlocks, 1, [&](std::int64_t b0, std::int64_t b1) {
        std::vector<float> peak(static_cast<std::size_t>(d)), sum(static_cast<std::size_t>(d));
        for (std::int64_t b = b0; b < b1; ++b) {
            float *out = a.out + std::size_t(b) * d;
            // The block's rows: with overlap the previous block's (first halves), then its own
            // (second halves).
            const auto visit = [&](auto &&fn) {
                for (int half = overlap ? 0 : 1; half < 2; ++half) {
                    const std::int32_t *ids = (half == 0 ? a.prev : a.cur) + std::size_t(b) * a.ratio;
                    const int column = overlap ? half * d : 0;
                    for (int j = 0; j < a.ratio; ++j)
                        if (ids[j] >= 0) {
                            const float *row = a.rows + std::size_t(ids[j]) * rowWidth;
                            fn(row + column, row + coff * d + column);
                        }
                }
            };
            std::fill(peak.begin(), peak.end(), -std::numeric_limits<float>::infinity());
            visit([&](const float *, const float *score) {
                for (int i = 0; i < d; ++i)
                    peak[std::size_t(i)] = std::max(peak[std::size_t(i)], score[i]);
            });
            std::fill(sum.begin(), sum.end(), 0.f);
            std::fill_n(out, d, 0.f);
            visit([&](const float *kv, const float *score) {
                for (int i = 0; i < d; ++i) {
                    const float e = std::exp(score[i] - peak[std::size_t(i)]);
                    sum[std::size_t(i)] += e;
                    out[i] += e * kv[i];
                }
            });
            for (int i = 0; i < d; ++i)
                out[i] /= sum[std::size_t(i)];
        }
    });
}

} // namespace nw::cpu
