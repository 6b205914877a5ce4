// LayerNorm (Ba et al. 2016): y = (x - mean) / sqrt(var + eps) · weight + bias, one row per token
// (DeepSeek V3.2's indexer key norm).
#pragma once

namespace nw::cpu {

class ThreadPool;

// x, y: [nTokens, dim] (may alias); weight, bias: [dim] or null.
void layerNorm(ThreadPool &pool, const float *x, const float *weight, const float *bias, float *y, int nTokens, int dim,
    float eps);

} // namespace nw::cpu
