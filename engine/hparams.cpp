// HParams from `<arch>.*` GGUF metadata; key names as gguf-py's constants.py spells them.
#include "engine/hparams.h"

#include "common/error.h"
#include "engine/gguf_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>

namespace nw {

const std::vector<std::string> &supportedArchitectures()
{
    static const std::vector<std::string> archs = {"llama", "deepseek2"};
    return archs;
}

bool isSupportedArchitecture(std::string_view arch)
{
    const auto &archs = supportedArchitectures();
    return std::find(archs.begin(), archs.end(), arch) != archs.end();
}

namespace {

class Reader {
public:
    Reader(const GgufFile &file, std::string arch) : m_file(file), m_arch(std::move(arch)) {}

    std::string key(std::string_view suffix) const { return fmt::format("{}.{}", m_arch, suffix); }

    std::int64_t requireInt(std::string_view suffix) const
    {
        const std::string k = key(suffix);
        if (const auto v = m_file.findInt(k))
            return *v;
        if (m_file.findValue(k))
            fail("{}: metadata '{}' is not an integer (per-layer arrays are not supported)", m_file.label(), k);
        fail("{}: metadata '{}' is missing", m_file.label(), k);
    }
    std::int64_t findInt(std::string_view suffix, std::int64_t fallback) const
    {
        return m_file.findInt(key(suffix)).value_or(fallback);
    }
    double findFloat(std::string_view suffix, double fallback) const
    {
        return m_file.findFloat(key(suffix)).value_or(fallback);
    }

private:
    const GgufFile &m_file;
    std::string m_arch;
};

} // namespace

HParams HParams::fromGguf(const GgufFile &file)
{
    HParams hp;
    hp.arch = file.requireString("general.architecture");
    if (!isSupportedArchitecture(hp.arch))
        fail("{}: architecture '{}' is not supported (supported: {})", file.label(), hp.arch,
             fmt::join(supportedArchitectures(), ", "));
    const Reader r(file, hp.arch);

    hp.nLayers = r.requireInt("block_count");
    hp.nEmbd = r.requireInt("embedding_length");
    hp.nFf = r.requireInt("feed_forward_length");
    hp.nHeads = r.requireInt("attention.head_count");
    hp.nKvHeads = r.findInt("attention.head_count_kv", hp.nHeads);
    const std::int64_t defaultHeadDim = hp.nHeads > 0 ? hp.nEmbd / hp.nHeads : 0;
    hp.headDimK = r.findInt("attention.key_length", defaultHeadDim);
    hp.headDimV = r.findInt("attention.value_length", defaultHeadDim);
    hp.nRot = r.findInt("rope.dimension_count", hp.headDimK);
    hp.nCtxTrain = r.requireInt("context_length");
    hp.rmsEps = r.findFloat("attention.layer_norm_rms_epsilon", 1e-5);
    hp.ropeFreqBase = r.findFloat("rope.freq_base", 10000.0);

    const std::optional<std::string> scalingType = file.findString(r.key("rope.scaling.type"));
    if (scalingType == "linear")
        hp.ropeScaling.type = RopeScalingType::Linear;
    else if (scalingType == "yarn")
        hp.ropeScaling.type = RopeScalingType::Yarn;
    else if (scalingType && *scalingType != "none")
        fail("{}: rope scaling type '{}' is not supported (none, linear, yarn)", file.label(), *scalingType);
    // Older files have only rope.scale_linear, which implies linear scaling.
    hp.ropeScaling.factor = r.findFloat("rope.scaling.factor", r.findFloat("rope.scale_linear", 1.0));
    if (!scalingType && hp.ropeScaling.factor != 1.0)
        hp.ropeScaling.type = RopeScalingType::Linear;
    hp.ropeScaling.originalContext = r.findInt("rope.scaling.original_context_length", hp.nCtxTrain);
    hp.ropeScaling.yarnLogMultiplier = r.findFloat("rope.scaling.yarn_log_multiplier", 0.0);
    hp.ropeScaling.yarnBetaFast = r.findFloat("rope.scaling.yarn_beta_fast", 32.0);
    hp.ropeScaling.yarnBetaSlow = r.findFloat("rope.scaling.yarn_beta_slow", 1.0);

    if (const GgufArray *tokens = file.findArray("tokenizer.ggml.tokens"))
        hp.nVocab = static_cast<std::int64_t>(tokens->values.size());
    else
        hp.nVocab = r.findInt("vocab_size", 0);
    if (hp.nVocab <= 0)
        fail("{}: no vocabulary size (neither tokenizer.ggml.tokens nor {} is present)", file.label(),
             r.key("vocab_size"));

    if (hp.arch == "deepseek2") {
        hp.qLoraRank = r.findInt("attention.q_lora_rank", 0);
        hp.kvLoraRank = r.requireInt("attention.kv_lora_rank");
        // Newer conversions describe the MQA view of the latent in key_length / value_length
        // (kv_lora_rank + rope, kv_lora_rank) and the real head dims in the *_mla keys; the rest
        // of the engine (full-mode cache, the MHA baseline of the meters) wants the real ones.
        hp.headDimK = r.findInt("attention.key_length_mla", hp.headDimK);
        hp.headDimV = r.findInt("attention.value_length_mla", hp.headDimV);
        hp.nKvHeads = hp.nHeads; // every head has its own K and V once expanded
        hp.qkRopeHeadDim = hp.nRot;
        hp.qkNopeHeadDim = hp.headDimK - hp.qkRopeHeadDim;
        hp.nExperts = r.findInt("expert_count", 0);
        hp.nExpertsUsed = r.findInt("expert_used_count", 0);
        hp.nSharedExperts = r.findInt("expert_shared_count", 0);
        hp.nLeadingDense = r.findInt("leading_dense_block_count", 0);
        hp.nFfExpert = r.findInt("expert_feed_forward_length", 0);
        hp.expertWeightsScale = r.findFloat("expert_weights_scale", 1.0);
        hp.expertWeightsNorm = file.findBool(r.key("expert_weights_norm")).value_or(false);
        hp.expertGatingFunc = r.findInt("expert_gating_func", 0);
    }
    hp.validate(file.label());
    return hp;
}

void HParams::validate(std::string_view what) const
{
    auto positive = [&](std::int64_t value, const char *name) {
        if (value <= 0)
            fail("{}: {} must be positive, got {}", what, name, value);
    };
    positive(nLayers, "block_count");
    positive(nEmbd, "embedding_length");
    positive(nFf, "feed_forward_length");
    positive(nHeads, "attention.head_count");
    positive(nKvHeads, "attention.head_count_kv");
    positive(headDimK, "attention.key_length");
    positive(headDimV, "attention.value_length");
    positive(nVocab, "vocabulary size");
    if (nHeads % nKvHeads != 0)
        fail("{}: head_count {} is not a multiple of head_count_kv {}", what, nHeads, nKvHeads);
    if (nRot <= 0 || nRot > headDimK || nRot % 2 != 0)
        fail("{}: rope.dimension_count {} must be even and within the key length {}", what, nRot, headDimK);
    if (rmsEps <= 0.0)
        fail("{}: layer_norm_rms_epsilon must be positive, got {}", what, rmsEps);
    if (ropeFreqBase <= 0.0)
        fail("{}: rope.freq_base must be positive, got {}", what, ropeFreqBase);
    if (arch == "deepseek2") {
        positive(kvLoraRank, "attention.kv_lora_rank");
        if (qkNopeHeadDim <= 0)
            fail("{}: key_length {} leaves no room beside the rope dims {}", what, headDimK, qkRopeHeadDim);
    }
}

} // namespace nw
