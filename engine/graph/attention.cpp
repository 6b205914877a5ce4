// The attention block on the Backend (see attention.h), in llama.cpp's order of operations
// (llm_graph_context::build_qkv and build_attn).
#include "engine/graph/attention.h"

#include "common/assert.h"
#include "engine/graph/weight_loader.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/latent_kv.h"
#include "engine/snapkv.h"

namespace nw {
namespace {

// Scratch slots past the shared ones (forward_pass.h), used only while the block runs.
enum AttentionSlot : std::size_t {
    kScratchAttnQueryGate = kScratchCount, // [n, nHeads, 2, headDimK] gated attention's projection
    kScratchAttnGate, // [n, nHeads, headDimK] its gates
};

} // namespace

RopeParams ropeFromHParams(const HParams &hp, RopeStyle style, int nDims, double freqBase)
{
    RopeParams rope;
    rope.nDims = nDims;
    rope.neox = style == RopeStyle::Neox;
    rope.freqBase = float(freqBase);
    const RopeScaling &rs = hp.ropeScaling;
    if (rs.type != RopeScalingType::None && rs.factor > 0.0)
        rope.freqScale = float(1.0 / rs.factor);
    rope.nCtxOrig = int(rs.originalContext);
    if (rs.type == RopeScalingType::Yarn) {
        // ggml multiplies by YaRN's 1 + 0.1 ln(factor) itself; llama.cpp's attn_factor cancels
        // it only to scale by the file's own factor again (llama-context.cpp).
        rope.extFactor = 1.f;
        rope.betaFast = float(rs.yarnBetaFast);
        rope.betaSlow = float(rs.yarnBetaSlow);
    }
    rope.attnFactor = float(hp.ropeAttnFactor);
    return rope;
}

WeightMatrix rowSlice(const WeightMatrix &w, std::int64_t first, std::int64_t count)
{
    NW_ASSERT(first >= 0 && count >= 0 && first + count <= w.rows);
    WeightMatrix slice = w;
    slice.rowStride = w.rowStride ? w.rowStride : rowBytes(w.type, std::size_t(w.cols));
    slice.data = w.data + std::size_t(first) * slice.rowStride;
    slice.rows = count;
    return slice;
}

AttentionBlock AttentionBlock::load(
    WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const AttentionConfig &config)
{
    NW_ASSERT(!config.outputGate || config.headDimK == config.headDimV);
    AttentionBlock b;
    b.m_config = config;
    const std::int64_t qDim = std::int64_t(config.nHeads) * config.headDimK;
    const std::int64_t kDim = std::int64_t(config.nKvHeads) * config.headDimK;
    const std::int64_t vDim = std::int64_t(config.nKvHeads) * config.headDimV;
    auto name = [layer](const char *what, const char *suffix = "weight") {
        return WeightLoader::layerName(layer, what, suffix);
    };
    const WeightMatrix fused = w.findMatrix(name("attn_qkv"), nEmbd, qDim + kDim + vDim);
    if (fused.data) {
        b.m_wq = rowSlice(fused, 0, qDim);
        b.m_wk = rowSlice(fused, qDim, kDim);
        b.m_wv = rowSlice(fused, qDim + kDim, vDim);
        if (const float *bias = w.findVector(name("attn_qkv", "bias"), qDim + kDim + vDim)) {
            b.m_bq = bias;
            b.m_bk = bias + qDim;
            b.m_bv = bias + qDim + kDim;
        }
    } else if (config.kvLayer >= 0) {
        b.m_wq = w.matrix(name("attn_q"), nEmbd, qDim);
    } else {
        b.m_wq = w.matrix(name("attn_q"), nEmbd, config.outputGate ? 2 * qDim : qDim);
        b.m_wk = w.matrix(name("attn_k"), nEmbd, kDim);
        if (config.valueFromKey) {
            NW_ASSERT(config.headDimK == config.headDimV);
            b.m_wv = b.m_wk;
        } else {
            b.m_wv = w.matrix(name("attn_v"), nEmbd, vDim);
        }
        b.m_bq = w.findVector(name("attn_q", "bias"), qDim);
        b.m_bk = w.findVector(name("attn_k", "bias"), kDim);
        b.m_bv = w.findVector(name("attn_v", "bias"), vDim);
    }
    if (config.qkNorm) {
        b.m_qNorm = w.vector(name("attn_q_norm"), config.headDimK);
        if (config.kvLayer < 0)
            b.m_kNorm = w.vector(name("attn_k_norm"), config.headDimK);
    }
    b.m_wo = w.matrix(name("attn_output"), std::int64_t(config.nHeads) * config.headDimV, nEmbd);
    b.m_bo = w.findVector(name("attn_output", "bias"), nEmbd);
    if (config.sinks)
        b.m_sinks = w.vector(name("attn_sinks"), config.nHeads);
    return b;
}

RopeParams AttentionBlock::ropeFor(std::int64_t capacity) const
{
    RopeParams rope = m_config.rope;
    if (m_config.longRopeFactors && capacity > m_config.longRopeAbove)
        rope.freqFactors = m_config.longRopeFactors;
    return rope;
}

void AttentionBlock::collectMatrices(std::vector<WeightMatrix> &all) const
{
    all.insert(all.end(), { m_wq, m_wo });
    if (m_config.kvLayer < 0)
        all.push_back(m_wk);
    if (m_config.kvLayer < 0 && !m_config.valueFromKey)
        all.push_back(m_wv);
}

void AttentionBlock::forward(ForwardPass &p, std::int64_t layer, const float *x, float *out) const
{
    Backend &be = p.backend;
    const AttentionConfig &c = m_config;
    const int n = p.nTokens;
    const std::size_t nt = std::size_t(n);
    const RopeParams rope = ropeFor(p.cache.capacity());

    const std::size_t qElements = nt * std::size_t(c.nHeads) * std::size_t(c.headDimK);
    float *q = p.floats(kScratchQ, qElements);
    float *gate = nullptr; // [nTokens, nHeads, headDimK] with outputGate
    if (c.outputGate) {
        // Each head's query and gate side by side: split them into two dense arrays.
        float *both = p.floats(kScratchAttnQueryGate, 2 * qElements);
        gate = p.floats(kScratchAttnGate, qElements);
        be.matmul(m_wq, x, both, n);
        const int rows = n * c.nHeads, hd = c.headDimK;
        be.copyRows(q, std::size_t(hd), both, 2 * std::size_t(hd), rows, hd);
        be.copyRows(gate, std::size_t(hd), both + hd, 2 * std::size_t(hd), rows, hd);
    } else {
        be.matmul(m_wq, x, q, n);
    }
    if (m_bq)
        be.addRow(q, m_bq, n, c.nHeads * c.headDimK);
    if (m_qNorm)
        be.rmsNorm(q, m_qNorm, q, n * c.nHeads, c.headDimK, c.normEps);
    if (rope.nDims > 0)
        be.rope(q, n, c.nHeads, c.headDimK, 0, p.positions, rope);
    if (p.queries) {
        NW_ASSERT(be.memoryKind() == BackendMemory::Host);
        p.queries->add(layer, q, p.hostPositions, c.nHeads, c.headDimK, c.scale);
    }

    // The window the layer reads: the model's own (sliding layers), else the cache's when the KV
    // mode evicts (`+window:W+sinks:S`: the plan made this layer's store a window with sinks).
    const KvLayerPlan &kvPlan = p.cache.plan(c.kvLayer >= 0 ? c.kvLayer : layer);
    const bool evicted = c.window == 0 && kvPlan.kind == KvLayerKind::Window;
    const int window = evicted ? int(kvPlan.window) : c.window;
    const int sinkTokens = evicted ? int(kvPlan.sinks) : 0;

    float *att = p.floats(kScratchAttn, nt * std::size_t(c.nHeads) * std::size_t(c.headDimV));
    if (p.latent) {
        NW_ASSERT(supportsLatent() && p.latentAttention);
        const std::vector<float> &kBias = p.latent->kBias[std::size_t(layer)];
        const std::vector<float> &vBias = p.latent->vBias[std::size_t(layer)];
        LatentAttentionArgs la;
        la.x = x;
        la.q = q;
        la.out = att;
        la.nTokens = n;
        la.nHeads = c.nHeads;
        la.positions = p.hostPositions.data();
        la.scale = c.scale;
        la.window = window;
        la.sinkTokens = sinkTokens;
        la.sinks = m_sinks;
        la.kLatentBias = kBias.empty() ? nullptr : kBias.data();
        la.vLatentBias = vBias.empty() ? nullptr : vBias.data();
        p.latentAttention->run(be, p.latent->factors, std::size_t(layer), rope, p.cache, la);
    } else if (c.kvLayer >= 0) {
        AttentionArgs args;
        args.kv = p.cache.layerView(c.kvLayer); // this batch's rows are there already
        args.q = q;
        args.out = att;
        args.nTokens = n;
        args.nHeads = c.nHeads;
        args.queryPositions = p.rows;
        args.scale = c.scale;
        args.window = window;
        args.sinkTokens = sinkTokens;
        args.sinks = m_sinks;
        be.attention(args);
    } else {
        float *k = p.floats(kScratchK, nt * std::size_t(c.nKvHeads) * std::size_t(c.headDimK));
        float *v = p.floats(kScratchV, nt * std::size_t(c.nKvHeads) * std::size_t(c.headDimV));
        be.matmul(m_wk, x, k, n);
        if (c.valueFromKey)
            be.copyRows(v, std::size_t(c.nKvHeads) * std::size_t(c.headDimV), k,
                std::size_t(c.nKvHeads) * std::size_t(c.headDimK), n, c.nKvHeads * c.headDimV);
        else
            be.matmul(m_wv, x, v, n);
        if (c.valueNorm)
            be.rmsNorm(v, nullptr, v, n * c.nKvHeads, c.headDimV, c.normEps);
        if (m_bk)
            be.addRow(k, m_bk, n, c.nKvHeads * c.headDimK);
        if (m_bv)
            be.addRow(v, m_bv, n, c.nKvHeads * c.headDimV);
        if (m_kNorm)
            be.rmsNorm(k, m_kNorm, k, n * c.nKvHeads, c.headDimK, c.normEps);
        if (p.calibration)
            p.calibration->add(std::size_t(layer), k, v, n); // keys before RoPE
        if (rope.nDims > 0)
            be.rope(k, n, c.nKvHeads, c.headDimK, 0, p.positions, rope);
        const KvLayerView view = p.cache.layerView(layer);
        be.storeKv(view, k, v, n, p.rows);
        AttentionArgs args;
        args.kv = view;
        args.q = q;
        args.out = att;
        args.nTokens = n;
        args.nHeads = c.nHeads;
        args.queryPositions = p.rows;
        args.scale = c.scale;
        args.window = window;
        args.sinkTokens = sinkTokens;
        args.sinks = m_sinks;
        be.attention(args);
    }
    if (gate)
        be.sigmoidMul(att, gate, n, c.nHeads * c.headDimV, c.nHeads * c.headDimV);
    be.matmul(m_wo, att, out, n);
    if (m_bo)
        be.addRow(out, m_bo, n, p.nEmbd);
}

} // namespace nw
