// The layer most decoder families share, as one model whose architecture only says which
// options its blocks take:
//   x += Attention(RMSNorm(x) · attn_norm);  x += FFN(RMSNorm(x) · ffn_norm)
// with a gated dense FFN or a mixture of experts in every layer (Llama, Qwen2/3, Qwen3-MoE, Phi-3).
#pragma once

#include "engine/graph/attention.h"
#include "engine/graph/ffn.h"
#include "engine/graph/moe_ffn.h"
#include "engine/model.h"

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace nw {

struct PreNormDecoderSpec {
    AttentionConfig attention;
    // Per-pair RoPE divisors [nRot / 2] by tensor name (Llama 3.1's "rope_freqs.weight", Phi-3's
    // "rope_factors_short.weight"), and LongRoPE's long table used above the original context.
    std::string_view ropeFactors;
    std::string_view longRopeFactors;
    GateActivation activation = GateActivation::Silu;
    std::optional<MoeConfig> moe; // every layer's FFN is a mixture of experts
    std::string_view ffnNorm = "ffn_norm"; // the FFN's pre-norm (gpt-oss: post_attention_norm)
    // Per-layer changes to `attention` (a window layer's window and RoPE base), or empty.
    std::function<void(std::int64_t layer, AttentionConfig &config)> adjustLayer;
};

// The attention options every family starts from: heads and head dims from hp, RoPE over nRot
// dims of each head in `style` from rope.freq_base with the file's scaling, softmax scale
// 1 / sqrt(headDimK).
AttentionConfig attentionFromHParams(const HParams &hp, RopeStyle style);

std::unique_ptr<Model> makePreNormDecoder(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                          std::shared_ptr<Backend> backend, const PreNormDecoderSpec &spec);

} // namespace nw
