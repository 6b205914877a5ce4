// Short causal convolution: channels in ranges per thread, each range convolved, activated and its
// state moved on; taps summed in ggml_ssm_conv's order (oldest row first) so the rounding matches.
#include "kernels/cpu/short_conv.h"

#include "common/assert.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nw::cpu {

void shortConv(ThreadPool &pool, const ShortConvArgs &a)
{
    NW_ASSERT(a.x && a.state && a.weight && a.y && a.x != a.y);
    NW_ASSERT(a.nTokens >= 0 && a.channels > 0 && a.kernel >= 1);
    if (a.nTokens == 0)
        return;
    const int n = a.nTokens, K = a.kernel, held = K - 1;
    const std::size_t ch = std::size_t(a.channels);
    // Row r of [state; x]: the carried rows first, then the batch.
    const auto input
        = [&](int r) { return r < held ? a.state + std::size_t(r) * ch : a.x + std::size_t(r - held) * ch; };
    pool.parallelFor(a.channels, 64, [&](std::int64_t c0, std::int64_t c1) {
        const std::size_t w = std::size_t(c1 - c0);
        // The taps of the range as rows [K, w], so the inner loop runs along channels.
        thread_local std::vector<float> taps, sums;
        taps.resize(std::size_t(K) * w);
        sums.resize(w);
        for (std::size_t c = 0; c < w; ++c)
            for (int i = 0; i < K; ++i)
                taps[std::size_t(i) * w + c] = a.weight[(std::size_t(c0) + c) * std::size_t(K) + std::size_t(i)];
        for (int t = 0; t < n; ++t) {
            std::fill(sums.begin(), sums.end(), 0.f);
            for (int i = 0; i < K; ++i) {
                const float *row = input(t + i) + c0;
                const float *tap = taps.data() + std::size_t(i) * w;
                for (std::size_t c = 0; c < w; ++c)
                    sums[c] += row[c] * tap[c];
            }
            float *y = a.y + std::size_t(t) * ch + std::size_t(c0);
            if (a.silu)
                for (std::size_t c = 0; c < w; ++c)
                    y[c] = sums[c] / (1.f + std::exp(-sums[c]));
            else
                std::copy(sums.begin(), sums.end(), y);
        }
        // The state becomes the last `held` rows of [state; x] (ascending: each row reads a later one).
        for (int r = 0; r < held; ++r)
            std::copy_n(input(n + r) + c0, w, a.state + std::size_t(r) * ch + std::size_t(c0));
    });
}

} // namespace nw::cpu
