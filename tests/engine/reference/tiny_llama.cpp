// Tiny random llama files: the tensor names and shapes of llama.cpp's LLM_ARCH_LLAMA.
#include "tests/engine/reference/tiny_llama.h"

#include "engine/gguf_writer.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace nw::test {
namespace {

std::vector<float> randomValues(std::mt19937_64 &rng, std::size_t n, float scale)
{
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float &x : v)
        x = dist(rng);
    return v;
}

} // namespace

GgufWriter tinyLlamaWriter(const TinyLlamaSpec &spec)
{
    GgufWriter w;
    std::mt19937_64 rng(spec.seed);
    const std::int64_t headDim = spec.nEmbd / spec.nHeads;
    w.setString("general.architecture", "llama");
    w.setString("general.name", "tiny-llama-test");
    w.setUInt32("llama.block_count", static_cast<std::uint32_t>(spec.nLayers));
    w.setUInt32("llama.embedding_length", static_cast<std::uint32_t>(spec.nEmbd));
    w.setUInt32("llama.feed_forward_length", static_cast<std::uint32_t>(spec.nFf));
    w.setUInt32("llama.attention.head_count", static_cast<std::uint32_t>(spec.nHeads));
    w.setUInt32("llama.attention.head_count_kv", static_cast<std::uint32_t>(spec.nKvHeads));
    w.setUInt32("llama.rope.dimension_count", static_cast<std::uint32_t>(headDim));
    w.setUInt32("llama.context_length", static_cast<std::uint32_t>(spec.nCtx));
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.setFloat32("llama.rope.freq_base", static_cast<float>(spec.ropeBase));
    if (spec.ropeScale != 1.0) {
        w.setString("llama.rope.scaling.type", "linear");
        w.setFloat32("llama.rope.scaling.factor", static_cast<float>(spec.ropeScale));
    }
    std::int64_t nVocab = spec.nVocab;
    if (spec.byteVocab) {
        std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
        std::vector<std::int32_t> types = {2, 3, 3};
        std::vector<float> scores = {0.f, 0.f, 0.f};
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            tokens.emplace_back(name);
            types.push_back(6);
            scores.push_back(0.f);
        }
        nVocab = static_cast<std::int64_t>(tokens.size());
        w.setString("tokenizer.ggml.model", "llama");
        w.setStringArray("tokenizer.ggml.tokens", tokens);
        w.setFloat32Array("tokenizer.ggml.scores", scores);
        w.setInt32Array("tokenizer.ggml.token_type", types);
        w.setUInt32("tokenizer.ggml.unknown_token_id", 0);
        w.setUInt32("tokenizer.ggml.bos_token_id", 1);
        w.setUInt32("tokenizer.ggml.eos_token_id", 2);
        w.setBool("tokenizer.ggml.add_bos_token", true);
        w.setBool("tokenizer.ggml.add_eos_token", false);
    } else {
        w.setUInt32("llama.vocab_size", static_cast<std::uint32_t>(nVocab));
    }

    auto matrix = [&](const std::string &name, std::int64_t cols, std::int64_t rows) {
        const auto v = randomValues(rng, static_cast<std::size_t>(cols * rows),
                                    spec.weightScale / std::sqrt(static_cast<float>(cols)) * 2.f);
        w.addTensor(name, {cols, rows}, v.data(), spec.weightType);
    };
    auto norm = [&](const std::string &name) {
        auto v = randomValues(rng, static_cast<std::size_t>(spec.nEmbd), 0.2f);
        for (float &x : v)
            x += 1.f;
        w.addTensor(name, {spec.nEmbd}, v.data(), TensorType::F32);
    };
    {
        const auto v = randomValues(rng, static_cast<std::size_t>(spec.nEmbd * nVocab), 1.f);
        w.addTensor("token_embd.weight", {spec.nEmbd, nVocab}, v.data(), spec.weightType);
    }
    norm("output_norm.weight");
    if (spec.ropeFreqFactors) {
        std::vector<float> factors(static_cast<std::size_t>(headDim / 2));
        std::uniform_real_distribution<float> dist(1.f, 8.f);
        for (float &f : factors)
            f = dist(rng);
        w.addTensor("rope_freqs.weight", {headDim / 2}, factors.data(), TensorType::F32);
    }
    if (!spec.tiedOutput)
        matrix("output.weight", spec.nEmbd, nVocab);
    for (std::int64_t l = 0; l < spec.nLayers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        norm(p + "attn_norm.weight");
        matrix(p + "attn_q.weight", spec.nEmbd, spec.nHeads * headDim);
        matrix(p + "attn_k.weight", spec.nEmbd, spec.nKvHeads * headDim);
        matrix(p + "attn_v.weight", spec.nEmbd, spec.nKvHeads * headDim);
        matrix(p + "attn_output.weight", spec.nHeads * headDim, spec.nEmbd);
        norm(p + "ffn_norm.weight");
        matrix(p + "ffn_gate.weight", spec.nEmbd, spec.nFf);
        matrix(p + "ffn_up.weight", spec.nEmbd, spec.nFf);
        matrix(p + "ffn_down.weight", spec.nFf, spec.nEmbd);
    }
    return w;
}

std::vector<std::byte> makeTinyLlama(const TinyLlamaSpec &spec)
{
    return tinyLlamaWriter(spec).toBytes();
}

void writeTinyLlama(const TinyLlamaSpec &spec, const std::filesystem::path &path)
{
    tinyLlamaWriter(spec).write(path);
}

} // namespace nw::test
