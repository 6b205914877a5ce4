// The Gated DeltaNet block of Qwen3-Next / Qwen3.5 (llama.cpp's build_layer_attn_linear), a
// linear-attention layer whose memory is a fixed-size state per sequence instead of a KV cache:
//   mixed = W_qkv x;  q, k, v = SiLU(short causal conv(mixed))      (conv state carried)
//   z = W_gate x;  α = W_α x;  β = W_β x
//   o = DeltaNet(q, k, v, α, β)  (the delta rule per value head, kernels/backend_args.h)
//   out = W_out (RMSNorm(o_head) · ssm_norm ⊙ silu(z))
// Its states live in the KV cache's recurrent layer (KvCache::recurrentConv / recurrentState).
#pragma once

#include "engine/graph/forward_pass.h"

#include <cstdint>
#include <vector>

namespace nw {

class WeightLoader;

struct DeltaNetConfig {
    int nKHeads = 0; // key/query heads (ssm.group_count)
    int nVHeads = 0; // value heads (ssm.time_step_rank)
    int headDim = 0; // key and value head dim (ssm.state_size)
    int convKernel = 0; // ssm.conv_kernel
    float normEps = 1e-6f; // the L2 norm of q and k, and the output's RMSNorm

    int convChannels() const { return (2 * nKHeads + nVHeads) * headDim; }
    int valueDim() const { return nVHeads * headDim; }
};

class GatedDeltaNetBlock {
public:
    // blk.<layer>.attn_qkv / attn_gate / ssm_alpha / ssm_beta / ssm_out .weight, ssm_conv1d.weight
    // (F32), ssm_dt.bias, ssm_a, ssm_norm.weight.
    static GatedDeltaNetBlock load(
        WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const DeltaNetConfig &config);

    // out = the block of x; x, out: [nTokens, nEmbd]. Continues and updates the layer's state.
    void forward(ForwardPass &pass, std::int64_t layer, const float *x, float *out) const;

    const DeltaNetConfig &config() const { return m_config; }
    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    DeltaNetConfig m_config;
    WeightMatrix m_wqkv; // [convChannels, nEmbd]
    WeightMatrix m_wgate; // [valueDim, nEmbd] (z)
    WeightMatrix m_walpha, m_wbeta; // [nVHeads, nEmbd]
    WeightMatrix m_wout; // [nEmbd, valueDim]
    const float *m_conv = nullptr; // [convChannels, convKernel]
    const float *m_dtBias = nullptr; // [nVHeads]
    const float *m_decay = nullptr; // [nVHeads] -exp(A_log)
    const float *m_norm = nullptr; // [headDim]
};

} // namespace nw
