// gpt-oss (OpenAI, 2025; gpt-oss-20b / 120b): the pre-norm layer
//   x += Attention(RMSNorm(x));  x += MoE(RMSNorm(x))
// where attention has QKV and output biases, per-head sinks (a learned logit in every softmax's
// denominator) and, on every other layer, a 128-token sliding window; RoPE on NeoX halves with
// YaRN scaling; the MoE router has a bias, picks the top-k logits and weighs them by a softmax over
// those k, and its experts have biases and a clamped SwiGLU (alpha 1.702, limit 7). Tensor names
// as llama.cpp's LLM_ARCH_OPENAI_MOE ("gpt-oss").
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

#include <cmath>

namespace nw {
namespace {

// llama_model_openai_moe::load_arch_hparams: window layers where il % period < period - 1
// (attention.sliding_window_pattern, default 2: the even layers), their RoPE base
// rope.freq_base_swa or the global one.
void readGptOssHParams(const ArchKeys &keys, HParams &hp)
{
    const std::string_view label = keys.file().label();
    if (hp.nExperts <= 0 || hp.nExpertsUsed <= 0 || hp.nFfExpert <= 0)
        fail("{}: gpt-oss needs expert_count, expert_used_count and expert_feed_forward_length", label);
    hp.slidingWindow = keys.requireInt("attention.sliding_window");
    const std::int64_t period = keys.findInt("attention.sliding_window_pattern", 2);
    if (hp.slidingWindow <= 0 || period < 1)
        fail("{}: gpt-oss sliding window {} (pattern {}) must be positive", label, hp.slidingWindow, period);
    hp.slidingLayers.resize(std::size_t(hp.nLayers));
    for (std::int64_t il = 0; il < hp.nLayers; ++il)
        hp.slidingLayers[std::size_t(il)] = il % period < period - 1;
    hp.ropeFreqBaseSwa = keys.findFloat("rope.freq_base_swa", hp.ropeFreqBase);
}

std::unique_ptr<Model> makeGptOss(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                  std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Neox);
    spec.attention.sinks = true;
    spec.adjustLayer = [&hp](std::int64_t il, AttentionConfig &c) {
        if (hp.isSlidingLayer(il)) {
            c.window = int(hp.slidingWindow);
            c.rope.freqBase = float(hp.ropeFreqBaseSwa);
        }
    };
    MoeConfig moe;
    moe.routing.gating = MoeGating::SoftmaxOfChosen;
    moe.routing.nExperts = int(hp.nExperts);
    moe.routing.nUsed = int(hp.nExpertsUsed);
    moe.nFfExpert = hp.nFfExpert;
    moe.oaiAlpha = 1.702f; // llama.cpp's LLM_FFN_SWIGLU_OAI_MOE constants
    moe.oaiLimit = 7.f;
    spec.moe = moe;
    spec.ffnNorm = "post_attention_norm";
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

// latent:R applies: no QK-norm, and the K/V biases enter through the factors.
const Architecture kGptOssArchitecture{
    .name = "gpt-oss",
    .readHParams = readGptOssHParams,
    .makeModel = makeGptOss,
    .kvModes = {KvMode::Full, KvMode::Latent},
    .runsOnDevice = false,
};

} // namespace nw
