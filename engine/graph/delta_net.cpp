// The Gated DeltaNet block on the Backend, in llama.cpp's order (qwen35.cpp build_layer_attn_linear).
#include "engine/graph/delta_net.h"

#include "common/assert.h"
#include "engine/gguf_file.h"
#include "engine/graph/weight_loader.h"
#include "engine/kv_cache.h"

#include <fmt/format.h>

namespace nw {
namespace {

// Scratch slots past the shared ones (forward_pass.h); they live only while the block runs.
enum DeltaNetSlot : std::size_t {
    kSlotMixed = kScratchCount, // [n, convChannels] projections before the convolution
    kSlotQkv, // [n, convChannels] after it
    kSlotZ, // [n, valueDim] output gate
    kSlotAlpha, // [n, nVHeads]
    kSlotBeta, // [n, nVHeads]
    kSlotOut, // [n, valueDim]
};

} // namespace

GatedDeltaNetBlock GatedDeltaNetBlock::load(
    WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const DeltaNetConfig &config)
{
    NW_ASSERT(
        config.nKHeads > 0 && config.nVHeads % config.nKHeads == 0 && config.headDim > 0 && config.convKernel > 0);
    GatedDeltaNetBlock b;
    b.m_config = config;
    auto name = [layer](const char *what, const char *suffix = "weight") {
        return WeightLoader::layerName(layer, what, suffix);
    };
    const std::int64_t channels = config.convChannels(), vDim = config.valueDim(), nV = config.nVHeads;
    b.m_wqkv = w.matrix(name("attn_qkv"), nEmbd, channels);
    b.m_wgate = w.matrix(name("attn_gate"), nEmbd, vDim);
    b.m_walpha = w.matrix(name("ssm_alpha"), nEmbd, nV);
    b.m_wbeta = w.matrix(name("ssm_beta"), nEmbd, nV);
    b.m_wout = w.matrix(name("ssm_out"), vDim, nEmbd);
    b.m_conv = reinterpret_cast<const float *>(
        w.require(name("ssm_conv1d"), { config.convKernel, channels }, { TensorType::F32 }).data);
    b.m_dtBias = w.vector(name("ssm_dt", "bias"), nV);
    b.m_decay = w.vector(fmt::format("blk.{}.ssm_a", layer), nV); // no suffix (LLM_TENSOR_SSM_A_NOSCAN)
    b.m_norm = w.vector(name("ssm_norm"), config.headDim);
    return b;
}

void GatedDeltaNetBlock::collectMatrices(std::vector<WeightMatrix> &all) const
{
    all.insert(all.end(), { m_wqkv, m_wgate, m_walpha, m_wbeta, m_wout });
}

void GatedDeltaNetBlock::forward(ForwardPass &p, std::int64_t layer, const float *x, float *out) const
{
    Backend &be = p.backend;
    const DeltaNetConfig &c = m_config;
    const int n = p.nTokens;
    const std::size_t nt = std::size_t(n), channels = std::size_t(c.convChannels()), vDim = std::size_t(c.valueDim());

    float *mixed = p.floats(kSlotMixed, nt * channels);
    float *qkv = p.floats(kSlotQkv, nt * channels);
    be.matmul(m_wqkv, x, mixed, n);
    ShortConvArgs conv;
    conv.x = mixed;
    conv.state = p.cache.recurrentConv(layer);
    conv.weight = m_conv;
    conv.y = qkv;
    conv.nTokens = n;
    conv.channels = int(channels);
    conv.kernel = c.convKernel;
    conv.silu = true;
    be.shortConv(conv);

    float *z = p.floats(kSlotZ, nt * vDim);
    float *alpha = p.floats(kSlotAlpha, nt * std::size_t(c.nVHeads));
    float *beta = p.floats(kSlotBeta, nt * std::size_t(c.nVHeads));
    be.matmul(m_wgate, x, z, n);
    be.matmul(m_walpha, x, alpha, n);
    be.matmul(m_wbeta, x, beta, n);

    float *o = p.floats(kSlotOut, nt * vDim);
    DeltaNetArgs args;
    args.qkv = qkv;
    args.qkvStride = channels;
    args.alpha = alpha;
    args.beta = beta;
    args.dtBias = m_dtBias;
    args.decay = m_decay;
    args.state = p.cache.recurrentState(layer);
    args.out = o;
    args.nTokens = n;
    args.nKHeads = c.nKHeads;
    args.nVHeads = c.nVHeads;
    args.headDim = c.headDim;
    args.normEps = c.normEps;
    be.gatedDeltaNet(args);

    // The gated norm: RMSNorm per head with ssm_norm, times silu(z).
    be.rmsNorm(o, m_norm, o, n * c.nVHeads, c.headDim, c.normEps);
    be.swiglu(z, o, o, nt * vDim);
    be.matmul(m_wout, o, out, n);
}

} // namespace nw
