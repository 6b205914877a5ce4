// HParams from `<arch>.*` GGUF metadata; key names as gguf-py's constants.py spells them. The
// shared keys are read here, each architecture's own by its reader in the registry.
#include "engine/hparams.h"

#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace nw {

ArchKeys::ArchKeys(const GgufFile &file, std::string_view arch)
    : m_file(file)
    , m_arch(arch)
{
}

std::string ArchKeys::key(std::string_view suffix) const
{
    return fmt::format("{}.{}", m_arch, suffix);
}

std::int64_t ArchKeys::requireInt(std::string_view suffix) const
{
    const std::string k = key(suffix);
    if (const auto v = m_file.findInt(k))
        return *v;
    if (m_file.findValue(k))
        fail("{}: metadata '{}' is not an integer (per-layer arrays are not supported)", m_file.label(), k);
    fail("{}: metadata '{}' is missing", m_file.label(), k);
}

std::int64_t ArchKeys::findInt(std::string_view suffix, std::int64_t fallback) const
{
    const std::string k = key(suffix);
    if (const auto v = m_file.findInt(k))
        return *v;
    if (m_file.findValue(k))
        fail("{}: metadata '{}' is not an integer (per-layer arrays are not supported)", m_file.label(), k);
    return fallback;
}

double ArchKeys::findFloat(std::string_view suffix, double fallback) const
{
    return m_file.findFloat(key(suffix)).value_or(fallback);
}

bool ArchKeys::findBool(std::string_view suffix, bool fallback) const
{
    return m_file.findBool(key(suffix)).value_or(fallback);
}

bool ArchKeys::has(std::string_view suffix) const
{
    return m_file.findValue(key(suffix)) != nullptr;
}

std::vector<std::int64_t> ArchKeys::findIntArray(std::string_view suffix) const
{
    const std::string k = key(suffix);
    std::vector<std::int64_t> out;
    const GgufArray *array = m_file.findArray(k);
    if (!array) {
        if (m_file.findValue(k))
            fail("{}: metadata '{}' is not an array", m_file.label(), k);
        return out;
    }
    for (const GgufValue &v : array->values) {
        if (const auto *u = std::get_if<std::uint64_t>(&v))
            out.push_back(static_cast<std::int64_t>(*u));
        else if (const auto *i = std::get_if<std::int64_t>(&v))
            out.push_back(*i);
        else if (const auto *b = std::get_if<bool>(&v))
            out.push_back(*b ? 1 : 0);
        else
            fail("{}: metadata '{}' is not an array of integers", m_file.label(), k);
    }
    return out;
}

std::vector<double> ArchKeys::findFloatArray(std::string_view suffix) const
{
    const std::string k = key(suffix);
    std::vector<double> out;
    const GgufArray *array = m_file.findArray(k);
    if (!array) {
        if (m_file.findValue(k))
            fail("{}: metadata '{}' is not an array", m_file.label(), k);
        return out;
    }
    for (const GgufValue &v : array->values) {
        if (const auto *d = std::get_if<double>(&v))
            out.push_back(*d);
        else if (const auto *u = std::get_if<std::uint64_t>(&v))
            out.push_back(double(*u));
        else if (const auto *i = std::get_if<std::int64_t>(&v))
            out.push_back(double(*i));
        else
            fail("{}: metadata '{}' is not an array of numbers", m_file.label(), k);
    }
    return out;
}

namespace {

constexpr std::int64_t kMaxLayers = 512; // llama.cpp's LLAMA_MAX_LAYERS
// Head widths beyond any model's (the widest today: 576, an MLA latent with its rope dims), so
// the graphs' int arithmetic on them cannot overflow.
constexpr std::int64_t kMaxHeadDim = std::int64_t(1) << 16;
// Widths and expert counts far above any model's (DeepSeek V3: 18,432 wide, 256 experts), so that
// 2 x width and width x experts stay exact in the graphs' int and int64 arithmetic.
constexpr std::int64_t kMaxWidth = std::int64_t(1) << 20;
constexpr std::int64_t kMaxExperts = std::int64_t(1) << 16;
// What the graphs hold in an int: token ids, window lengths.
constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();

void checkLayerCount(std::string_view what, std::int64_t nLayers)
{
    if (nLayers <= 0 || nLayers > kMaxLayers)
        fail("{}: block_count must be within 1..{}, got {}", what, kMaxLayers, nLayers);
}

} // namespace

