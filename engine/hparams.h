// Model hyperparameters read from GGUF metadata (`<arch>.*` keys), one struct for every
// architecture the engine runs; fields an architecture does not use stay at their defaults. The
// keys every architecture shares are read here, each architecture's own in its file under
// engine/models/ (through the registry, engine/architecture.h).
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
    double factor = 1.0; // rope.scaling.factor (context extension factor)
    std::int64_t originalContext = 0; // rope.scaling.original_context_length
    // YaRN (DeepSeek-V2 §B / Peng et al. 2023); read only when type == Yarn.
    double yarnLogMultiplier = 0.0; // rope.scaling.yarn_log_multiplier (mscale_all_dim factor)
    double yarnBetaFast = 32.0;
    double yarnBetaSlow = 1.0;
};

struct HParams {
    std::string arch; // general.architecture: "llama", "qwen3", ... (engine/architecture.h)
    std::int64_t nLayers = 0; // block_count
    std::int64_t nEmbd = 0; // embedding_length (model width)
    std::int64_t nFf = 0; // feed_forward_length (dense FFN hidden size)
    std::int64_t nHeads = 0; // attention.head_count
    std::int64_t nKvHeads = 0; // attention.head_count_kv (== nHeads for MHA)
    std::int64_t headDimK = 0; // attention.key_length, default nEmbd / nHeads
    std::int64_t headDimV = 0; // attention.value_length, default nEmbd / nHeads
    std::int64_t nRot = 0; // rope.dimension_count, default headDimK
    std::int64_t nVocab = 0; // length of tokenizer.ggml.tokens (or <arch>.vocab_size)
    std::int64_t nCtxTrain = 0; // context_length
    double rmsEps = 1e-5; // attention.layer_norm_rms_epsilon
    double ropeFreqBase = 10000.0; // rope.freq_base
    RopeScaling ropeScaling;

    // Multi-head latent attention (deepseek2); 0 when the arch has none.
    std::int64_t qLoraRank = 0; // attention.q_lora_rank (0: Q projected directly, V2-Lite)
    std::int64_t kvLoraRank = 0; // attention.kv_lora_rank
    std::int64_t qkRopeHeadDim = 0; // rope.dimension_count for deepseek2
    std::int64_t qkNopeHeadDim = 0; // headDimK - qkRopeHeadDim
    // Mixture of experts (deepseek2); 0 when dense.
    std::int64_t nExperts = 0; // expert_count
    std::int64_t nExpertsUsed = 0; // expert_used_count
    std::int64_t nSharedExperts = 0; // expert_shared_count
    std::int64_t nLeadingDense = 0; // leading_dense_block_count
    std::int64_t nFfExpert = 0; // expert_feed_forward_length
    double expertWeightsScale = 1.0; // expert_weights_scale
    bool expertWeightsNorm = false; // expert_weights_norm
    std::int64_t expertGatingFunc = 0; // expert_gating_func (1 softmax, 2 sigmoid; 0 unset)

    // Fields below were added after the ones above; tests initialise the struct by designation,
    // so new fields go at the end.
    std::int64_t nExpertGroups = 1; // expert_group_count (DeepSeek-V3 group-limited routing)
    std::int64_t nExpertGroupsUsed = 1; // expert_group_used_count
    double ropeAttnFactor = 1.0; // rope.scaling.attn_factor (Phi-3 long-context factors)
    // Sliding-window attention: layers marked in slidingLayers attend only to the last
    // slidingWindow tokens (llama.cpp's LLAMA_SWA_TYPE_STANDARD) and cache only those.
    std::int64_t slidingWindow = 0; // attention.sliding_window; 0: no window layers
    std::vector<bool> slidingLayers; // [nLayers], or empty when no layer has a window
    double ropeFreqBaseSwa = 0.0; // rope.freq_base_swa for window layers; 0: ropeFreqBase
    double finalLogitSoftcap = 0.0; // final_logit_softcapping: logits = c · tanh(logits / c); 0: none
    // DeepSeek V3.2 / V4: the lightning indexer (attention.indexer.*; 0 when the arch has none)
    // and V4's per-layer KV compression (attention.compress_ratios: 0 window only, 4 CSA with
    // the indexer, 128 HCA), which decide the cache's stores (engine/kv_deepseek.cpp).
    std::int64_t indexerHeads = 0; // attention.indexer.head_count
    std::int64_t indexerHeadDim = 0; // attention.indexer.key_length
    std::int64_t indexerTopK = 0; // attention.indexer.top_k
    std::vector<std::int64_t> compressRatios; // [nLayers], or empty
    // Recurrent layers (Gated DeltaNet: qwen35, qwen35moe): the layers marked here hold a
    // fixed-size state (engine/recurrent_state.h) instead of K/V rows; the others attend.
    std::vector<bool> recurrentLayers; // [nLayers], or empty when every layer attends
    std::int64_t ssmConvKernel = 0; // ssm.conv_kernel: taps of the short convolution
    std::int64_t ssmInnerSize = 0; // ssm.inner_size: value heads × value head dim
    std::int64_t ssmStateSize = 0; // ssm.state_size: key (and value) head dim
    std::int64_t ssmTimeStepRank = 0; // ssm.time_step_rank: value heads
    std::int64_t ssmGroupCount = 0; // ssm.group_count: key/query heads
    std::int64_t nFfShared = 0; // expert_shared_feed_forward_length (0: nFf)
    // Layers that differ (Gemma 4): head_count_kv and feed_forward_length may list one value per
    // layer (nKvHeads / nFf then hold the largest), and window layers may have their own head
    // dims and rotated dims (attention.key_length_swa, value_length_swa, rope.dimension_count_swa).
    std::vector<std::int64_t> nKvHeadsPerLayer; // [nLayers], or empty: nKvHeads everywhere
    std::vector<std::int64_t> nFfPerLayer; // [nLayers], or empty: nFf everywhere
    std::int64_t headDimKSwa = 0; // 0: headDimK
    std::int64_t headDimVSwa = 0; // 0: headDimV
    std::int64_t nRotSwa = 0; // 0: nRot
    // attention.shared_kv_layers (Gemma 4 E2B / E4B): the last this many layers store no K/V and
    // attend over the rows of the last earlier layer of their kind (llama.cpp's layer reuse).
    std::int64_t nKvSharedLayers = 0;
    // DeepSeek V4 (engine/models/deepseek4.cpp); 0 / empty for the other architectures.
    std::int64_t oGroups = 0; // attention.output_group_count: heads grouped for the output projection
    std::int64_t oLoraRank = 0; // attention.output_lora_rank: each group's low rank
    double compressRopeFreqBase = 0.0; // attention.compress_rope_freq_base (compressed layers' RoPE)
    std::int64_t hcStreams = 0; // hyper_connection.count: residual streams
    std::int64_t hcSinkhornIters = 0; // hyper_connection.sinkhorn_iterations
    double hcEps = 0.0; // hyper_connection.epsilon
    std::int64_t nHashLayers = 0; // hash_layer_count: the first layers route experts by token id
    std::vector<double> swigluClampExp; // [nLayers] swiglu_clamp_exp (0: no clamp), or empty
    std::vector<double> swigluClampShexp; // [nLayers] swiglu_clamp_shexp, or empty

