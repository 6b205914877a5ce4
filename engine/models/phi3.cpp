// Phi-3 / Phi-3.5 / Phi-4-mini (arXiv:2404.14219): the pre-norm layer with fused projections — one
// attn_qkv, and one ffn_up holding gate and up (2·n_ff rows, gate first; the FFN block splits
// it) — RoPE on NeoX halves over only part of each head (partial_rotary_factor), and LongRoPE's
// per-pair frequency divisors: rope_factors_short, or rope_factors_long once the context exceeds
// the original training context, with the attention factor the converter stored
// (rope.scaling.attn_factor). Tensor names as llama.cpp's LLM_ARCH_PHI3.
#include "common/log.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

namespace nw {
namespace {

// A file may set attention.sliding_window (Phi-3-mini's 2047; Phi-4-mini writes 0). llama.cpp
// turns Phi's window off (llama_model_phi3::load_arch_hparams, ggml-org/llama.cpp#13676: the
// converters do not say which layers use it), and so does this engine, to compute what it does.
void readPhi3HParams(const ArchKeys &keys, HParams &)
{
    if (const std::int64_t window = keys.findInt("attention.sliding_window", 0); window > 0)
        log::get("engine")->info("{}: phi3 sliding window {} is not applied (as llama.cpp does)", keys.file().label(),
                                 window);
}

std::unique_ptr<Model> makePhi3(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Neox);
    spec.ropeFactors = "rope_factors_short.weight";
    spec.longRopeFactors = "rope_factors_long.weight";
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

const Architecture kPhi3Architecture{
    .name = "phi3",
    .readHParams = readPhi3HParams,
    .makeModel = makePhi3,
    .kvModes = {KvMode::Full, KvMode::Latent},
    .runsOnDevice = false,
};

} // namespace nw
