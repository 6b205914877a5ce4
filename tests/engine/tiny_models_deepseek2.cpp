// Tiny deepseek2 models: tensor names, shapes and metadata keys as llama.cpp's deepseek2
// conversions write them (gguf-py constants; convert_hf_to_gguf.py DeepseekV2Model).
#include "tests/engine/tiny_models_deepseek2.h"

#include "engine/gguf_writer.h"
#include "kernels/cpu/quantize.h"

#include <cmath>
#include <random>

namespace nw::test {
namespace {

class Builder {
public:
    Builder(const TinyDeepseek2Spec &spec) : m_spec(spec), m_rng(spec.seed) {}

    // A [rows][cols] matrix (GGUF shape {cols, rows, extra...}) of uniform(-bound, bound)
    // values, written in `type`; returns the values the file holds.
    std::vector<double> matrix(const std::string &name, std::vector<std::int64_t> shape, double bound,
                               TensorType type)
    {
        std::size_t n = 1;
        for (std::int64_t d : shape)
            n *= std::size_t(d);
        std::uniform_real_distribution<float> dist(float(-bound), float(bound));
        std::vector<float> values(n);
        for (float &v : values)
            v = dist(m_rng);
        return add(name, std::move(shape), values, type);
    }
    // A 1-D norm weight around 1.
    std::vector<double> norm(const std::string &name, std::int64_t n)
    {
        std::uniform_real_distribution<float> dist(0.8f, 1.2f);
        std::vector<float> values(static_cast<std::size_t>(n));
        for (float &v : values)
            v = dist(m_rng);
        return add(name, {n}, values, TensorType::F32);
    }
    std::vector<double> add(const std::string &name, std::vector<std::int64_t> shape, const std::vector<float> &values,
                            TensorType type)
    {
        if (name != m_spec.omitTensor)
            m_writer.addTensor(name, shape, values.data(), type);
        // What the file holds: the same quantizeRow the writer uses, then dequantizeRow.
        const std::size_t rowLength = std::size_t(shape[0]);
        std::vector<std::byte> block(rowBytes(type, rowLength));
        std::vector<float> row(rowLength);
        std::vector<double> held(values.size());
        for (std::size_t r = 0; r < values.size() / rowLength; ++r) {
            quantizeRow(type, values.data() + r * rowLength, block.data(), rowLength);
            dequantizeRow(type, block.data(), row.data(), rowLength);
            for (std::size_t c = 0; c < rowLength; ++c)
                held[r * rowLength + c] = row[c];
        }
        return held;
    }

