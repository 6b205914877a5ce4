// RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * weight, one row per token.
#pragma once

namespace nw::cpu {

class ThreadPool;

// x, y: [nTokens, dim] (may alias); weight: [dim] or null.
void rmsNorm(ThreadPool &pool, const float *x, const float *weight, float *y, int nTokens, int dim, float eps);

} // namespace nw::cpu
