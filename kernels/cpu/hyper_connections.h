// DeepSeek V4's manifold-constrained hyper-connections on the CPU: the mixing weights from their
// logits (Sinkhorn-normalised stream mixing), and the reads and writes of the residual streams.
#pragma once

#include "kernels/backend.h"

namespace nw::cpu {

class ThreadPool;

void hyperMix(ThreadPool &pool, const HyperMixArgs &a);
void hyperCollapse(
    ThreadPool &pool, const float *x, const float *weights, int nTokens, int nStreams, int dim, float *y);
void hyperExpand(ThreadPool &pool, const float *y, const float *x, const float *post, const float *comb, int nTokens,
    int nStreams, int dim, float *out);

} // namespace nw::cpu
