// DeepSeek-V2/V3 (arXiv:2405.04434, arXiv:2412.19437): pre-norm layers
//   x += MLA(RMSNorm(x));  x += FFN(RMSNorm(x))
// with a dense SwiGLU FFN in the leading layers and DeepSeekMoE (shared experts plus top-k routed
// ones: softmax in V2, sigmoid with selection bias and group-limited routing in V3) after them.
// Tensor names and shapes as llama.cpp's LLM_ARCH_DEEPSEEK2. DeepSeek V3.2 (deepseek32) is this
// graph with the lightning indexer choosing each query's tokens (models/deepseek32.cpp).
#include "engine/models/deepseek2.h"

#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/decoder_model.h"
#include "engine/graph/ffn.h"
#include "engine/graph/lightning_indexer.h"
#include "engine/graph/moe_ffn.h"
#include "engine/models/models.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace nw {

void readDeepseek2HParams(const ArchKeys &keys, HParams &hp)
{
    hp.qLoraRank = keys.findInt("attention.q_lora_rank", 0);
    hp.kvLoraRank = keys.requireInt("attention.kv_lora_rank");
    // Newer conversions describe the MQA view of the latent in key_length / value_length
    // (kv_lora_rank + rope, kv_lora_rank) and the real head dims in the *_mla keys; the rest of
    // the engine (full-mode cache, the MHA baseline of the meters) wants the real ones.
    hp.headDimK = keys.findInt("attention.key_length_mla", hp.headDimK);
    hp.headDimV = keys.findInt("attention.value_length_mla", hp.headDimV);
    hp.nKvHeads = hp.nHeads; // every head has its own K and V once expanded
    hp.qkRopeHeadDim = hp.nRot;
    hp.nSharedExperts = keys.findInt("expert_shared_count", 0);
    hp.nLeadingDense = keys.findInt("leading_dense_block_count", 0);
    hp.expertWeightsScale = keys.findFloat("expert_weights_scale", 1.0);
    hp.expertWeightsNorm = keys.findBool("expert_weights_norm", false);
    hp.expertGatingFunc = keys.findInt("expert_gating_func", 0);
    if (hp.kvLoraRank <= 0)
        fail("{}: attention.kv_lora_rank must be positive, got {}", keys.file().label(), hp.kvLoraRank);
    // Bounded before the graph multiplies them (the fuzzer's INT64_MIN shared experts overflowed
    // the shared FFN width); far above DeepSeek's own (ranks 512 / 1536, 1-2 shared experts).
    constexpr std::int64_t kMaxRank = std::int64_t(1) << 16;
    if (hp.kvLoraRank > kMaxRank || hp.qLoraRank < 0 || hp.qLoraRank > kMaxRank)
        fail("{}: the low ranks {} (kv) and {} (q) must be within 0..{}", keys.file().label(), hp.kvLoraRank,
            hp.qLoraRank, kMaxRank);
    if (hp.nSharedExperts < 0 || hp.nSharedExperts > 64)
        fail("{}: expert_shared_count {} must be within 0..64", keys.file().label(), hp.nSharedExperts);
    // Compared before subtracting: the file's values can be anything an int64 holds.
    if (hp.qkRopeHeadDim < 0 || hp.headDimK <= hp.qkRopeHeadDim)
        fail("{}: key_length {} leaves no room beside the rope dims {}", keys.file().label(), hp.headDimK,
            hp.qkRopeHeadDim);
    hp.qkNopeHeadDim = hp.headDimK - hp.qkRopeHeadDim;
}

