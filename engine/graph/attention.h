// The attention block of GQA/MHA transformers, with every option the supported families use:
// separate or fused QKV projections, optional biases (Qwen2), RMSNorm per head on Q and K
// (Qwen3, Gemma 3), RoPE in adjacent pairs or NeoX halves over all or part of each head, with
// frequency factors, YaRN and LongRoPE's long/short factor tables (Phi-3), a sliding window,
// per-head attention sinks (gpt-oss), a sigmoid output gate per head (Qwen3-Next / Qwen3.5),
// normalised values and keys doubling as values (Gemma 4), the KV store into the paged cache and
// the output projection. In a latent:R cache the keys and
// values go through engine/latent_kv.h instead.
#pragma once

#include "engine/graph/forward_pass.h"
#include "kernels/backend_args.h"

#include <cstdint>
#include <vector>

namespace nw {

class WeightLoader;
struct HParams;

// RoPE pairs: adjacent (x[2i], x[2i+1]; GGUF llama, deepseek2, whose Q/K rows were permuted at
// conversion) or NeoX halves (x[i], x[i + nDims/2]; Qwen, Phi-3, Gemma, gpt-oss).
enum class RopeStyle { Adjacent, Neox };

// RoPE as llama.cpp sets it up from the file (llama-context.cpp): nDims rotated dims of each
// head from `freqBase`, the file's linear or YaRN scaling, and rope.scaling.attn_factor.
RopeParams ropeFromHParams(const HParams &hp, RopeStyle style, int nDims, double freqBase);

struct AttentionConfig {
    int nHeads = 0;
    int nKvHeads = 0;
    int headDimK = 0;
    int headDimV = 0;
    RopeParams rope; // nDims 0: no rotation
    // LongRoPE (Phi-3): a cache longer than longRopeAbove tokens rotates with these factors
    // instead of rope.freqFactors (llama.cpp picks by the context size, llama_model::get_rope_factors).
    const float *longRopeFactors = nullptr; // [rope.nDims / 2]
    std::int64_t longRopeAbove = 0;
    float scale = 1.f; // softmax(scale · q·k)
    int window = 0; // sliding window of this layer (tokens); 0: all earlier tokens
    bool qkNorm = false; // RMSNorm on every Q and K head before RoPE
    float normEps = 1e-6f;
    bool sinks = false; // per-head attention sinks (attn_sinks.weight)
    // Gated attention (Qwen3-Next / Qwen3.5): attn_q yields each head's query followed by its
    // gate, [nHeads, 2, headDimK]; the attention output is multiplied by sigmoid(gate) before W_o.
    bool outputGate = false;
    // Gemma 4: V heads RMS-normalised without a weight; a layer without attn_v uses its keys'
    // projection (before the K norm and RoPE) as values.
    bool valueNorm = false;
    bool valueFromKey = false;
    // Gemma 4 E2B / E4B's shared-KV layers: no K/V of its own; attends over the rows of this
    // earlier layer (KvLayerPlan::sharedFrom). -1: the layer's own.
    std::int64_t kvLayer = -1;
};

class AttentionBlock {
public:
    // blk.<layer>.attn_q/k/v.weight (or the fused attn_qkv.weight), their optional .bias,
    // attn_q_norm / attn_k_norm when config.qkNorm, attn_output.weight and its optional .bias,
    // attn_sinks.weight when config.sinks.
    static AttentionBlock load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const AttentionConfig &config);

    // out = W_o · attention(Q, K, V of x) (+ b_o): x [nTokens, nEmbd] (the normed stream),
    // out [nTokens, nEmbd]. Stores this batch's keys and values in the cache's layer `layer`.
    void forward(ForwardPass &pass, std::int64_t layer, const float *x, float *out) const;

    const AttentionConfig &config() const { return m_config; }
    // The RoPE a cache of `capacity` tokens uses (LongRoPE picks its table by context size).
    RopeParams ropeFor(std::int64_t capacity) const;
    // Whether latent:R applies: the keys must be a linear function of the input (no QK norm).
    bool supportsLatent() const { return m_kNorm == nullptr && m_config.kvLayer < 0; }
    const WeightMatrix &keyProjection() const { return m_wk; } // [nKvHeads × headDimK, nEmbd]
    const WeightMatrix &valueProjection() const { return m_wv; } // [nKvHeads × headDimV, nEmbd]
    const float *keyBias() const { return m_bk; }
    const float *valueBias() const { return m_bv; }
    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    AttentionConfig m_config;
    WeightMatrix m_wq, m_wk, m_wv, m_wo; // views (row slices of attn_qkv when fused)
    const float *m_bq = nullptr, *m_bk = nullptr, *m_bv = nullptr, *m_bo = nullptr;
    const float *m_qNorm = nullptr, *m_kNorm = nullptr; // [headDimK]
    const float *m_sinks = nullptr; // [nHeads]
};

// The rows [first, first + count) of a weight matrix as a matrix of their own (a slice of a fused
// projection: rows are whole blocks in any type, so no copy is needed).
WeightMatrix rowSlice(const WeightMatrix &w, std::int64_t first, std::int64_t count);

} // namespace nw