    GgufWriter &writer() { return m_writer; }
    std::mt19937 &rng() { return m_rng; }

private:
    const TinyDeepseek2Spec &m_spec;
    std::mt19937 m_rng;
    GgufWriter m_writer;
};

std::string blk(int layer, const char *what, const char *suffix = "weight")
{
    return "blk." + std::to_string(layer) + "." + what + "." + suffix;
}

} // namespace

TinyDeepseek2 makeTinyDeepseek2(const TinyDeepseek2Spec &spec)
{
    TinyDeepseek2 model;
    ds2ref::Config &c = model.weights.config;
    // Row lengths are multiples of 32 so every weight can be Q8_0.
    c.nVocab = 96;
    c.nEmbd = 64;
    c.nLayers = 3;
    c.nHeads = 4;
    c.qLoraRank = spec.qLora ? 32 : 0;
    c.kvLoraRank = 32;
    c.qkNope = 32;
    c.qkRope = 16;
    c.vHeadDim = 32;
    c.nFf = 96;
    c.nFfExp = 32;
    c.nFfShared = 32 * spec.nShared;
    c.nExpert = 6;
    c.nExpertUsed = 2;
    c.nLeadingDense = spec.nLeadingDense;
    c.gating = spec.v3Gating ? ds2ref::Gating::Sigmoid : ds2ref::Gating::Softmax;
    c.expProbsBias = spec.v3Gating;
    c.expertWeightsNorm = spec.expertWeightsNorm;
    c.expertWeightsScale = spec.expertWeightsScale;
    c.nExpertGroups = spec.nExpertGroups;
    c.nExpertGroupsUsed = spec.nExpertGroupsUsed;
    c.rmsEps = 1e-6;
    c.ropeBase = 10000.0;
    c.yarn = spec.yarn;
    if (spec.yarn) {
        c.yarnFactor = 4.0;
        c.yarnOrigCtx = 64;
        c.yarnLogMul = 0.0707; // 0.1 · mscale_all_dim, as the converter writes it for V2
    }

    Builder b(spec);
    GgufWriter &w = b.writer();
    const std::string a = "deepseek2.";
    w.setString("general.architecture", "deepseek2");
    w.setString("general.name", "tiny-deepseek2-" + spec.name);
    w.setUInt32(a + "context_length", 256);
    w.setUInt32(a + "embedding_length", std::uint32_t(c.nEmbd));
    w.setUInt32(a + "block_count", std::uint32_t(c.nLayers + spec.nextnLayers));
    if (spec.nextnLayers > 0)
        w.setUInt32(a + "nextn_predict_layers", std::uint32_t(spec.nextnLayers));
    w.setUInt32(a + "feed_forward_length", std::uint32_t(c.nFf));
    w.setUInt32(a + "attention.head_count", std::uint32_t(c.nHeads));
    if (spec.splitKvB) {
        // Newer conversions describe the cache's MQA view here and the real head dims in *_mla.
        w.setUInt32(a + "attention.head_count_kv", 1);
        w.setUInt32(a + "attention.key_length", std::uint32_t(c.kvLoraRank + c.qkRope));
        w.setUInt32(a + "attention.value_length", std::uint32_t(c.kvLoraRank));
        w.setUInt32(a + "attention.key_length_mla", std::uint32_t(c.qkNope + c.qkRope));
        w.setUInt32(a + "attention.value_length_mla", std::uint32_t(c.vHeadDim));
    } else {
        w.setUInt32(a + "attention.head_count_kv", std::uint32_t(c.nHeads));
        w.setUInt32(a + "attention.key_length", std::uint32_t(c.qkNope + c.qkRope));
        w.setUInt32(a + "attention.value_length", std::uint32_t(c.vHeadDim));
    }
    w.setFloat32(a + "rope.freq_base", float(c.ropeBase));
    w.setUInt32(a + "rope.dimension_count", std::uint32_t(c.qkRope));
    w.setFloat32(a + "attention.layer_norm_rms_epsilon", float(c.rmsEps));
    if (spec.qLora)
        w.setUInt32(a + "attention.q_lora_rank", std::uint32_t(c.qLoraRank));
    w.setUInt32(a + "attention.kv_lora_rank", std::uint32_t(c.kvLoraRank));
    w.setUInt32(a + "leading_dense_block_count", std::uint32_t(c.nLeadingDense));
    w.setUInt32(a + "expert_count", std::uint32_t(c.nExpert));
    w.setUInt32(a + "expert_used_count", std::uint32_t(c.nExpertUsed));
    w.setUInt32(a + "expert_shared_count", std::uint32_t(spec.nShared));
    w.setUInt32(a + "expert_feed_forward_length", std::uint32_t(c.nFfExp));
    w.setFloat32(a + "expert_weights_scale", float(c.expertWeightsScale));
    w.setBool(a + "expert_weights_norm", c.expertWeightsNorm);
    if (spec.nExpertGroups > 1) {
        w.setUInt32(a + "expert_group_count", std::uint32_t(spec.nExpertGroups));
        w.setUInt32(a + "expert_group_used_count", std::uint32_t(spec.nExpertGroupsUsed));
    }
    if (spec.gatingFuncOverride >= 0)
        w.setUInt32(a + "expert_gating_func", std::uint32_t(spec.gatingFuncOverride));
    else if (spec.writeGatingFunc)
        w.setUInt32(a + "expert_gating_func", spec.v3Gating ? 2 : 1);
    if (spec.yarn) {
        w.setString(a + "rope.scaling.type", "yarn");
        w.setFloat32(a + "rope.scaling.factor", float(c.yarnFactor));
        w.setUInt32(a + "rope.scaling.original_context_length", std::uint32_t(c.yarnOrigCtx));
        w.setFloat32(a + "rope.scaling.yarn_log_multiplier", float(c.yarnLogMul));
        // The reference must use exactly the float values the file holds.
        c.yarnFactor = double(float(c.yarnFactor));
        c.yarnLogMul = double(float(c.yarnLogMul));
    }
    c.rmsEps = double(float(c.rmsEps));
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    while (int(tokens.size()) < c.nVocab)
        tokens.push_back("t" + std::to_string(tokens.size()));
    w.setString("tokenizer.ggml.model", "llama");
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    w.setFloat32Array("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.f));
    w.setInt32Array("tokenizer.ggml.token_type", std::vector<std::int32_t>(tokens.size(), 1));
    w.setUInt32("tokenizer.ggml.bos_token_id", 1);
    w.setUInt32("tokenizer.ggml.eos_token_id", 2);

    const TensorType t = spec.type;
    const std::int64_t e = c.nEmbd, h = c.nHeads, qHead = c.qHeadDim();
    auto bound = [](std::int64_t cols) { return 1.0 / std::sqrt(double(cols)); };
    ds2ref::Weights &wt = model.weights;
    wt.tokEmbd = b.matrix("token_embd.weight", {e, c.nVocab}, 1.0, t);
    for (int l = 0; l < c.nLayers; ++l) {
        ds2ref::Layer layer;
        layer.attnNorm = b.norm(blk(l, "attn_norm"), e);
        if (spec.qLora) {
            layer.qA = b.matrix(blk(l, "attn_q_a"), {e, c.qLoraRank}, bound(e), t);
            layer.qANorm = b.norm(blk(l, "attn_q_a_norm"), c.qLoraRank);
            layer.qB = b.matrix(blk(l, "attn_q_b"), {c.qLoraRank, h * qHead}, 2 * bound(c.qLoraRank), t);
        } else {
            layer.q = b.matrix(blk(l, "attn_q"), {e, h * qHead}, 2 * bound(e), t);
        }
        layer.kvAMqa = b.matrix(blk(l, "attn_kv_a_mqa"), {e, c.kvLoraRank + c.qkRope}, 2 * bound(e), t);
        layer.kvANorm = b.norm(blk(l, "attn_kv_a_norm"), c.kvLoraRank);
        const std::int64_t kvRow = c.qkNope + c.vHeadDim;
        if (!spec.splitKvB) {
            layer.kvB = b.matrix(blk(l, "attn_kv_b"), {c.kvLoraRank, h * kvRow}, 2 * bound(c.kvLoraRank), t);
        } else {
            // attn_k_b {qkNope, kvLoraRank, nHeads}: per head W_UK transposed (row r = latent dim r);
            // attn_v_b {kvLoraRank, vHeadDim, nHeads}: per head W_UV. The reference keeps the
            // combined kv_b layout, so rebuild it from what the file holds.
            const std::vector<double> kB =
                b.matrix(blk(l, "attn_k_b"), {c.qkNope, c.kvLoraRank, h}, 2 * bound(c.kvLoraRank), t);
            const std::vector<double> vB =
                b.matrix(blk(l, "attn_v_b"), {c.kvLoraRank, c.vHeadDim, h}, 2 * bound(c.kvLoraRank), t);
            layer.kvB.resize(std::size_t(h * kvRow * c.kvLoraRank));
            for (std::int64_t hd = 0; hd < h; ++hd)
                for (std::int64_t r = 0; r < c.kvLoraRank; ++r) {
                    for (std::int64_t d = 0; d < c.qkNope; ++d)
                        layer.kvB[std::size_t((hd * kvRow + d) * c.kvLoraRank + r)] =
                            kB[std::size_t((hd * c.kvLoraRank + r) * c.qkNope + d)];
                    for (std::int64_t d = 0; d < c.vHeadDim; ++d)
                        layer.kvB[std::size_t((hd * kvRow + c.qkNope + d) * c.kvLoraRank + r)] =
                            vB[std::size_t((hd * c.vHeadDim + d) * c.kvLoraRank + r)];
                }
        }
        layer.out = b.matrix(blk(l, "attn_output"), {h * c.vHeadDim, e}, bound(h * c.vHeadDim), t);
        layer.ffnNorm = b.norm(blk(l, "ffn_norm"), e);
        if (l < c.nLeadingDense) {
            layer.ffnGate = b.matrix(blk(l, "ffn_gate"), {e, c.nFf}, 2 * bound(e), t);
            layer.ffnUp = b.matrix(blk(l, "ffn_up"), {e, c.nFf}, 2 * bound(e), t);
            layer.ffnDown = b.matrix(blk(l, "ffn_down"), {c.nFf, e}, bound(c.nFf), t);
        } else {
            // Router logits spread wide enough that float rounding cannot reorder the top-k.
            layer.gateInp = b.matrix(blk(l, "ffn_gate_inp"), {e, c.nExpert}, 4 * bound(e), TensorType::F32);
            if (spec.v3Gating) {
                std::uniform_real_distribution<float> dist(-0.3f, 0.3f);
                std::vector<float> bias(static_cast<std::size_t>(c.nExpert));
                for (float &x : bias)
                    x = dist(b.rng());
                layer.expProbsB = b.add(blk(l, "exp_probs_b", "bias"), {c.nExpert}, bias, TensorType::F32);
            }
            layer.gateExps = b.matrix(blk(l, "ffn_gate_exps"), {e, c.nFfExp, c.nExpert}, 2 * bound(e), t);
            layer.upExps = b.matrix(blk(l, "ffn_up_exps"), {e, c.nFfExp, c.nExpert}, 2 * bound(e), t);
            layer.downExps = b.matrix(blk(l, "ffn_down_exps"), {c.nFfExp, e, c.nExpert}, bound(c.nFfExp), t);
            if (spec.nShared > 0) {
                layer.gateShexp = b.matrix(blk(l, "ffn_gate_shexp"), {e, c.nFfShared}, 2 * bound(e), t);
                layer.upShexp = b.matrix(blk(l, "ffn_up_shexp"), {e, c.nFfShared}, 2 * bound(e), t);
                layer.downShexp = b.matrix(blk(l, "ffn_down_shexp"), {c.nFfShared, e}, bound(c.nFfShared), t);
            }
        }
        wt.layers.push_back(std::move(layer));
    }
    wt.outputNorm = b.norm("output_norm.weight", e);
    wt.output = b.matrix("output.weight", {e, c.nVocab}, 4 * bound(e), t);
    model.gguf = w.toBytes();
    return model;
}

std::vector<TinyDeepseek2Spec> tinyDeepseek2Variants()
{
    std::vector<TinyDeepseek2Spec> v;
    {
        TinyDeepseek2Spec s; // DeepSeek-V2-Lite: plain attn_q, softmax router, no gating key
        s.name = "v2-lite";
        s.qLora = false;
        s.writeGatingFunc = false;
        s.nShared = 2;
        s.seed = 11;
        v.push_back(s);
    }
    {
        TinyDeepseek2Spec s; // DeepSeek-V2: q LoRA, softmax, scaled weights, YaRN
        s.name = "v2-yarn";
        s.expertWeightsScale = 2.0;
        s.yarn = true;
        s.seed = 22;
        v.push_back(s);
    }
    {
        TinyDeepseek2Spec s; // DeepSeek-V3: sigmoid + selection bias, normalised and scaled, split kv_b
        s.name = "v3-split-yarn";
        s.splitKvB = true;
        s.v3Gating = true;
        s.nExpertGroups = 3; // 3 groups of 2 experts, the best 2 groups compete
        s.nExpertGroupsUsed = 2;
        s.expertWeightsNorm = true;
        s.expertWeightsScale = 2.5;
        s.yarn = true;
        s.nLeadingDense = 2;
        s.seed = 33;
        v.push_back(s);
    }
    {
        TinyDeepseek2Spec s; // V2-Lite layout split, in F16
        s.name = "v2-lite-split-f16";
        s.qLora = false;
        s.splitKvB = true;
        s.type = TensorType::F16;
        s.seed = 44;
        v.push_back(s);
    }
    {
        TinyDeepseek2Spec s; // V3 in Q8_0
        s.name = "v3-q8_0";
        s.v3Gating = true;
        s.expertWeightsNorm = true;
        s.expertWeightsScale = 2.5;
        s.yarn = true;
        s.type = TensorType::Q8_0;
        s.seed = 55;
        v.push_back(s);
    }
    return v;
}

} // namespace nw::test