namespace {

struct Deepseek2Layer {
    const float *attnNorm = nullptr; // [nEmbd]
    MlaAttentionBlock attention;
    std::optional<LightningIndexer> indexer; // deepseek32 (V3.2): attention over its top-k tokens
    const float *ffnNorm = nullptr; // [nEmbd]
    std::optional<GatedFfn> dense; // leading dense layers
    std::optional<MoeFfn> moe; // the rest
};

class Deepseek2Model final : public DecoderModel {
public:
    Deepseek2Model(std::shared_ptr<const GgufFile> file, HParams hp, std::shared_ptr<Backend> backend,
        const Deepseek2Options &options)
        : DecoderModel(std::move(file), std::move(hp), std::move(backend))
    {
        dropNextNLayers();
        const HParams &p = m_hparams;
        const std::int64_t e = p.nEmbd;
        if (p.nLeadingDense < p.nLayers
            && (p.nExperts <= 0 || p.nExpertsUsed <= 0 || p.nExpertsUsed > p.nExperts || p.nFfExpert <= 0))
            fail("{}: deepseek2 MoE layers need expert_count, expert_used_count (1..expert_count) and "
                 "expert_feed_forward_length; got {}, {}, {}",
                m_file->label(), p.nExperts, p.nExpertsUsed, p.nFfExpert);

        MoeConfig moe;
        switch (p.expertGatingFunc) {
        case 0: // files from before the key existed are DeepSeek-V2: softmax
        case 1:
            moe.routing.gating = MoeGating::Softmax;
            break;
        case 2:
            moe.routing.gating = MoeGating::Sigmoid;
            break;
        default:
            fail("{}: deepseek2.expert_gating_func {} is not supported (1 softmax, 2 sigmoid)", m_file->label(),
                p.expertGatingFunc);
        }
        moe.routing.nExperts = int(p.nExperts);
        moe.routing.nUsed = int(p.nExpertsUsed);
        moe.routing.normalize = p.expertWeightsNorm;
        moe.routing.scale = float(p.expertWeightsScale);
        // V3's group-limited routing (n_group / topk_group in its config.json).
        moe.routing.nGroups = int(p.nExpertGroups);
        moe.routing.nGroupsUsed = int(p.nExpertGroupsUsed);
        const int nGroups = moe.routing.nGroups, nGroupsUsed = moe.routing.nGroupsUsed;
        if (nGroupsUsed < 1 || nGroupsUsed > nGroups || (p.nExperts > 0 && p.nExperts % nGroups != 0)
            || (nGroupsUsed < nGroups && std::int64_t(nGroupsUsed) * (p.nExperts / nGroups) < p.nExpertsUsed))
            fail("{}: deepseek2 expert groups {} (using {}) do not fit {} experts choosing {}", m_file->label(),
                nGroups, nGroupsUsed, p.nExperts, p.nExpertsUsed);
        moe.nFfExpert = p.nFfExpert;
        moe.nFfShared
            = m_file->findInt(p.arch + ".expert_shared_feed_forward_length").value_or(p.nFfExpert * p.nSharedExperts);

        MlaConfig mla;
        mla.nHeads = int(p.nHeads);
        mla.qLoraRank = int(p.qLoraRank);
        mla.kvLoraRank = int(p.kvLoraRank);
        mla.qkNope = int(p.qkNopeHeadDim);
        mla.qkRope = int(p.qkRopeHeadDim);
        mla.vHeadDim = int(p.headDimV);
        mla.normEps = float(p.rmsEps);
        mla.form = options.mlaForm;
        // YaRN as DeepSeek applies it (llama.cpp discussion #7416): the softmax scale carries
        // mscale², so the rotation's own YaRN magnitude 1 + 0.1·ln(factor) is cancelled by
        // attnFactor and q/k rotate with magnitude 1.
        mla.rope.nDims = int(p.qkRopeHeadDim);
        mla.rope.neox = false; // GGUF deepseek2: adjacent pairs
        mla.rope.freqBase = float(p.ropeFreqBase);
        double mscale = 1.0;
        const RopeScaling &rs = p.ropeScaling;
        if (rs.type != RopeScalingType::None && rs.factor > 0.0)
            mla.rope.freqScale = float(1.0 / rs.factor);
        if (rs.type == RopeScalingType::Yarn && rs.factor > 0.0) {
            mla.rope.nCtxOrig = int(rs.originalContext);
            mla.rope.extFactor = 1.f;
            mla.rope.betaFast = float(rs.yarnBetaFast);
            mla.rope.betaSlow = float(rs.yarnBetaSlow);
            mla.rope.attnFactor = float(1.0 / (1.0 + 0.1 * std::log(rs.factor)));
            mscale = 1.0 + rs.yarnLogMultiplier * std::log(rs.factor);
        }
        mla.scale = float(mscale * mscale / std::sqrt(double(mla.qkNope + mla.qkRope)));
        // V3.2's indexer rotates its first rope dims as NeoX halves, with the attention's
        // frequencies (llama.cpp's deepseek32 graph: LLAMA_ROPE_TYPE_NEOX).
        IndexerConfig indexer;
        if (p.indexerHeadDim > 0) {
            indexer.nHeads = int(p.indexerHeads);
            indexer.headDim = int(p.indexerHeadDim);
            indexer.topK = int(p.indexerTopK);
            indexer.rope = mla.rope;
            indexer.rope.neox = true;
            if (p.qLoraRank <= 0)
                fail(
                    "{}: the {} indexer reads the low-rank query; attention.q_lora_rank is 0", m_file->label(), p.arch);
        }

        auto scratch = std::make_shared<MlaScratch>();
        auto moeScratch = std::make_shared<MoeScratch>();
        std::vector<WeightMatrix> matrices;
        std::uint64_t owned = 0; // the transposed W_UK copies (mla.h) live outside the file
        m_layers.resize(std::size_t(p.nLayers));
        for (std::int64_t il = 0; il < p.nLayers; ++il) {
            Deepseek2Layer &l = m_layers[std::size_t(il)];
            l.attnNorm = m_weights.vector(WeightLoader::layerName(il, "attn_norm"), e);
            l.attention = MlaAttentionBlock::load(m_weights, il, e, mla, scratch);
            if (p.indexerHeadDim > 0) {
                l.indexer = LightningIndexer::load(m_weights, il, e, p.qLoraRank, indexer, true);
                l.indexer->collectMatrices(matrices);
            }
            l.ffnNorm = m_weights.vector(WeightLoader::layerName(il, "ffn_norm"), e);
            if (il < p.nLeadingDense)
                l.dense = GatedFfn::load(m_weights, il, e, p.nFf, GateActivation::Silu);
            else
                l.moe = MoeFfn::load(m_weights, il, e, moe, moeScratch);
            l.attention.collectMatrices(matrices);
            if (l.dense)
                l.dense->collectMatrices(matrices);
            else
                l.moe->collectMatrices(matrices);
            owned += l.attention.ownedBytes();
        }
        prepareLayerWeights(std::move(matrices), owned);
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Deepseek2Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y, l.indexer ? &*l.indexer : nullptr);
        pass.addResidual(pass.y);
        pass.norm(l.ffnNorm, eps, pass.x, pass.h);
        if (l.dense)
            l.dense->forward(pass, pass.h, pass.y);
        else
            l.moe->forward(pass, pass.h, pass.y);
        pass.addResidual(pass.y);
    }