    bool hasMla() const { return kvLoraRank > 0; }
    std::int64_t gqaGroup() const { return nHeads / nKvHeads; } // query heads per KV head
    bool isSlidingLayer(std::int64_t layer) const
    {
        return slidingWindow > 0 && layer >= 0 && std::size_t(layer) < slidingLayers.size()
            && slidingLayers[std::size_t(layer)];
    }
    std::int64_t kvHeadsOf(std::int64_t layer) const
    {
        return nKvHeadsPerLayer.empty() ? nKvHeads : nKvHeadsPerLayer[std::size_t(layer)];
    }
    std::int64_t ffOf(std::int64_t layer) const { return nFfPerLayer.empty() ? nFf : nFfPerLayer[std::size_t(layer)]; }
    std::int64_t headDimKOf(std::int64_t layer) const
    {
        return isSlidingLayer(layer) && headDimKSwa > 0 ? headDimKSwa : headDimK;
    }
    std::int64_t headDimVOf(std::int64_t layer) const
    {
        return isSlidingLayer(layer) && headDimVSwa > 0 ? headDimVSwa : headDimV;
    }
    std::int64_t nRotOf(std::int64_t layer) const { return isSlidingLayer(layer) && nRotSwa > 0 ? nRotSwa : nRot; }
    bool isRecurrentLayer(std::int64_t layer) const
    {
        return layer >= 0 && std::size_t(layer) < recurrentLayers.size() && recurrentLayers[std::size_t(layer)];
    }

    // Reads the keys every architecture shares from `<arch>.*`, then the architecture's own
    // (engine/architecture.h); throws nw::Error naming the file and the key when a required one
    // is missing or inconsistent, or the arch and the supported ones when it is not supported.
    static HParams fromGguf(const GgufFile &file);
    // Checks the relations between fields (positive sizes, nHeads % nKvHeads == 0, ...); throws
    // nw::Error starting with `what` (a file name or table entry).
    void validate(std::string_view what) const;
};

// The `<arch>.*` keys of one file, as an architecture's hyperparameter reader sees them.
class ArchKeys {
public:
    ArchKeys(const GgufFile &file, std::string_view arch);

    const GgufFile &file() const { return m_file; }
    std::string key(std::string_view suffix) const; // "qwen3.rope.freq_base"
    std::int64_t requireInt(std::string_view suffix) const;
    std::int64_t findInt(std::string_view suffix, std::int64_t fallback) const;
    double findFloat(std::string_view suffix, double fallback) const;
    bool findBool(std::string_view suffix, bool fallback) const;
    bool has(std::string_view suffix) const;
    // An integer array (rope.dimension_sections, a per-layer flag list); empty when absent;
    // throws nw::Error when the key holds something else.
    std::vector<std::int64_t> findIntArray(std::string_view suffix) const;
    // A number array (per-layer limits); empty when absent; throws nw::Error when the key holds
    // something else.
    std::vector<double> findFloatArray(std::string_view suffix) const;

private:
    const GgufFile &m_file;
    std::string m_arch;
};

} // namespace nw
