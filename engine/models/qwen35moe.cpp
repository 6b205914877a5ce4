// Qwen3.5 / Qwen3.6 MoE (Qwen3.6-35B-A3B; llama.cpp's LLM_ARCH_QWEN35MOE): the qwen35 hybrid of
// Gated DeltaNet and gated attention layers (models/qwen35.cpp) with a mixture of experts in
// every layer: softmax over the router's logits, the top-k experts with their weights
// renormalised to sum 1, and a shared expert whose output is scaled by sigmoid(ffn_gate_inp_shexp
// · x) per token.
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/models/models.h"
#include "engine/models/qwen35.h"

namespace nw {
namespace {

void readQwen35MoeHParams(const ArchKeys &keys, HParams &hp)
{
    readQwen35HParams(keys, hp);
    if (hp.nExperts <= 0 || hp.nExpertsUsed <= 0)
        fail("{}: qwen35moe needs expert_count and expert_used_count, got {} and {}", keys.file().label(), hp.nExperts,
            hp.nExpertsUsed);
    // llama.cpp's fallbacks for files without the keys (llama_model_qwen35moe::load_arch_tensors).
    if (hp.nFfExpert <= 0)
        hp.nFfExpert = hp.nFf / hp.nExpertsUsed;
    hp.nFfShared = keys.findInt("expert_shared_feed_forward_length", hp.nFf);
    // The graph always has the shared expert and its gate (found by fuzz_model: 0 hit an assert).
    if (hp.nFfShared <= 0)
        fail("{}: {} must be positive, got {}", keys.file().label(), keys.key("expert_shared_feed_forward_length"),
            hp.nFfShared);
}

std::unique_ptr<Model> makeQwen35Moe(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return makeQwen35Model(std::move(file), hp, std::move(backend), true);
}

} // namespace

// As qwen35: full K/V on the attention layers, the recurrent state in f32, CPU only.
const Architecture kQwen35MoeArchitecture {
    .name = "qwen35moe",
    .readHParams = readQwen35MoeHParams,
    .makeModel = makeQwen35Moe,
    .kvModes = { KvMode::Full },
    .runsOnDevice = false,
};

} // namespace nw
