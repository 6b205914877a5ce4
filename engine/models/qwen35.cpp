// Qwen3.5 / Qwen3.6 dense (Qwen3.6-27B; llama.cpp's LLM_ARCH_QWEN35, src/models/qwen35.cpp): a
// hybrid of Gated DeltaNet layers (engine/graph/delta_net.h) and gated full-attention layers —
// by default every fourth layer attends (full_attention_interval 4), the others are recurrent —
// each followed by a SwiGLU FFN (qwen35) or a mixture of experts with a gated shared expert
// (qwen35moe, models/qwen35moe.cpp):
//   x += Mixer(RMSNorm(x) · attn_norm);  x += FFN(RMSNorm(x) · post_attention_norm)
// The attention layers have QK-norm, a sigmoid output gate per head and multi-section RoPE
// (IMRoPE over rope.dimension_sections) on the first nRot dims of each head; for text every
// section gets the token's position, so it is NeoX RoPE, which is what runs here (the sections
// are checked to say so). A multi-token-prediction block appended after the layers
// (nextn_predict_layers) is not run, and its tensors are left alone.
#include "engine/models/qwen35.h"

#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/attention.h"
#include "engine/graph/decoder_model.h"
#include "engine/graph/delta_net.h"
#include "engine/graph/ffn.h"
#include "engine/graph/moe_ffn.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

#include <fmt/ranges.h>

#include <charconv>
#include <limits>
#include <optional>

