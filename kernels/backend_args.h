// The plain argument structs of the backend ops (weights, rope, paged KV views, attention):
// kept apart from the Backend class so CUDA sources, which nvcc compiles as C++17, can take the
// same structs the C++20 engine passes.
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace nw {

// A weight matrix as stored in the file: `rows` output features, each a row of `cols` input
// features in `type` (row-major; rows are rowStride bytes apart, rowBytes(type, cols) when dense).
// The data stays in its file type (no copies); matmul dispatches on `type`.
struct WeightMatrix {
    TensorType type = TensorType::F32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    const std::byte *data = nullptr; // [rows, rowStride] bytes
    std::size_t rowStride = 0; // bytes between rows; 0 means rowBytes(type, cols)
};

// A dense weight matrix view (rowStride = rowBytes(type, cols)).
WeightMatrix denseWeights(TensorType type, std::int64_t rows, std::int64_t cols, const void *data);

// Rotary position embedding with ggml's semantics (ggml_rope_ext, rope_yarn in ggml-cpu ops.cpp).
struct RopeParams {
    int nDims = 0; // rotated dims of each head, from the head's `offset`; even
    bool neox = false; // false: adjacent pairs (x[2i], x[2i+1]) — GGUF llama & deepseek2;
                       // true: halves (x[i], x[i + nDims/2])
    float freqBase = 10000.f; // theta_i = pos * freqBase^(-2i/nDims)
    float freqScale = 1.f; // 1 / linear scaling factor
    const float *freqFactors = nullptr; // [nDims / 2] or null: pair i's angle is divided by
                                        // freqFactors[i] (llama 3.1 `rope_freqs.weight`)
    // YaRN (arXiv:2309.00071): extFactor > 0 blends interpolated and extrapolated angles over
    // the dims between the corr dims of betaFast and betaSlow for a context of nCtxOrig.
    int nCtxOrig = 0;
    float extFactor = 0.f;
    float attnFactor = 1.f; // multiplies cos/sin (YaRN mscale)
    float betaFast = 32.f;
    float betaSlow = 1.f;
};

// One layer of a paged KV cache as attention reads it (and storeKv writes it): token t's rows
// live in physical block blockTable[t / blockSize] at row t % blockSize. A K row holds nKvHeads
// heads of kHeadDim elements in `type`, a V row nKvHeads heads of vHeadDim in valueType(): F32,
// F16, or the quantized `+q8` / `+q4` rows Q8_0 / Q4_0 (ggml's blocks of 32 with an f16 scale;
// each head is whole blocks, so head h starts rowBytes(type, h * headDim) into the row).
// Rows quantized after a Hadamard rotation (kRotation / vRotation > 0, kernels/cpu/hadamard.h):
// attention rotates each query head the same way and rotates each output head back.
// TurboQuant rows (`+tq2/3/4`, kBits / vBits > 0, kernels/cpu/turbo_quant.h): each head is an f16
// scale and packed b-bit codes, turboHeadBytes(bits, headDim) bytes; the type of that side is I8
// (bytes, which no other path reads as numbers). The CPU backend only.
// For MLA (absorbed form, DeepSeek-V2 §2.1.3): nKvHeads = 1, kHeadDim = kv_lora_rank + rope
// dims, and V is the first vHeadDim = kv_lora_rank elements of the SAME row (vBlocks == kBlocks,
// same strides).
struct KvLayerView {
    TensorType type = TensorType::F16; // K rows (and V rows unless vType says otherwise)
    std::optional<TensorType> vType; // V rows of another type (asymmetric `+K/V` modes)
    int blockSize = 0; // tokens per block
    const std::int32_t *blockTable = nullptr; // [ceil(nTokensInCache / blockSize)] block ids
    std::byte *kBlocks = nullptr; // base of block 0's K rows
    std::size_t kBlockStride = 0; // bytes between blocks
    std::size_t kRowStride = 0; // bytes between rows of one block
    std::byte *vBlocks = nullptr;
    std::size_t vBlockStride = 0;
    std::size_t vRowStride = 0;
    int nKvHeads = 1;
    int kHeadDim = 0;
    int vHeadDim = 0;
    int kRotation = 0; // Hadamard block each K head was rotated in before it was stored; 0: none
    int vRotation = 0; // the same for V heads (equal to kRotation for a shared row)
    int kBits = 0; // TurboQuant bits per coordinate of the K rows (type I8); 0: rows in `type`
    int vBits = 0; // the same for the V rows (valueType() I8)

    TensorType valueType() const { return vType.value_or(type); }
};

struct AttentionArgs {
    const float *q = nullptr; // [nTokens, nHeads, kHeadDim]
    float *out = nullptr; // [nTokens, nHeads, vHeadDim]
    int nTokens = 0;
    int nHeads = 0;
    const std::int32_t *queryPositions = nullptr; // [nTokens]: query t sees cache tokens 0..pos[t]
    float scale = 1.f; // softmax(scale * q·k)
    // Sliding window (llama.cpp's LLAMA_SWA_TYPE_STANDARD): > 0 lets query t see only cache
    // tokens j with pos[t] - window < j <= pos[t]; 0 is plain causal attention.
    int window = 0;
    // With a window: cache tokens j < sinkTokens stay visible to every query beside its window
    // (StreamingLLM's attention sinks, `+window:W+sinks:S`); 0: none. Not the learned `sinks`.
    int sinkTokens = 0;
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
    SqrtSoftplus, // sqrt(softplus(logit)) affinities (DeepSeek V4)
};

struct MoeRouting {
    MoeGating gating = MoeGating::Softmax;
    int nExperts = 0;
    int nUsed = 0; // top-k
    bool normalize = false; // the chosen weights are renormalised to sum 1
    float scale = 1.f; // applied to the weights after normalisation
    const float *selectionBias = nullptr; // [nExperts] V3 exp_probs_b, a host weight: added for the choice only
    // V3 group-limited routing: experts form nGroups equal groups; only the nGroupsUsed groups
    // with the largest sum of their two best (biased) affinities compete for the top-k.
    int nGroups = 1;
    int nGroupsUsed = 1;
    // Hash routing (DeepSeek V4's first layers): the experts are given, [nTokens, nUsed] in
    // backend memory (a table row per token id); only their weights come from the logits. Set
    // per call; null: the experts are chosen from the logits.
    const std::int32_t *fixedIds = nullptr;
};

// ---- DeepSeek V3.2 / V4 (sparse and compressed attention, hyper-connections) ----

// Rows of one paged source that a sparse-attention query reads: the view (K rows; V is the
// first vHeadDim elements of the same row when kv.vBlocks == kv.kBlocks, as in MLA and V4) and,
// for query t, either the row range [first[t], end[t]) or, when `rows` is set, the rows
// rows[t * maxRows + i] for i < maxRows, -1 marking an unused slot. Arrays in backend memory.
struct AttentionRows {
    KvLayerView kv;
    const std::int32_t *first = nullptr; // [nTokens]
    const std::int32_t *end = nullptr; // [nTokens]
    const std::int32_t *rows = nullptr; // [nTokens, maxRows] or null
    int maxRows = 0;
};

// Attention of each query over the rows its sources list (DeepSeek V3.2's top-k tokens, V4's
// window plus compressed entries), one softmax over all of them and the optional sinks. Every
// source has nKvHeads 1 or nHeads heads, the same kHeadDim and vHeadDim.
struct SparseAttentionArgs {
    const float *q = nullptr; // [nTokens, nHeads, kHeadDim]
    float *out = nullptr; // [nTokens, nHeads, vHeadDim]
    int nTokens = 0;
    int nHeads = 0;
    float scale = 1.f;
    const float *sinks = nullptr; // [nHeads] host weights, or null
    AttentionRows sources[2];
    int nSources = 1;
};

// The lightning indexer (DeepSeek V3.2 §2.1, V4): query t scores key j as
// Σ_h weights[t, h] · relu(q[t, h] · key[j]) over keys [0, end[t]) and keeps the topK best,
// best first; `selected` [nTokens, topK] gets their rows, -1 past the keys a query has.
struct LightningIndexerArgs {
    const float *q = nullptr; // [nTokens, nHeads, keys.kHeadDim]
    const float *weights = nullptr; // [nTokens, nHeads]
    KvLayerView keys; // one row of kHeadDim per key (nKvHeads 1)
    const std::int32_t *end = nullptr; // [nTokens]
    int nTokens = 0;
    int nHeads = 0;
    int topK = 0;
    std::int32_t *selected = nullptr; // [nTokens, topK]
};

// DeepSeek V4's compressor: block b of `ratio` tokens pools its rows into one entry,
// out[b, i] = Σ_j softmax_j(score[j, i]) · kv[j, i] over the block's tokens j (and, with
// overlap, the previous block's: CSA). A token's row in `rows` is [kv (coff·dim) | score
// (coff·dim)], coff = 2 with overlap (the previous-block half first) and 1 without; a -1 id in
// `prev` (the first block) is a zero row with score -inf.
struct SoftmaxPoolArgs {
    const float *rows = nullptr; // [*, 4·dim] with overlap, [*, 2·dim] without
    const std::int32_t *prev = nullptr; // [nBlocks, ratio] with overlap, else null
    const std::int32_t *cur = nullptr; // [nBlocks, ratio]
    int nBlocks = 0;
    int ratio = 0;
    int dim = 0;
    float *out = nullptr; // [nBlocks, dim]
};

// Manifold-constrained hyper-connections (DeepSeek V4): from the mixing logits of each token,
// mixes [nTokens, mixStride] = hc_fn · rmsnorm(streams), the weights that read the nStreams
// residual streams into a block (pre = sigmoid(scale[0]·m + base) + eps), write its output back
// (post = 2·sigmoid(scale[1]·m + base)) and mix the streams (comb: scale[2]·m + base, then
// Sinkhorn: softmax over dst, + eps, column normalisation, then sinkhornIters - 1 rounds of row
// and column normalisation). comb[t, src, dst]; post and comb null: pre only (the output head).
struct HyperMixArgs {
    const float *mixes = nullptr; // [nTokens, mixStride]: pre, post, then comb logits
    int mixStride = 0;
    int nTokens = 0;
    int nStreams = 0;
    const float *scale = nullptr; // [3] (head: [1]) host weights
    const float *base = nullptr; // [(2 + nStreams) · nStreams] (head: [nStreams]) host weights
    float eps = 0.f;
    int sinkhornIters = 0;
    float *pre = nullptr; // [nTokens, nStreams]
    float *post = nullptr; // [nTokens, nStreams] or null
    float *comb = nullptr; // [nTokens, nStreams (src), nStreams (dst)] or null
};

// Gated DeltaNet (Yang, Kautz & Hatamizadeh 2024, arXiv:2412.06464), the linear-attention layer of
// Qwen3-Next / Qwen3.5 as llama.cpp runs it (ggml_gated_delta_net). Per value head h a state
// matrix S [headDim (k), headDim (v)] is carried from token to token:
//   S ← exp(g) S;  u = β (v − Sᵀk);  S ← S + k uᵀ;  o = Sᵀq / sqrt(headDim)
// with q and k L2-normalised (x / max(|x|, normEps)), g = softplus(α + dtBias[h]) · decay[h] (≤ 0)
// and β = sigmoid(β logit). Value head h reads key/query head h % nKHeads (llama.cpp's tiling).
struct DeltaNetArgs {
    // One row per token of the short convolution's output: q [nKHeads, headDim], then k
    // [nKHeads, headDim], then v [nVHeads, headDim]; rows qkvStride floats apart.
    const float *qkv = nullptr;
    std::size_t qkvStride = 0;
    const float *alpha = nullptr; // [nTokens, nVHeads] decay logits (ssm_alpha · x)
    const float *beta = nullptr; // [nTokens, nVHeads] write-strength logits (ssm_beta · x)
    const float *dtBias = nullptr; // [nVHeads] host weight (ssm_dt.bias)
    const float *decay = nullptr; // [nVHeads] host weight, -exp(A_log) (ssm_a)
    float *state = nullptr; // [nVHeads, headDim (k), headDim (v)] f32, read and updated
    float *out = nullptr; // [nTokens, nVHeads, headDim]
    int nTokens = 0;
    int nKHeads = 0;
    int nVHeads = 0; // a multiple of nKHeads
    int headDim = 0; // key and value head dim (equal, as in every Qwen3.5)
    float normEps = 1e-6f;
};

// The short causal convolution in front of a recurrent layer (Mamba's conv1d, Gated DeltaNet's
// q/k/v conv; ggml_ssm_conv): each channel c convolves its own sequence with `kernel` taps,
//   y[t, c] = Σ_i weight[c, i] · x̃[t + i, c],   x̃ = [state (kernel − 1 rows); x]
// (tap kernel−1 meets the current token), optionally followed by SiLU; afterwards the state holds
// the last kernel − 1 rows of x̃, so the next batch continues the sequence.
struct ShortConvArgs {
    const float *x = nullptr; // [nTokens, channels]
    float *state = nullptr; // [kernel - 1, channels], read and updated
    const float *weight = nullptr; // [channels, kernel] host weight (ssm_conv1d.weight)
    float *y = nullptr; // [nTokens, channels] (must not alias x)
    int nTokens = 0;
    int channels = 0;
    int kernel = 0;
    bool silu = false;
};

} // namespace nw
