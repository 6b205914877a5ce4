// DeepSeek V4 (deepseek-ai/DeepSeek-V4-Flash and -Pro; llama.cpp's LLM_ARCH_DEEPSEEK4): every
// layer reads its input from hyper-connection streams and writes back into them
//   h = mHC_pre(x);  y = Attention(RMSNorm(h));  x = mHC_post(x, y)
//   h = mHC_pre(x);  y = MoE(RMSNorm(h)) + Shared(RMSNorm(h));  x = mHC_post(x, y)
// with attention over one latent row per token: its sliding window, and per layer the CSA entries
// the lightning indexer picks or all HCA entries (engine/graph/compressed_attention.h); MoE with
// sqrt-softplus scores and selection bias, the first hash_layer_count layers routed by token id,
// SwiGLU clamped. The output head collapses the streams (engine/graph/hyper_connection.h).
// Keys and tensor names as llama.cpp's; multi-token-prediction layers after the trunk are not run.
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/compressed_attention.h"
#include "engine/graph/decoder_model.h"
#include "engine/graph/hyper_connection.h"
#include "engine/graph/moe_ffn.h"
#include "engine/graph/weight_loader.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace nw {
namespace {

// A per-layer list of numbers or one number for every layer (llama.cpp's get_key_or_arr); empty
// when the key is absent.
std::vector<double> perLayer(const ArchKeys &keys, std::string_view suffix, std::int64_t nLayers)
{
    if (keys.file().findArray(keys.key(suffix))) {
        std::vector<double> values = keys.findFloatArray(suffix);
        if (std::int64_t(values.size()) < nLayers)
            fail("{}: {} lists {} values for {} layers", keys.file().label(), keys.key(suffix), values.size(), nLayers);
        values.resize(std::size_t(nLayers));
        return values;
    }
    if (const auto v = keys.file().findFloat(keys.key(suffix)))
        return std::vector<double>(std::size_t(nLayers), *v);
    return {};
}

void readDeepseek4HParams(const ArchKeys &keys, HParams &hp)
{
    const std::string &label = keys.file().label();
    // Multi-token-prediction layers close block_count when the file holds them (llama.cpp probes
    // their first tensor); the trunk is the rest.
    const std::int64_t nextN = keys.findInt("nextn_predict_layers", 0);
    if (nextN < 0 || nextN >= hp.nLayers)
        fail("{}: {} {} does not fit block_count {}", label, keys.key("nextn_predict_layers"), nextN, hp.nLayers);
    if (nextN > 0 && keys.file().findTensor(fmt::format("blk.{}.nextn.eh_proj.weight", hp.nLayers - nextN)))
        hp.nLayers -= nextN;

    const std::vector<std::int64_t> ratios = keys.findIntArray("attention.compress_ratios");
    if (std::int64_t(ratios.size()) < hp.nLayers)
        fail("{}: {} lists {} compression ratios for {} layers", label, keys.key("attention.compress_ratios"),
            ratios.size(), hp.nLayers);
    hp.compressRatios.assign(ratios.begin(), ratios.begin() + hp.nLayers);
    bool csa = false;
    for (std::size_t il = 0; il < hp.compressRatios.size(); ++il) {
        const std::int64_t r = hp.compressRatios[il];
        if (r != 0 && r != 4 && r != 128)
            fail("{}: {} gives layer {} the ratio {}; DeepSeek V4 layers compress by 0, 4 or 128", label,
                keys.key("attention.compress_ratios"), il, r);
        csa = csa || r == 4;
    }

    hp.qLoraRank = keys.requireInt("attention.q_lora_rank");
    hp.slidingWindow = keys.requireInt("attention.sliding_window");
    hp.oGroups = keys.requireInt("attention.output_group_count");
    hp.oLoraRank = keys.requireInt("attention.output_lora_rank");
    hp.compressRopeFreqBase = keys.findFloat("attention.compress_rope_freq_base", 0.0);
    hp.hcStreams = keys.requireInt("hyper_connection.count");
    hp.hcSinkhornIters = keys.requireInt("hyper_connection.sinkhorn_iterations");
    hp.hcEps = keys.findFloat("hyper_connection.epsilon", 0.0);
    hp.nHashLayers = keys.requireInt("hash_layer_count");
    hp.nSharedExperts = keys.requireInt("expert_shared_count");
    hp.expertWeightsScale = keys.findFloat("expert_weights_scale", 1.0);
    hp.expertWeightsNorm = keys.findBool("expert_weights_norm", false);
    hp.expertGatingFunc = keys.requireInt("expert_gating_func");
    hp.indexerHeads = keys.requireInt("attention.indexer.head_count");
    hp.indexerHeadDim = keys.requireInt("attention.indexer.key_length");
    hp.indexerTopK = keys.requireInt("attention.indexer.top_k");
    hp.swigluClampExp = perLayer(keys, "swiglu_clamp_exp", hp.nLayers);
    hp.swigluClampShexp = perLayer(keys, "swiglu_clamp_shexp", hp.nLayers);
    if (hp.swigluClampShexp.empty())
        hp.swigluClampShexp = hp.swigluClampExp;

    if (hp.expertGatingFunc != 4)
        fail("{}: {} is {}; DeepSeek V4 scores experts by sqrt-softplus (4)", label, keys.key("expert_gating_func"),
            hp.expertGatingFunc);
    if (hp.headDimK != hp.headDimV || hp.nKvHeads != 1)
        fail("{}: DeepSeek V4 attends over one latent row (head_count_kv 1, key_length = value_length); got {} "
             "rows of {} and {}",
            label, hp.nKvHeads, hp.headDimK, hp.headDimV);
    const auto positive = [&](std::int64_t v, const char *suffix) {
        if (v <= 0 || v > std::numeric_limits<std::int32_t>::max())
            fail("{}: {} must be positive, got {}", label, keys.key(suffix), v);
    };
    positive(hp.qLoraRank, "attention.q_lora_rank");
    positive(hp.slidingWindow, "attention.sliding_window");
    positive(hp.oGroups, "attention.output_group_count");
    positive(hp.oLoraRank, "attention.output_lora_rank");
    positive(hp.hcStreams, "hyper_connection.count");
    positive(hp.hcSinkhornIters, "hyper_connection.sinkhorn_iterations");
    constexpr std::int64_t kMaxSinkhornIters = 10000; // V4 runs 20; a corrupt count must not stall every token
    if (hp.hcSinkhornIters > kMaxSinkhornIters)
        fail("{}: {} {} is above {}", label, keys.key("hyper_connection.sinkhorn_iterations"), hp.hcSinkhornIters,
            kMaxSinkhornIters);
    positive(hp.nSharedExperts, "expert_shared_count");
    positive(hp.nExperts, "expert_count");
    positive(hp.nFfExpert, "expert_feed_forward_length");
    positive(hp.indexerHeads, "attention.indexer.head_count");
    positive(hp.indexerHeadDim, "attention.indexer.key_length");
    positive(hp.indexerTopK, "attention.indexer.top_k");
    if (hp.nHeads % hp.oGroups != 0)
        fail("{}: {} heads do not split into {} output groups", label, hp.nHeads, hp.oGroups);
    if (hp.nHashLayers < 0 || hp.nHashLayers > hp.nLayers)
        fail("{}: {} {} does not fit {} layers", label, keys.key("hash_layer_count"), hp.nHashLayers, hp.nLayers);
    if (hp.compressRopeFreqBase <= 0.0
        && std::any_of(hp.compressRatios.begin(), hp.compressRatios.end(), [](std::int64_t r) { return r != 0; }))
        fail("{}: {} must be positive for the compressed layers", label, keys.key("attention.compress_rope_freq_base"));
    if (csa && (hp.indexerHeadDim % 64 != 0 || hp.nRot > hp.indexerHeadDim))
        fail("{}: indexer keys of {} must be a multiple of 64 (its Hadamard rotation) holding the {} rope dims", label,
            hp.indexerHeadDim, hp.nRot);
}

struct Deepseek4Layer {
    HyperConnection hcAttn;
    const float *attnNorm = nullptr; // [nEmbd]
    CompressedAttention attention;
    HyperConnection hcFfn;
    const float *ffnNorm = nullptr; // [nEmbd]
    MoeFfn moe;
};

class Deepseek4Model final : public DecoderModel {
public:
    Deepseek4Model(std::shared_ptr<const GgufFile> file, HParams hp, std::shared_ptr<Backend> backend)
        : DecoderModel(std::move(file), std::move(hp), std::move(backend))
    {
        const HParams &p = m_hparams;
        const std::int64_t e = p.nEmbd;
        m_blockCount = m_file->findInt(p.arch + ".block_count").value_or(p.nLayers);

        // Window-only layers rotate with the model's base; compressed layers with the compressed
        // base and YaRN, whose magnitude 1 + 0.1·ln(factor) llama.cpp cancels (dsv4_rope_attn_factor).
        RopeParams plain;
        plain.nDims = int(p.nRot);
        plain.neox = false; // LLAMA_ROPE_TYPE_NORM: adjacent pairs
        plain.freqBase = float(p.ropeFreqBase);
        RopeParams compressed = plain;
        compressed.freqBase = float(p.compressRopeFreqBase);
        const RopeScaling &rs = p.ropeScaling;
        if (rs.type != RopeScalingType::None && rs.factor > 0.0)
            compressed.freqScale = float(1.0 / rs.factor);
        if (rs.type == RopeScalingType::Yarn && rs.factor > 0.0) {
            compressed.extFactor = 1.f;
            compressed.nCtxOrig = int(rs.originalContext);
            compressed.betaFast = float(rs.yarnBetaFast);
            compressed.betaSlow = float(rs.yarnBetaSlow);
            compressed.attnFactor = 1.f / (1.f + 0.1f * std::log(1.f / compressed.freqScale));
        }

        CompressedAttentionConfig attention;
        attention.nHeads = int(p.nHeads);
        attention.headDim = int(p.headDimK);
        attention.qLoraRank = int(p.qLoraRank);
        attention.oGroups = int(p.oGroups);
        attention.oLoraRank = int(p.oLoraRank);
        attention.window = int(p.slidingWindow);
        attention.normEps = float(p.rmsEps);
        attention.indexer.nHeads = int(p.indexerHeads);
        attention.indexer.headDim = int(p.indexerHeadDim);
        attention.indexer.topK = int(p.indexerTopK);
        attention.indexer.rope = compressed;
        attention.indexer.ropeOffset = int(p.indexerHeadDim - p.nRot);

        MoeConfig moe;
        moe.routing.gating = MoeGating::SqrtSoftplus;
        moe.routing.nExperts = int(p.nExperts);
        moe.routing.nUsed = int(p.nExpertsUsed);
        moe.routing.normalize = p.expertWeightsNorm;
        moe.routing.scale = float(p.expertWeightsScale);
        moe.nFfExpert = p.nFfExpert;
        moe.nFfShared = p.nFfExpert * p.nSharedExperts;

        HyperConnectionConfig hc;
        hc.nStreams = int(p.hcStreams);
        hc.nEmbd = int(e);
        hc.sinkhornIters = int(p.hcSinkhornIters);
        hc.eps = float(p.hcEps);
        hc.normEps = float(p.rmsEps);

        auto moeScratch = std::make_shared<MoeScratch>();
        std::vector<WeightMatrix> matrices;
        m_layers.reserve(std::size_t(p.nLayers));
        for (std::int64_t il = 0; il < p.nLayers; ++il) {
            const auto name = [il](const char *what) { return WeightLoader::layerName(il, what); };
            const std::string block = fmt::format("blk.{}.", il);
            attention.ratio = int(p.compressRatios[std::size_t(il)]);
            attention.rope = attention.ratio != 0 ? compressed : plain;
            moe.swigluLimit = p.swigluClampExp.empty() ? 0.f : float(p.swigluClampExp[std::size_t(il)]);
            moe.sharedSwigluLimit = p.swigluClampShexp.empty() ? 0.f : float(p.swigluClampShexp[std::size_t(il)]);
            moe.hashVocab = il < p.nHashLayers ? p.nVocab : 0;
            Deepseek4Layer l {
                .hcAttn = HyperConnection::load(m_weights, block + "hc_attn", hc, false),
                .attnNorm = m_weights.vector(name("attn_norm"), e),
                .attention = CompressedAttention::load(m_weights, il, e, attention),
                .hcFfn = HyperConnection::load(m_weights, block + "hc_ffn", hc, false),
                .ffnNorm = m_weights.vector(name("ffn_norm"), e),
                .moe = MoeFfn::load(m_weights, il, e, moe, moeScratch),
            };
            l.hcAttn.collectMatrices(matrices);
            l.attention.collectMatrices(matrices);
            l.hcFfn.collectMatrices(matrices);
            l.moe.collectMatrices(matrices);
            m_layers.push_back(std::move(l));
        }
        const HyperConnection head = HyperConnection::load(m_weights, "output_hc", hc, true);
        head.collectMatrices(matrices);
        setHyperConnections(head, hc.nStreams);
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Deepseek4Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        l.hcAttn.collapse(pass, pass.x, pass.nTokens, pass.h);
        pass.norm(l.attnNorm, eps, pass.h, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y);
        l.hcAttn.expand(pass, pass.y, pass.x);
        l.hcFfn.collapse(pass, pass.x, pass.nTokens, pass.h);
        pass.norm(l.ffnNorm, eps, pass.h, pass.h);
        l.moe.forward(pass, pass.h, pass.y);
        l.hcFfn.expand(pass, pass.y, pass.x);
    }

    // The multi-token-prediction layers after the trunk (readDeepseek4HParams left them out); a
    // file whose block_count leaves layers out is refused for their tensors.
    bool ignoresTensor(std::string_view name) const override
    {
        if (m_blockCount == m_hparams.nLayers || !name.starts_with("blk."))
            return false;
        std::int64_t layer = -1;
        const std::string_view rest = name.substr(4);
        std::from_chars(rest.data(), rest.data() + rest.size(), layer);
        return layer >= m_hparams.nLayers && layer < m_blockCount;
    }

private:
    std::int64_t m_blockCount = 0; // the file's, with the multi-token-prediction layers
    std::vector<Deepseek4Layer> m_layers; // [nLayers]
};

std::unique_ptr<Model> makeDeepseek4(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return std::make_unique<Deepseek4Model>(std::move(file), hp, std::move(backend));
}

} // namespace

// The window rows, compressed entries, indexer keys and compressor rings (engine/kv_deepseek.cpp).
const Architecture kDeepseek4Architecture {
    .name = "deepseek4",
    .readHParams = readDeepseek4HParams,
    .makeModel = makeDeepseek4,
    .kvModes = { KvMode::Mla },
    .runsOnDevice = false,
};

} // namespace nw
