// mHC on the Backend, as llama.cpp's deepseek4 graph builds it (build_hc_pre / build_hc_post /
// build_hc_head).
#include "engine/graph/hyper_connection.h"

#include "common/assert.h"
#include "engine/graph/deepseek_scratch.h"
#include "engine/graph/weight_loader.h"

namespace nw {

HyperConnection HyperConnection::load(
    WeightLoader &w, const std::string &prefix, const HyperConnectionConfig &c, bool head)
{
    NW_ASSERT(c.nStreams > 0 && c.nEmbd > 0);
    HyperConnection h;
    h.m_config = c;
    h.m_head = head;
    const std::int64_t mix = head ? c.nStreams : std::int64_t(2 + c.nStreams) * c.nStreams;
    h.m_fn = w.matrix(prefix + "_fn.weight", std::int64_t(c.nStreams) * c.nEmbd, mix);
    h.m_base = w.vector(prefix + "_base.weight", mix);
    h.m_scale = w.vector(prefix + "_scale.weight", head ? 1 : 3);
    return h;
}

void HyperConnection::collapse(ForwardPass &p, const float *streams, int n, float *out) const
{
    Backend &be = p.backend;
    const HyperConnectionConfig &c = m_config;
    const int hc = c.nStreams, width = hc * c.nEmbd, mix = int(m_fn.rows);
    float *normed = p.floats(kScratchHcNormed, std::size_t(n) * std::size_t(width));
    be.rmsNorm(streams, nullptr, normed, n, width, c.normEps);
    float *mixes = p.floats(kScratchHcMixes, std::size_t(n) * std::size_t(mix));
    be.matmul(m_fn, normed, mixes, n);
    HyperMixArgs a;
    a.mixes = mixes;
    a.mixStride = mix;
    a.nTokens = n;
    a.nStreams = hc;
    a.scale = m_scale;
    a.base = m_base;
    a.eps = c.eps;
    a.sinkhornIters = c.sinkhornIters;
    a.pre = p.floats(kScratchHcPre, std::size_t(n) * std::size_t(hc));
    if (!m_head) {
        a.post = p.floats(kScratchHcPost, std::size_t(n) * std::size_t(hc));
        a.comb = p.floats(kScratchHcComb, std::size_t(n) * std::size_t(hc) * std::size_t(hc));
    }
    be.hyperMix(a);
    be.hyperCollapse(streams, a.pre, n, hc, c.nEmbd, out);
}

void HyperConnection::expand(ForwardPass &p, const float *y, float *streams) const
{
    NW_ASSERT(!m_head);
    Backend &be = p.backend;
    const HyperConnectionConfig &c = m_config;
    const int n = p.nTokens, hc = c.nStreams;
    const std::size_t size = std::size_t(n) * std::size_t(hc) * std::size_t(c.nEmbd);
    // The scratch collapse() filled for this block (no other block runs in between).
    const float *post = p.floats(kScratchHcPost, std::size_t(n) * std::size_t(hc));
    const float *comb = p.floats(kScratchHcComb, std::size_t(n) * std::size_t(hc) * std::size_t(hc));
    float *next = p.floats(kScratchHcNormed, size);
    be.hyperExpand(y, streams, post, comb, n, hc, c.nEmbd, next);
    be.copyRows(streams, size, next, size, 1, int(size));
}

} // namespace nw