    // V3 conversions may append multi-token-prediction layers (DeepSeek-V3 §2.2) after the model
    // proper; next-token generation does not run them, and their tensors are not counted.
    bool ignoresTensor(std::string_view name) const override
    {
        if (m_nextN == 0 || !name.starts_with("blk."))
            return false;
        std::int64_t layer = -1;
        const std::string_view rest = name.substr(4);
        std::from_chars(rest.data(), rest.data() + rest.size(), layer);
        return layer >= m_hparams.nLayers && layer < m_hparams.nLayers + m_nextN;
    }

private:
    void dropNextNLayers()
    {
        HParams &p = m_hparams;
        m_nextN = m_file->findInt(p.arch + ".nextn_predict_layers").value_or(0);
        if (m_nextN < 0 || m_nextN >= p.nLayers)
            fail("{}: {}.nextn_predict_layers {} does not fit block_count {}", m_file->label(), p.arch, m_nextN,
                p.nLayers);
        p.nLayers -= m_nextN;
    }

    std::int64_t m_nextN = 0;
    std::vector<Deepseek2Layer> m_layers; // [nLayers]
};

std::unique_ptr<Model> makeDeepseek2(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return std::make_unique<Deepseek2Model>(std::move(file), hp, std::move(backend), Deepseek2Options {});
}

} // namespace

std::unique_ptr<Model> makeDeepseek2Model(std::shared_ptr<const GgufFile> file, const HParams &hp,
    std::shared_ptr<Backend> backend, const Deepseek2Options &options)
{
    return std::make_unique<Deepseek2Model>(std::move(file), hp, std::move(backend), options);
}

// MLA's own latent cache by default; full K/V per head expanded from it for comparison.
const Architecture kDeepseek2Architecture {
    .name = "deepseek2",
    .readHParams = readDeepseek2HParams,
    .makeModel = makeDeepseek2,
    .kvModes = { KvMode::Mla, KvMode::Full },
    .runsOnDevice = false,
};

} // namespace nw
