// The plain argument structs of the backend ops (weights, rope, paged KV views, attention):
// kept apart from the Backend class so CUDA sources, which nvcc compiles as C++17, can take the
// same structs the C++20 engine passes.
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace nw {

// A weight matrix as stored in the file: `rows` output features, each a row of `cols` input
// features in `type` (row-major; rows are rowStride bytes apart, rowBytes(type, cols) when dense).
// The data stays in its file type (no copies); matmul dispatches on `type`.
struct WeightMatrix {
    TensorType type = TensorType::F32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    const std::byte *data = nullptr; // [rows, rowStride] bytes
    std::size_t rowStride = 0;       // bytes between rows; 0 means rowBytes(type, cols)
};

// A dense weight matrix view (rowStride = rowBytes(type, cols)).
WeightMatrix denseWeights(TensorType type, std::int64_t rows, std::int64_t cols, const void *data);

// Rotary position embedding with ggml's semantics (ggml_rope_ext, rope_yarn in ggml-cpu ops.cpp).
struct RopeParams {
    int nDims = 0;             // rotated dims of each head, from the head's `offset`; even
    bool neox = false;         // false: adjacent pairs (x[2i], x[2i+1]) — GGUF llama & deepseek2;
                               // true: halves (x[i], x[i + nDims/2])
    float freqBase = 10000.f;  // theta_i = pos * freqBase^(-2i/nDims)
    float freqScale = 1.f;     // 1 / linear scaling factor
    const float *freqFactors = nullptr; // [nDims / 2] or null: pair i's angle is divided by
                                        // freqFactors[i] (llama 3.1 `rope_freqs.weight`)
    // YaRN (arXiv:2309.00071): extFactor > 0 blends interpolated and extrapolated angles over
    // the dims between the corr dims of betaFast and betaSlow for a context of nCtxOrig.
    int nCtxOrig = 0;
    float extFactor = 0.f;
    float attnFactor = 1.f;    // multiplies cos/sin (YaRN mscale)
    float betaFast = 32.f;
    float betaSlow = 1.f;
};

// One layer of a paged KV cache as attention reads it (and storeKv writes it): token t's rows
// live in physical block blockTable[t / blockSize] at row t % blockSize. A K row holds nKvHeads
// heads of kHeadDim elements, a V row nKvHeads heads of vHeadDim, both in `type`: F32, F16, or
// the quantized `+q8` / `+q4` rows Q8_0 / Q4_0 (ggml's blocks of 32 with an f16 scale; each head
// is whole blocks, so head h starts rowBytes(type, h * headDim) into the row).
// For MLA (absorbed form, DeepSeek-V2 §2.1.3): nKvHeads = 1, kHeadDim = kv_lora_rank + rope
// dims, and V is the first vHeadDim = kv_lora_rank elements of the SAME row (vBlocks == kBlocks,
// same strides).
struct KvLayerView {
    TensorType type = TensorType::F16;
    int blockSize = 0;                       // tokens per block
    const std::int32_t *blockTable = nullptr; // [ceil(nTokensInCache / blockSize)] block ids
    std::byte *kBlocks = nullptr;            // base of block 0's K rows
    std::size_t kBlockStride = 0;            // bytes between blocks
    std::size_t kRowStride = 0;              // bytes between rows of one block
    std::byte *vBlocks = nullptr;
    std::size_t vBlockStride = 0;
    std::size_t vRowStride = 0;
    int nKvHeads = 1;
    int kHeadDim = 0;
    int vHeadDim = 0;
};

struct AttentionArgs {
    const float *q = nullptr;                  // [nTokens, nHeads, kHeadDim]
    float *out = nullptr;                      // [nTokens, nHeads, vHeadDim]
    int nTokens = 0;
    int nHeads = 0;
    const std::int32_t *queryPositions = nullptr; // [nTokens]: query t sees cache tokens 0..pos[t]
    float scale = 1.f;                         // softmax(scale * q·k)
    // Sliding window (llama.cpp's LLAMA_SWA_TYPE_STANDARD): > 0 lets query t see only cache
    // tokens j with pos[t] - window < j <= pos[t]; 0 is plain causal attention.
    int window = 0;
    // Attention sinks (gpt-oss): per query head a logit that joins the softmax's denominator and
    // carries no value, so a head can attend to "nothing". [nHeads] host weights, or null.
    const float *sinks = nullptr;
    KvLayerView kv;
};

// How a mixture-of-experts router turns its logits into experts and weights.
enum class MoeGating {
    Softmax, // softmax over every expert's logit (DeepSeek-V2, Qwen3-MoE, Mixtral)
    Sigmoid, // independent sigmoid affinities (DeepSeek-V3)
    SoftmaxOfChosen, // top-k of the raw logits, weights a softmax over those k (gpt-oss)
};

struct MoeRouting {
    MoeGating gating = MoeGating::Softmax;
    int nExperts = 0;
    int nUsed = 0;                        // top-k
    bool normalize = false;               // the chosen weights are renormalised to sum 1
    float scale = 1.f;                    // applied to the weights after normalisation
    const float *selectionBias = nullptr; // [nExperts] V3 exp_probs_b, a host weight: added for the choice only
    // V3 group-limited routing: experts form nGroups equal groups; only the nGroupsUsed groups
    // with the largest sum of their two best (biased) affinities compete for the top-k.
    int nGroups = 1;
    int nGroupsUsed = 1;
};

} // namespace nw
