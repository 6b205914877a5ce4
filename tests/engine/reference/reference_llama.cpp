// The float64 reference llama: x = embed; per layer x += Wo·attn(rope(Wq·n(x)), rope(Wk·n(x)),
// Wv·n(x)); x += Wdown·(silu(Wgate·n(x)) ⊙ Wup·n(x)); logits = Wout·n(x). Rope rotates adjacent
// pairs (x[2i], x[2i+1]) by pos·base^(-2i/nRot), as GGUF llama files expect.
#include "tests/engine/reference/reference_llama.h"

#include "engine/gguf_file.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace nw::test {
namespace {

using Matrix = std::vector<std::vector<double>>; // [rows][cols]

// ggml pairs each weight type with an activation format for its dot products (ggml-cpu's
// vec_dot_type): the K-quants and the 256-block IQ types take Q8_K, the 32-blocks Q8_0 (Q8_1 for
// the _1 types).
TensorType activationTypeFor(TensorType weight)
{
    switch (weight) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
    case TensorType::IQ4_NL:
    case TensorType::MXFP4:
        return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
        return TensorType::Q8_1;
    case TensorType::IQ2_XXS:
    case TensorType::IQ2_XS:
    case TensorType::IQ2_S:
    case TensorType::IQ3_XXS:
    case TensorType::IQ3_S:
    case TensorType::IQ4_XS:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
        return TensorType::Q8_K;
    default:
        return TensorType::F32;
    }
}

TensorType g_weightType = TensorType::F32; // of the matrix being multiplied (set by loadMatrix)
bool g_emulate = false;

Matrix loadMatrix(const GgufFile &file, const std::string &name)
{
    const TensorView &t = file.requireTensor(name);
    g_weightType = t.type;
    const std::size_t cols = static_cast<std::size_t>(t.shape[0]);
    const std::size_t rows = t.shape.size() > 1 ? static_cast<std::size_t>(t.shape[1]) : 1;
    std::vector<float> all(rows * cols);
    dequantizeRow(t.type, t.data, all.data(), rows * cols);
    Matrix m(rows, std::vector<double>(cols));
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            m[r][c] = all[r * cols + c];
    return m;
}

struct Weight {
    Matrix m;
    TensorType type;
};

Weight loadWeight(const GgufFile &file, const std::string &name)
{
    Matrix m = loadMatrix(file, name);
    return { std::move(m), g_weightType };
}

std::vector<double> matVec(const Weight &w, std::vector<double> x)
{
    const TensorType act = activationTypeFor(w.type);
    if (g_emulate && act != TensorType::F32) {
        // Round the activations through the format the engine's dot product uses, quantized by
        // its own activation quantizer (which follows ggml's, not quantizeRow's scale rounding).
        std::vector<float> xf(x.begin(), x.end());
        std::vector<std::byte> q(rowBytes(act, xf.size()));
        cpu::scalarDotKernel(w.type).quantize(xf.data(), q.data(), std::int64_t(xf.size()));
        dequantizeRow(act, q.data(), xf.data(), xf.size());
        x.assign(xf.begin(), xf.end());
    }
    std::vector<double> y(w.m.size(), 0.0);
    for (std::size_t r = 0; r < w.m.size(); ++r)
        for (std::size_t c = 0; c < x.size(); ++c)
            y[r] += w.m[r][c] * x[c];
    return y;
}

std::vector<double> rmsNorm(const std::vector<double> &x, const std::vector<double> &w, double eps)
{
    double ss = 0.0;
    for (double v : x)
        ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
    std::vector<double> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        y[i] = x[i] * inv * w[i];
    return y;
}

void rope(std::vector<double> &x, std::int64_t nHeads, std::int64_t headDim, std::int64_t nRot, double pos, double base,
    const std::vector<double> &divisors)
{
    for (std::int64_t h = 0; h < nHeads; ++h)
        for (std::int64_t i = 0; i < nRot / 2; ++i) {
            double theta = pos * std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(nRot));
            if (!divisors.empty())
                theta /= divisors[static_cast<std::size_t>(i)];
            double &a = x[static_cast<std::size_t>(h * headDim + 2 * i)];
            double &b = x[static_cast<std::size_t>(h * headDim + 2 * i + 1)];
            const double a0 = a, b0 = b;
            a = a0 * std::cos(theta) - b0 * std::sin(theta);
            b = a0 * std::sin(theta) + b0 * std::cos(theta);
        }
}

// Which keys a query sees, per layer: given the layer's roped queries and keys, a test of
// (KV head, query position t, key position s <= t).
using Visibility = std::function<bool(std::int64_t, std::size_t, std::size_t)>;
using LayerVisibility = std::function<Visibility(std::int64_t layer, const std::vector<std::vector<double>> &q,
    const std::vector<std::vector<double>> &k, std::int64_t nHeads, std::int64_t nKvHeads, std::int64_t headDim)>;

