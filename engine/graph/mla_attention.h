// Multi-head latent attention (DeepSeek-V2 §2.1) as a graph block: the query (directly or through
// the q LoRA with its norm), the joint KV down-projection whose normed latent c_kv and shared RoPE
// key are what an `mla` cache holds, attention in the absorbed or the expanded form
// (engine/mla.h), or — in a `full` cache — per-head keys and values rebuilt from the latent, and
// the output projection.
#pragma once

#include "engine/graph/forward_pass.h"
#include "engine/mla.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace nw {

class LightningIndexer;
class WeightLoader;

// Which MLA form attention takes when the cache mode is `mla`. Decode always benefits from
// the absorbed form; a long prefill is cheaper expanded (see mla.h).
enum class MlaForm { Auto, Absorbed, Expanded };

struct MlaConfig {
    int nHeads = 0;
    int qLoraRank = 0; // 0: Q projected directly (V2-Lite)
    int kvLoraRank = 0;
    int qkNope = 0; // per-head key dims without RoPE
    int qkRope = 0; // the RoPE dims, shared by all heads on the key side
    int vHeadDim = 0;
    RopeParams rope;
    float scale = 1.f; // softmax scale (DeepSeek's YaRN mscale² / sqrt(qkNope + qkRope))
    float normEps = 1e-6f;
    MlaForm form = MlaForm::Auto;
};

class MlaAttentionBlock {
public:
    // blk.<layer>.attn_q_a / attn_q_a_norm / attn_q_b or attn_q, attn_kv_a_mqa, attn_kv_a_norm,
    // attn_k_b + attn_v_b or attn_kv_b, attn_output (llama.cpp's LLM_ARCH_DEEPSEEK2 names).
    // `scratch` is shared by every layer's block (one forward runs at a time).
    static MlaAttentionBlock load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const MlaConfig &config,
        std::shared_ptr<MlaScratch> scratch);

    // out = W_o · MLA(x); x, out: [nTokens, nEmbd]. With an indexer (DeepSeek V3.2), each query
    // attends only to the cached tokens the indexer chooses (an `mla` cache).
    void forward(ForwardPass &pass, std::int64_t layer, const float *x, float *out,
        const LightningIndexer *indexer = nullptr) const;

    void collectMatrices(std::vector<WeightMatrix> &all) const;
    // Bytes of the transposed W_UK copy this layer owns (not in the file).
    std::size_t ownedBytes() const { return m_mla.ownedBytes(); }

private:
    MlaConfig m_config;
    WeightMatrix m_qA; // [qLoraRank, nEmbd]
    const float *m_qANorm = nullptr; // [qLoraRank]
    WeightMatrix m_qB; // [nHeads × (qkNope + qkRope), qLoraRank]
    WeightMatrix m_q; // [nHeads × (qkNope + qkRope), nEmbd] when qLoraRank == 0
    WeightMatrix m_kvAMqa; // [kvLoraRank + qkRope, nEmbd]: c_kv then k_rope
    const float *m_kvANorm = nullptr; // [kvLoraRank]
    MlaProjections m_mla; // W_UK / W_UV per head
    WeightMatrix m_out; // [nEmbd, nHeads × vHeadDim]
    std::shared_ptr<MlaScratch> m_scratch;
};

} // namespace nw