HParams HParams::fromGguf(const GgufFile &file)
{
    HParams hp;
    hp.arch = file.requireString("general.architecture");
    const Architecture &architecture = requireArchitecture(file.label(), hp.arch);
    const ArchKeys r(file, hp.arch);

    hp.nLayers = r.requireInt("block_count");
    hp.nEmbd = r.requireInt("embedding_length");
    hp.nHeads = r.requireInt("attention.head_count");
    // A per-layer list (Gemma 4) or one value for every layer.
    const auto perLayer = [&](std::string_view suffix) {
        return file.findArray(r.key(suffix)) ? r.findIntArray(suffix) : std::vector<std::int64_t> {};
    };
    hp.nFfPerLayer = perLayer("feed_forward_length");
    hp.nFf = hp.nFfPerLayer.empty() ? r.requireInt("feed_forward_length")
                                    : *std::max_element(hp.nFfPerLayer.begin(), hp.nFfPerLayer.end());
    hp.nKvHeadsPerLayer = perLayer("attention.head_count_kv");
    hp.nKvHeads = hp.nKvHeadsPerLayer.empty()
        ? r.findInt("attention.head_count_kv", hp.nHeads)
        : *std::max_element(hp.nKvHeadsPerLayer.begin(), hp.nKvHeadsPerLayer.end());
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
    hp.ropeAttnFactor = r.findFloat("rope.scaling.attn_factor", 1.0);

    // Mixture of experts: the counts every MoE architecture writes.
    hp.nExperts = r.findInt("expert_count", 0);
    hp.nExpertsUsed = r.findInt("expert_used_count", 0);
    hp.nFfExpert = r.findInt("expert_feed_forward_length", 0);
    hp.nExpertGroups = std::max<std::int64_t>(1, r.findInt("expert_group_count", 1));
    hp.nExpertGroupsUsed = r.findInt("expert_group_used_count", hp.nExpertGroups);

    if (const GgufArray *tokens = file.findArray("tokenizer.ggml.tokens"))
        hp.nVocab = static_cast<std::int64_t>(tokens->values.size());
    else
        hp.nVocab = r.findInt("vocab_size", 0);
    if (hp.nVocab <= 0)
        fail("{}: no vocabulary size (neither tokenizer.ggml.tokens nor {} is present)", file.label(),
            r.key("vocab_size"));

    // Architectures size per-layer tables by block_count: bound it before they read their keys.
    checkLayerCount(file.label(), hp.nLayers);
    architecture.readHParams(r, hp);
    hp.validate(file.label());
    return hp;
}

void HParams::validate(std::string_view what) const
{
    auto positive = [&](std::int64_t value, const char *name) {
        if (value <= 0)
            fail("{}: {} must be positive, got {}", what, name, value);
    };
    checkLayerCount(what, nLayers);
    positive(nEmbd, "embedding_length");
    positive(nFf, "feed_forward_length");
    positive(nHeads, "attention.head_count");
    positive(nKvHeads, "attention.head_count_kv");
    positive(headDimK, "attention.key_length");
    positive(headDimV, "attention.value_length");
    if (headDimK > kMaxHeadDim || headDimV > kMaxHeadDim)
        fail("{}: key and value lengths {} and {} must be at most {}", what, headDimK, headDimV, kMaxHeadDim);
    for (const auto &[value, name] : { std::pair { nEmbd, "embedding_length" },
             std::pair { nFf, "feed_forward_length" }, std::pair { nFfExpert, "expert_feed_forward_length" } })
        if (value < 0 || value > kMaxWidth)
            fail("{}: {} {} must be within 0..{}", what, name, value, kMaxWidth);
    if (nExperts < 0 || nExperts > kMaxExperts)
        fail("{}: expert_count {} must be within 0..{}", what, nExperts, kMaxExperts);
    positive(nVocab, "vocabulary size");
    if (nHeads % nKvHeads != 0)
        fail("{}: head_count {} is not a multiple of head_count_kv {}", what, nHeads, nKvHeads);
    if (nRot <= 0 || nRot > headDimK || nRot % 2 != 0)
        fail("{}: rope.dimension_count {} must be even and within the key length {}", what, nRot, headDimK);
    if (rmsEps <= 0.0)
        fail("{}: layer_norm_rms_epsilon must be positive, got {}", what, rmsEps);
    if (ropeFreqBase <= 0.0)
        fail("{}: rope.freq_base must be positive, got {}", what, ropeFreqBase);
    // A head's query or output row is nHeads x head dim wide: within a width, as any other.
    if (nHeads > kMaxWidth / std::max(headDimK, headDimV))
        fail("{}: head_count {} with key and value lengths {} and {} is wider than {}", what, nHeads, headDimK,
            headDimV, kMaxWidth);
    if (nVocab > kMaxInt)
        fail("{}: vocabulary size {} is above {} (token ids are 32-bit)", what, nVocab, kMaxInt);
    if (nExperts > 0 && (nExpertsUsed <= 0 || nExpertsUsed > nExperts))
        fail("{}: expert_used_count {} must be within 1..expert_count {}", what, nExpertsUsed, nExperts);
    if (nExpertGroups > kMaxExperts || nExpertGroupsUsed < 0 || nExpertGroupsUsed > nExpertGroups)
        fail("{}: expert_group_count {} and expert_group_used_count {} must satisfy 0 <= used <= count <= {}", what,
            nExpertGroups, nExpertGroupsUsed, kMaxExperts);
    if (slidingWindow < 0 || slidingWindow > kMaxInt)
        fail("{}: attention.sliding_window must be within 0..{}, got {}", what, kMaxInt, slidingWindow);
    if (!slidingLayers.empty() && std::int64_t(slidingLayers.size()) != nLayers)
        fail("{}: {} sliding-window layer flags for {} layers", what, slidingLayers.size(), nLayers);
    for (const auto &[list, name] : { std::pair { &nFfPerLayer, "feed_forward_length" },
             std::pair { &nKvHeadsPerLayer, "attention.head_count_kv" } }) {
        if (list->empty())
            continue;
        if (std::int64_t(list->size()) != nLayers)
            fail("{}: {} lists {} values for {} layers", what, name, list->size(), nLayers);
        for (std::int64_t v : *list)
            if (v <= 0 || v > kMaxWidth || (list == &nKvHeadsPerLayer && nHeads % v != 0))
                fail("{}: {} holds {}, which does not fit {} heads", what, name, v, nHeads);
    }
    if (!recurrentLayers.empty() && std::int64_t(recurrentLayers.size()) != nLayers)
        fail("{}: {} recurrent layer flags for {} layers", what, recurrentLayers.size(), nLayers);
}

} // namespace nw