std::vector<std::vector<double>> referenceLogits(const GgufFile &file, std::span<const std::int32_t> tokens,
    bool emulateActivationQuant, const LayerVisibility &layerVisibility)
{
    g_emulate = emulateActivationQuant;
    const std::string arch = file.requireString("general.architecture");
    if (arch != "llama")
        throw std::runtime_error("reference: not a llama file");
    auto meta = [&](const char *key) { return file.requireInt(arch + "." + key); };
    const std::int64_t nLayers = meta("block_count");
    const std::int64_t nEmbd = meta("embedding_length");
    const std::int64_t nHeads = meta("attention.head_count");
    const std::int64_t nKvHeads = file.findInt(arch + ".attention.head_count_kv").value_or(nHeads);
    const std::int64_t headDim = nEmbd / nHeads;
    const std::int64_t nRot = file.findInt(arch + ".rope.dimension_count").value_or(headDim);
    const double eps = file.findFloat(arch + ".attention.layer_norm_rms_epsilon").value_or(1e-5);
    const double base = file.findFloat(arch + ".rope.freq_base").value_or(10000.0);
    const double posScale = 1.0 / file.findFloat(arch + ".rope.scaling.factor").value_or(1.0);

    const Matrix embd = loadMatrix(file, "token_embd.weight");
    const Weight out = loadWeight(file, file.findTensor("output.weight") ? "output.weight" : "token_embd.weight");
    const std::vector<double> outNorm = loadMatrix(file, "output_norm.weight")[0];
    // Llama 3.1: rope_freqs.weight divides pair i's angle.
    const std::vector<double> divisors
        = file.findTensor("rope_freqs.weight") ? loadMatrix(file, "rope_freqs.weight")[0] : std::vector<double> {};
    const std::size_t n = tokens.size();

    std::vector<std::vector<double>> x(n);
    for (std::size_t t = 0; t < n; ++t)
        x[t] = embd.at(static_cast<std::size_t>(tokens[t]));

    for (std::int64_t l = 0; l < nLayers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const std::vector<double> attnNorm = loadMatrix(file, p + "attn_norm.weight")[0];
        const std::vector<double> ffnNorm = loadMatrix(file, p + "ffn_norm.weight")[0];
        const Weight wq = loadWeight(file, p + "attn_q.weight");
        const Weight wk = loadWeight(file, p + "attn_k.weight");
        const Weight wv = loadWeight(file, p + "attn_v.weight");
        const Weight wo = loadWeight(file, p + "attn_output.weight");
        const Weight wGate = loadWeight(file, p + "ffn_gate.weight");
        const Weight wUp = loadWeight(file, p + "ffn_up.weight");
        const Weight wDown = loadWeight(file, p + "ffn_down.weight");

        std::vector<std::vector<double>> q(n), k(n), v(n);
        for (std::size_t t = 0; t < n; ++t) {
            const std::vector<double> h = rmsNorm(x[t], attnNorm, eps);
            q[t] = matVec(wq, h);
            k[t] = matVec(wk, h);
            v[t] = matVec(wv, h);
            rope(q[t], nHeads, headDim, nRot, static_cast<double>(t) * posScale, base, divisors);
            rope(k[t], nKvHeads, headDim, nRot, static_cast<double>(t) * posScale, base, divisors);
        }
        const Visibility visible = layerVisibility(l, q, k, nHeads, nKvHeads, headDim);
        for (std::size_t t = 0; t < n; ++t) {
            std::vector<double> att(static_cast<std::size_t>(nHeads * headDim), 0.0);
            for (std::int64_t h = 0; h < nHeads; ++h) {
                const std::int64_t kvh = h / (nHeads / nKvHeads);
                std::vector<double> scores(t + 1);
                double maxScore = -1e300;
                for (std::size_t s = 0; s <= t; ++s) {
                    if (!visible(kvh, t, s))
                        continue;
                    double dot = 0.0;
                    for (std::int64_t d = 0; d < headDim; ++d)
                        dot += q[t][static_cast<std::size_t>(h * headDim + d)]
                            * k[s][static_cast<std::size_t>(kvh * headDim + d)];
                    scores[s] = dot / std::sqrt(static_cast<double>(headDim));
                    maxScore = std::max(maxScore, scores[s]);
                }
                double sum = 0.0;
                for (std::size_t s = 0; s <= t; ++s) {
                    scores[s] = visible(kvh, t, s) ? std::exp(scores[s] - maxScore) : 0.0;
                    sum += scores[s];
                }
                for (std::size_t s = 0; s <= t; ++s)
                    for (std::int64_t d = 0; d < headDim; ++d)
                        att[static_cast<std::size_t>(h * headDim + d)]
                            += scores[s] / sum * v[s][static_cast<std::size_t>(kvh * headDim + d)];
            }
            const std::vector<double> o = matVec(wo, att);
            for (std::size_t i = 0; i < x[t].size(); ++i)
                x[t][i] += o[i];
            const std::vector<double> h2 = rmsNorm(x[t], ffnNorm, eps);
            std::vector<double> g = matVec(wGate, h2);
            const std::vector<double> u = matVec(wUp, h2);
            for (std::size_t i = 0; i < g.size(); ++i)
                g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
            const std::vector<double> d = matVec(wDown, g);
            for (std::size_t i = 0; i < x[t].size(); ++i)
                x[t][i] += d[i];
        }
    }
    std::vector<std::vector<double>> logits(n);
    for (std::size_t t = 0; t < n; ++t)
        logits[t] = matVec(out, rmsNorm(x[t], outNorm, eps));
    return logits;
}

} // namespace

