// Model hyperparameters read from GGUF metadata (`<arch>.*` keys), one struct for every
// architecture the engine runs; fields an architecture does not use stay at their defaults.
// Key names follow llama.cpp's `llama-arch.cpp` / gguf-py `constants.py`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class GgufFile;

enum class RopeScalingType { None, Linear, Yarn };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;          // rope.scaling.factor (context extension factor)
    std::int64_t originalContext = 0; // rope.scaling.original_context_length
    // YaRN (DeepSeek-V2 §B / Peng et al. 2023); read only when type == Yarn.
    double yarnLogMultiplier = 0.0; // rope.scaling.yarn_log_multiplier (mscale_all_dim factor)
    double yarnBetaFast = 32.0;
    double yarnBetaSlow = 1.0;
};

struct HParams {
    std::string arch;               // general.architecture: "llama", "deepseek2"
    std::int64_t nLayers = 0;       // block_count
    std::int64_t nEmbd = 0;         // embedding_length (model width)
    std::int64_t nFf = 0;           // feed_forward_length (dense FFN hidden size)
    std::int64_t nHeads = 0;        // attention.head_count
    std::int64_t nKvHeads = 0;      // attention.head_count_kv (== nHeads for MHA)
    std::int64_t headDimK = 0;      // attention.key_length, default nEmbd / nHeads
    std::int64_t headDimV = 0;      // attention.value_length, default nEmbd / nHeads
    std::int64_t nRot = 0;          // rope.dimension_count, default headDimK
    std::int64_t nVocab = 0;        // length of tokenizer.ggml.tokens (or <arch>.vocab_size)
    std::int64_t nCtxTrain = 0;     // context_length
    double rmsEps = 1e-5;           // attention.layer_norm_rms_epsilon
    double ropeFreqBase = 10000.0;  // rope.freq_base
    RopeScaling ropeScaling;

    // Multi-head latent attention (deepseek2); 0 when the arch has none.
    std::int64_t qLoraRank = 0;     // attention.q_lora_rank (0: Q projected directly, V2-Lite)
    std::int64_t kvLoraRank = 0;    // attention.kv_lora_rank
    std::int64_t qkRopeHeadDim = 0; // rope.dimension_count for deepseek2
    std::int64_t qkNopeHeadDim = 0; // headDimK - qkRopeHeadDim
    // Mixture of experts (deepseek2); 0 when dense.
    std::int64_t nExperts = 0;          // expert_count
    std::int64_t nExpertsUsed = 0;      // expert_used_count
    std::int64_t nSharedExperts = 0;    // expert_shared_count
    std::int64_t nLeadingDense = 0;     // leading_dense_block_count
    std::int64_t nFfExpert = 0;         // expert_feed_forward_length
    double expertWeightsScale = 1.0;    // expert_weights_scale
    bool expertWeightsNorm = false;     // expert_weights_norm
    std::int64_t expertGatingFunc = 0;  // expert_gating_func (1 softmax, 2 sigmoid; 0 unset)

    bool hasMla() const { return kvLoraRank > 0; }
    std::int64_t gqaGroup() const { return nHeads / nKvHeads; } // query heads per KV head

    // Reads every value from `<arch>.*`; throws nw::Error naming the file and the key when a
    // required one is missing or inconsistent, or the arch when it is not supported.
    static HParams fromGguf(const GgufFile &file);
    // Checks the relations between fields (positive sizes, nHeads % nKvHeads == 0, ...); throws
    // nw::Error starting with `what` (a file name or table entry).
    void validate(std::string_view what) const;
};

// Architectures this engine can run, for messages ("llama, deepseek2").
const std::vector<std::string> &supportedArchitectures();
bool isSupportedArchitecture(std::string_view arch);

} // namespace nw
