// Generators of tiny deepseek2 GGUF files with random weights, covering the variants real
// conversions come in (V2-Lite's plain attn_q, V2's q LoRA, V3's sigmoid router with a selection
// bias, combined attn_kv_b or split attn_k_b / attn_v_b, YaRN, F32 / F16 / Q8_0), together with the
// same weights as doubles for the float64 reference (tests/engine/reference_deepseek2).
#pragma once

#include "kernels/tensor_type.h"
#include "tests/engine/reference_deepseek2/deepseek2_reference.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nw::test {

struct TinyDeepseek2Spec {
    std::string name;
    bool qLora = true;          // attn_q_a / attn_q_a_norm / attn_q_b; false: attn_q (V2-Lite)
    bool splitKvB = false;      // attn_k_b + attn_v_b (newer conversions) instead of attn_kv_b
    bool v3Gating = false;      // sigmoid router + exp_probs_b selection bias
    int nExpertGroups = 1;      // V3 group-limited routing: expert_group_count / _used_count
    int nExpertGroupsUsed = 1;
    bool writeGatingFunc = true; // false: omit expert_gating_func (old V2 files; means softmax)
    bool expertWeightsNorm = false;
    double expertWeightsScale = 1.0;
    int nLeadingDense = 1;
    int nShared = 1;
    bool yarn = false;
    TensorType type = TensorType::F32; // of the 2-D/3-D weights (norms, router, bias stay F32)
    std::uint32_t seed = 1;
    // For load-error tests: a tensor left out of the file, a gating function id written as is.
    std::string omitTensor;
    // block_count counts this many trailing multi-token-prediction layers (V3 conversions),
    // declared by nextn_predict_layers; their tensors are not written (the engine skips them).
    int nextnLayers = 0;
    int gatingFuncOverride = -1;
};

struct TinyDeepseek2 {
    ds2ref::Weights weights;     // what the file holds, as doubles (after quantization)
    std::vector<std::byte> gguf; // the file image
};

TinyDeepseek2 makeTinyDeepseek2(const TinyDeepseek2Spec &spec);

// The variants every deepseek2 test runs over.
std::vector<TinyDeepseek2Spec> tinyDeepseek2Variants();

} // namespace nw::test
