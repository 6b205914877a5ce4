// DeepSeek V4's manifold-constrained hyper-connections (mHC) as a graph block: the residual is
// nStreams streams of nEmbd; before a block, mixing logits from the RMS-normed streams
// (hc_fn · rmsnorm(x)) give the weights that collapse the streams into the block's input; after
// it, the block's output is written back into every stream while the streams mix through a
// Sinkhorn-normalised matrix (kernels: Backend::hyperMix / hyperCollapse / hyperExpand). The
// output head collapses the streams once more with weights of its own (pre only). Tensors as
// llama.cpp's LLM_ARCH_DEEPSEEK4: blk.<i>.hc_attn_* / hc_ffn_* {fn, base, scale}, output_hc_*.
#pragma once

#include "engine/graph/forward_pass.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nw {

class WeightLoader;

struct HyperConnectionConfig {
    int nStreams = 0; // hyper_connection.count
    int nEmbd = 0;
    int sinkhornIters = 0; // hyper_connection.sinkhorn_iterations
    float eps = 0.f; // hyper_connection.epsilon
    float normEps = 1e-6f; // the streams' RMS norm
};

class HyperConnection {
public:
    // `prefix`: "blk.3.hc_attn" (a block's: pre, post and the stream mixing) or "output_hc" (the
    // head's: pre only).
    static HyperConnection load(
        WeightLoader &w, const std::string &prefix, const HyperConnectionConfig &config, bool head);

    // out [nTokens, nEmbd] = Σ_s pre[t, s] · streams[t, s, :]; keeps the write-back weights for
    // expand(). streams: [nTokens, nStreams, nEmbd].
    void collapse(ForwardPass &pass, const float *streams, int nTokens, float *out) const;
    // streams[t, d, :] = post[t, d] · y[t, :] + Σ_s comb[t, s, d] · streams[t, s, :] (after the
    // block whose input collapse() made; not for the head).
    void expand(ForwardPass &pass, const float *y, float *streams) const;

    void collectMatrices(std::vector<WeightMatrix> &all) const { all.push_back(m_fn); }

private:
    HyperConnectionConfig m_config;
    bool m_head = false;
    WeightMatrix m_fn; // [mix, nStreams · nEmbd]: mix = (2 + nStreams) · nStreams, head nStreams
    const float *m_base = nullptr; // [mix]
    const float *m_scale = nullptr; // [3], head [1]
};

} // namespace nw