std::vector<std::vector<double>> referenceLlamaLogits(const GgufFile &file, std::span<const std::int32_t> tokens,
    bool emulateActivationQuant, std::int64_t window, std::int64_t sinkTokens)
{
    return referenceLogits(file, tokens, emulateActivationQuant,
        [&](std::int64_t, const auto &, const auto &, std::int64_t, std::int64_t, std::int64_t) -> Visibility {
            return [&](std::int64_t, std::size_t t, std::size_t s) {
                return s <= t
                    && (window <= 0 || std::int64_t(s) + window > std::int64_t(t) || std::int64_t(s) < sinkTokens);
            };
        });
}

std::vector<std::vector<double>> referenceLlamaSnapKvLogits(const GgufFile &file, std::span<const std::int32_t> tokens,
    std::int64_t promptTokens, std::int64_t budget, SnapKvSelection *selection, std::int64_t window,
    std::int64_t kernel)
{
    const std::int64_t prompt = std::min<std::int64_t>(promptTokens, std::int64_t(tokens.size()));
    const std::int64_t w = std::min(window, prompt);
    const std::int64_t before = prompt - w;
    SnapKvSelection chosen;
    auto logits = referenceLogits(file, tokens, false,
        [&](std::int64_t, const std::vector<std::vector<double>> &q, const std::vector<std::vector<double>> &k,
            std::int64_t nHeads, std::int64_t nKvHeads, std::int64_t headDim) -> Visibility {
            // Scores (SnapKV §4.2): each window query's softmax over keys [0, t], summed on the
            // keys before the window, over the window and the query heads of each KV head.
            std::vector<std::vector<double>> score(
                static_cast<std::size_t>(nKvHeads), std::vector<double>(static_cast<std::size_t>(before)));
            for (std::int64_t h = 0; h < nHeads; ++h) {
                const std::int64_t kvh = h / (nHeads / nKvHeads);
                for (std::int64_t t = before; t < prompt; ++t) {
                    std::vector<double> e(static_cast<std::size_t>(t + 1));
                    for (std::int64_t s = 0; s <= t; ++s) {
                        double dot = 0.0;
                        for (std::int64_t d = 0; d < headDim; ++d)
                            dot += q[std::size_t(t)][std::size_t(h * headDim + d)]
                                * k[std::size_t(s)][std::size_t(kvh * headDim + d)];
                        e[std::size_t(s)] = dot / std::sqrt(double(headDim));
                    }
                    const double top = *std::max_element(e.begin(), e.end());
                    double sum = 0.0;
                    for (double &v : e)
                        sum += (v = std::exp(v - top));
                    for (std::int64_t s = 0; s < before; ++s)
                        score[std::size_t(kvh)][std::size_t(s)] += e[std::size_t(s)] / sum;
                }
            }
            // Max pooling with -inf padding (torch.max_pool1d), then the top `budget` by a full
            // sort, earlier positions first among equals; the window is kept besides.
            std::vector<std::vector<char>> keep(
                static_cast<std::size_t>(nKvHeads), std::vector<char>(static_cast<std::size_t>(prompt), 0));
            std::vector<std::vector<std::int64_t>> layerKept(static_cast<std::size_t>(nKvHeads));
            for (std::int64_t kvh = 0; kvh < nKvHeads; ++kvh) {
                std::vector<std::pair<double, std::int64_t>> pooled;
                for (std::int64_t s = 0; s < before; ++s) {
                    double m = -std::numeric_limits<double>::infinity();
                    for (std::int64_t j = s - kernel / 2; j <= s + kernel / 2; ++j)
                        if (j >= 0 && j < before)
                            m = std::max(m, score[std::size_t(kvh)][std::size_t(j)]);
                    pooled.emplace_back(-m, s);
                }
                std::sort(pooled.begin(), pooled.end());
                for (std::int64_t i = 0; i < std::int64_t(pooled.size()); ++i)
                    if (before <= budget || i < budget)
                        keep[std::size_t(kvh)][std::size_t(pooled[std::size_t(i)].second)] = 1;
                for (std::int64_t s = before; s < prompt; ++s)
                    keep[std::size_t(kvh)][std::size_t(s)] = 1;
                for (std::int64_t s = 0; s < prompt; ++s)
                    if (keep[std::size_t(kvh)][std::size_t(s)])
                        layerKept[std::size_t(kvh)].push_back(s);
            }
            chosen.push_back(layerKept);
            // The prompt ran with every key (selection happens after it); later tokens see the
            // kept prompt keys of their KV head and every later token.
            return [keep = std::move(keep), prompt](std::int64_t kvh, std::size_t t, std::size_t s) {
                return s <= t
                    && (std::int64_t(t) < prompt || std::int64_t(s) >= prompt || keep[std::size_t(kvh)][s] != 0);
            };
        });
    if (selection)
        *selection = std::move(chosen);
    return logits;
}

} // namespace nw::test