namespace nw {

void readQwen35HParams(const ArchKeys &keys, HParams &hp)
{
    const std::string label = keys.file().label();
    hp.ssmConvKernel = keys.requireInt("ssm.conv_kernel");
    hp.ssmInnerSize = keys.requireInt("ssm.inner_size");
    hp.ssmStateSize = keys.requireInt("ssm.state_size");
    hp.ssmTimeStepRank = keys.requireInt("ssm.time_step_rank");
    hp.ssmGroupCount = keys.requireInt("ssm.group_count");
    // The graph holds them as int (found by fuzz_model: 2^32 became 0 and reached an assert).
    for (const std::int64_t v :
        { hp.ssmConvKernel, hp.ssmInnerSize, hp.ssmStateSize, hp.ssmTimeStepRank, hp.ssmGroupCount })
        if (v > std::numeric_limits<std::int32_t>::max())
            fail("{}: Gated DeltaNet size {} is out of range", label, v);
    if (hp.ssmConvKernel < 1 || hp.ssmStateSize <= 0 || hp.ssmTimeStepRank <= 0 || hp.ssmGroupCount <= 0
        || hp.ssmTimeStepRank % hp.ssmGroupCount != 0 || hp.ssmInnerSize != hp.ssmTimeStepRank * hp.ssmStateSize)
        fail("{}: Gated DeltaNet sizes do not fit: conv kernel {}, {} value heads over {} key heads, head dim {}, "
             "inner size {} (must be value heads × head dim)",
            label, hp.ssmConvKernel, hp.ssmTimeStepRank, hp.ssmGroupCount, hp.ssmStateSize, hp.ssmInnerSize);

    // The gated attention layers gate each value by a slice as wide as a key head (found by
    // fuzz_model: other widths reached an assert in AttentionBlock::load).
    if (hp.headDimK != hp.headDimV)
        fail("{}: attention.key_length {} and value_length {} must be equal (gated attention)", label, hp.headDimK,
            hp.headDimV);

    // block_count counts the multi-token-prediction layers, appended after the model's own.
    const std::int64_t nextN = keys.findInt("nextn_predict_layers", 0);
    if (nextN < 0 || nextN >= hp.nLayers)
        fail("{}: {} is {} for {} blocks", label, keys.key("nextn_predict_layers"), nextN, hp.nLayers);
    hp.nLayers -= nextN;

    std::vector<std::int64_t> recurrent = keys.findIntArray("attention.recurrent_layers");
    hp.recurrentLayers.assign(std::size_t(hp.nLayers), false);
    if (!recurrent.empty()) {
        if (std::int64_t(recurrent.size()) < hp.nLayers)
            fail("{}: {} has {} entries for {} layers", label, keys.key("attention.recurrent_layers"), recurrent.size(),
                hp.nLayers);
        for (std::int64_t il = 0; il < hp.nLayers; ++il)
            hp.recurrentLayers[std::size_t(il)] = recurrent[std::size_t(il)] != 0;
    } else {
        const std::int64_t interval = keys.findInt("full_attention_interval", 4);
        if (interval < 1)
            fail("{}: {} must be positive, got {}", label, keys.key("full_attention_interval"), interval);
        for (std::int64_t il = 0; il < hp.nLayers; ++il)
            hp.recurrentLayers[std::size_t(il)] = (il + 1) % interval != 0;
    }

    // IMRoPE (ggml's GGML_ROPE_TYPE_IMROPE): rotated pair i takes the position of section t, h or
    // w by i % 3 while i is within three times that section's size, else the fourth (e), which
    // text tokens set to 0. Text gives t, h and w the same position, so the rotation is NeoX
    // RoPE unless some pair falls to e.
    const std::vector<std::int64_t> sections = keys.findIntArray("rope.dimension_sections");
    if (sections.size() < 3)
        fail("{}: {} must list the RoPE sections (found {} values)", label, keys.key("rope.dimension_sections"),
            sections.size());
    // The common checks run after this reader: bound the rotated width here, before the loop
    // below walks its pairs (a fuzzed rope.dimension_count of 2^62 would otherwise spin).
    if (hp.nRot <= 0 || hp.nRot > hp.headDimK || hp.nRot % 2 != 0)
        fail("{}: rope.dimension_count {} must be even and within the key length {}", label, hp.nRot, hp.headDimK);
    std::int64_t total = 0;
    for (std::size_t i = 0; i < std::min<std::size_t>(sections.size(), 4); ++i) {
        if (sections[i] < 0 || sections[i] > hp.nRot)
            fail("{}: {} [{}] must lie within 0..{}", label, keys.key("rope.dimension_sections"),
                fmt::join(sections, ", "), hp.nRot);
        total += sections[i];
    }
    for (std::int64_t pair = 0; pair < hp.nRot / 2 && total > 0; ++pair) {
        const std::int64_t sector = pair % total;
        const bool positioned = (sector % 3 == 0 && sector < 3 * sections[0])
            || (sector % 3 == 1 && sector < 3 * sections[1]) || (sector % 3 == 2 && sector < 3 * sections[2]);
        if (!positioned)
            fail("{}: rope.dimension_sections [{}] rotate dim pair {} of {} by the fourth section's position; "
                 "only sections that cover every rotated pair with the text position are supported",
                label, fmt::join(sections, ", "), pair, hp.nRot / 2);
    }
    if (total <= 0)
        fail("{}: {} are all zero", label, keys.key("rope.dimension_sections"));
}

namespace {

struct Qwen35Layer {
    const float *attnNorm = nullptr; // [nEmbd]
    std::optional<GatedDeltaNetBlock> deltaNet;
    std::optional<AttentionBlock> attention;
    const float *postAttnNorm = nullptr; // [nEmbd] the FFN's pre-norm
    std::optional<GatedFfn> ffn;
    std::optional<MoeFfn> moe;
};

class Qwen35Model final : public DecoderModel {
public:
    Qwen35Model(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend, bool moe)
        : DecoderModel(std::move(file), hp, std::move(backend))
    {
        m_nextN = m_file->findInt(hp.arch + ".nextn_predict_layers").value_or(0);
        const std::int64_t e = hp.nEmbd;
        AttentionConfig attention = attentionFromHParams(hp, RopeStyle::Neox);
        attention.qkNorm = true;
        attention.outputGate = true;
        DeltaNetConfig deltaNet;
        deltaNet.nKHeads = int(hp.ssmGroupCount);
        deltaNet.nVHeads = int(hp.ssmTimeStepRank);
        deltaNet.headDim = int(hp.ssmStateSize);
        deltaNet.convKernel = int(hp.ssmConvKernel);
        deltaNet.normEps = float(hp.rmsEps);
        MoeConfig moeConfig;
        if (moe) {
            moeConfig.routing.gating = MoeGating::Softmax;
            moeConfig.routing.nExperts = int(hp.nExperts);
            moeConfig.routing.nUsed = int(hp.nExpertsUsed);
            moeConfig.routing.normalize = true;
            moeConfig.nFfExpert = hp.nFfExpert;
            moeConfig.nFfShared = hp.nFfShared;
            moeConfig.sharedGate = true;
        }
        std::vector<WeightMatrix> matrices;
        auto moeScratch = std::make_shared<MoeScratch>();
        m_layers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il) {
            Qwen35Layer &l = m_layers[std::size_t(il)];
            l.attnNorm = m_weights.vector(WeightLoader::layerName(il, "attn_norm"), e);
            if (hp.isRecurrentLayer(il)) {
                l.deltaNet = GatedDeltaNetBlock::load(m_weights, il, e, deltaNet);
                l.deltaNet->collectMatrices(matrices);
            } else {
                l.attention = AttentionBlock::load(m_weights, il, e, attention);
                l.attention->collectMatrices(matrices);
            }
            l.postAttnNorm = m_weights.vector(WeightLoader::layerName(il, "post_attention_norm"), e);
            if (moe) {
                l.moe = MoeFfn::load(m_weights, il, e, moeConfig, moeScratch);
                l.moe->collectMatrices(matrices);
            } else {
                l.ffn = GatedFfn::load(m_weights, il, e, hp.nFf, GateActivation::Silu);
                l.ffn->collectMatrices(matrices);
            }
        }
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Qwen35Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        if (l.deltaNet)
            l.deltaNet->forward(pass, il, pass.h, pass.y);
        else
            l.attention->forward(pass, il, pass.h, pass.y);
        pass.addResidual(pass.y);
        pass.norm(l.postAttnNorm, eps, pass.x, pass.h);
        if (l.moe)
            l.moe->forward(pass, pass.h, pass.y);
        else
            l.ffn->forward(pass, pass.h, pass.y);
        pass.addResidual(pass.y);
    }

    // The multi-token-prediction block (blk.<nLayers>... and its nextn.* tensors) drafts tokens
    // for speculative decoding; plain next-token generation does not run it.
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
    std::vector<Qwen35Layer> m_layers; // [nLayers]
    std::int64_t m_nextN = 0;
};

void readQwen35DenseHParams(const ArchKeys &keys, HParams &hp)
{
    readQwen35HParams(keys, hp);
}

std::unique_ptr<Model> makeQwen35(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return makeQwen35Model(std::move(file), hp, std::move(backend), false);
}

} // namespace

std::unique_ptr<Model> makeQwen35Model(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend, bool moe)
{
    return std::make_unique<Qwen35Model>(std::move(file), hp, std::move(backend), moe);
}

// Full K/V on the attention layers (+q8 / +q4 where the head dims allow); the recurrent layers
// keep their f32 state in every mode. No latent:R: QK-norm (see qwen3.cpp). CPU only: the
// DeltaNet ops have no CUDA kernels yet.
const Architecture kQwen35Architecture {
    .name = "qwen35",
    .readHParams = readQwen35DenseHParams,
    .makeModel = makeQwen35,
    .kvModes = { KvMode::Full },
    .runsOnDevice = false,
};

} // namespace nw
