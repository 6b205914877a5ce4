// Float64 deepseek2 reference: DeepSeek-V2 (arXiv:2405.04434) §2.1 MLA in its expanded form,
// §2.2 DeepSeekMoE; V3 (arXiv:2412.19437) §2.1.2 sigmoid gating with a selection-only bias.
#include "tests/engine/reference_deepseek2/deepseek2_reference.h"

#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>

namespace nw::test::ds2ref {
namespace {

// The input as a Q8_0-quantized activation row holds it (blocks of 32 with an f16 scale), made
// by the engine's activation quantizer (which follows ggml's).
std::vector<double> roundQ8_0(const double *x, int n)
{
    std::vector<float> f(x, x + n), back(static_cast<std::size_t>(n));
    std::vector<std::byte> blocks(rowBytes(TensorType::Q8_0, std::size_t(n)));
    cpu::scalarDotKernel(TensorType::Q8_0).quantize(f.data(), blocks.data(), n);
    dequantizeRow(TensorType::Q8_0, blocks.data(), back.data(), std::size_t(n));
    return {back.begin(), back.end()};
}

thread_local bool t_q8Activations = false; // Config::q8Activations of the running forward

// y[r] = sum_c W[r][c] x[c]
std::vector<double> matVec(const std::vector<double> &w, int rows, int cols, const double *input,
                           bool quantizedWeight = true)
{
    std::vector<double> rounded;
    const double *x = input;
    if (t_q8Activations && quantizedWeight) {
        rounded = roundQ8_0(input, cols);
        x = rounded.data();
    }
    std::vector<double> y(rows, 0.0);
    for (int r = 0; r < rows; ++r) {
        double sum = 0.0;
        for (int c = 0; c < cols; ++c)
            sum += w[std::size_t(r) * cols + c] * x[c];
        y[r] = sum;
    }
    return y;
}

void rmsNormInPlace(double *x, int n, const std::vector<double> &weight, double eps)
{
    double sumSq = 0.0;
    for (int i = 0; i < n; ++i)
        sumSq += x[i] * x[i];
    const double inv = 1.0 / std::sqrt(sumSq / n + eps);
    for (int i = 0; i < n; ++i)
        x[i] = x[i] * inv * weight[i];
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

// Adjacent pairs (x[2i], x[2i+1]) rotated by theta_i: GGUF deepseek2 uses ggml's "normal" rope.
void rotate(const Config &config, double *x, int pos)
{
    for (int i = 0; i < config.qkRope / 2; ++i) {
        const double theta = ropeTheta(config, pos, i);
        const double c = std::cos(theta), s = std::sin(theta);
        const double x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c - x1 * s;
        x[2 * i + 1] = x0 * s + x1 * c;
    }
}

// SwiGLU FFN: down · (silu(gate · x) ⊙ (up · x)).
std::vector<double> swigluFfn(const double *input, int nEmbd, int width, const double *gate,
                              const double *up, const double *down)
{
    std::vector<double> rounded;
    const double *x = input;
    if (t_q8Activations) {
        rounded = roundQ8_0(input, nEmbd);
        x = rounded.data();
    }
    std::vector<double> hidden(width);
    for (int f = 0; f < width; ++f) {
        double g = 0.0, u = 0.0;
        for (int c = 0; c < nEmbd; ++c) {
            g += gate[std::size_t(f) * nEmbd + c] * x[c];
            u += up[std::size_t(f) * nEmbd + c] * x[c];
        }
        hidden[f] = silu(g) * u;
    }
    if (t_q8Activations)
        hidden = roundQ8_0(hidden.data(), width);
    std::vector<double> y(nEmbd, 0.0);
    for (int r = 0; r < nEmbd; ++r)
        for (int f = 0; f < width; ++f)
            y[r] += down[std::size_t(r) * width + f] * hidden[f];
    return y;
}

} // namespace

double ropeTheta(const Config &config, int pos, int pair)
{
    const double nDims = config.qkRope;
    const double extrapolated = pos * std::pow(config.ropeBase, -2.0 * pair / nDims);
    if (!config.yarn)
        return extrapolated;
    // YaRN "NTK-by-parts": dims that turn fewer than betaSlow times over the original context are
    // interpolated (theta / factor), those that turn more than betaFast times are kept, with a
    // linear ramp between the two correction dims (rounded outward, clamped to the rotated dims).
    const auto corrDim = [&](double rotations) {
        return nDims * std::log(config.yarnOrigCtx / (rotations * 2.0 * std::numbers::pi))
            / (2.0 * std::log(config.ropeBase));
    };
    const double low = std::max(0.0, std::floor(corrDim(config.yarnBetaFast)));
    const double high = std::min(nDims - 1.0, std::ceil(corrDim(config.yarnBetaSlow)));
    const double y = (pair - low) / std::max(0.001, high - low);
    const double keep = 1.0 - std::clamp(y, 0.0, 1.0); // 1: extrapolate, 0: interpolate
    const double interpolated = extrapolated / config.yarnFactor;
    return interpolated * (1.0 - keep) + extrapolated * keep;
}

double attentionScale(const Config &config)
{
    // DeepSeek's YaRN puts the whole magnitude correction into the softmax scale (mscale²) and
    // none into the rotation, so q and k rotate with magnitude exactly 1 here.
    const double mscale = config.yarn ? 1.0 + config.yarnLogMul * std::log(config.yarnFactor) : 1.0;
    return mscale * mscale / std::sqrt(double(config.qkNope + config.qkRope));
}

void routeExperts(const Config &config, std::span<const double> routerLogits,
                  std::span<const double> bias, std::vector<int> &ids, std::vector<double> &weights)
{
    const int n = config.nExpert;
    std::vector<double> probs(n);
    if (config.gating == Gating::Softmax) {
        const double peak = *std::max_element(routerLogits.begin(), routerLogits.end());
        double sum = 0.0;
        for (int e = 0; e < n; ++e)
            sum += probs[e] = std::exp(routerLogits[e] - peak);
        for (double &p : probs)
            p /= sum;
    } else {
        for (int e = 0; e < n; ++e)
            probs[e] = 1.0 / (1.0 + std::exp(-routerLogits[e]));
    }
    std::vector<double> selection = probs;
    if (!bias.empty())
        for (int e = 0; e < n; ++e)
            selection[e] += bias[e];
    if (config.nExpertGroups > 1 && config.nExpertGroupsUsed < config.nExpertGroups) {
        // V3 node-limited routing as its MoEGate computes it: a group's score is the sum of its
        // top-2 biased affinities; only the best nExpertGroupsUsed groups stay in the running.
        const int size = n / config.nExpertGroups;
        std::vector<double> groupScore(config.nExpertGroups);
        for (int g = 0; g < config.nExpertGroups; ++g) {
            std::vector<double> members(selection.begin() + g * size, selection.begin() + (g + 1) * size);
            std::sort(members.begin(), members.end(), std::greater<>());
            groupScore[g] = members[0] + (size > 1 ? members[1] : 0.0);
        }
        std::vector<int> groups(config.nExpertGroups);
        std::iota(groups.begin(), groups.end(), 0);
        std::stable_sort(groups.begin(), groups.end(), [&](int a, int b) { return groupScore[a] > groupScore[b]; });
        for (std::size_t k = std::size_t(config.nExpertGroupsUsed); k < groups.size(); ++k)
            for (int i = 0; i < size; ++i)
                selection[groups[k] * size + i] = -std::numeric_limits<double>::infinity();
    }
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return selection[a] > selection[b]; });
    ids.assign(order.begin(), order.begin() + config.nExpertUsed);
    weights.clear();
    for (int id : ids)
        weights.push_back(probs[id]); // the bias chooses, it never weighs (V3 §2.1.2)
    if (config.expertWeightsNorm) {
        const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
        for (double &w : weights)
            w /= sum;
    }
    for (double &w : weights)
        w *= config.expertWeightsScale;
}

std::vector<double> forward(const Weights &weights, std::span<const std::int32_t> tokens)
{
    const Config &cfg = weights.config;
    const int n = int(tokens.size());
    const int nEmbd = cfg.nEmbd, nHeads = cfg.nHeads, qHead = cfg.qHeadDim();
    const int kvRow = cfg.qkNope + cfg.vHeadDim;
    const double scale = attentionScale(cfg);
    t_q8Activations = cfg.q8Activations;

    std::vector<std::vector<double>> x(n);
    for (int t = 0; t < n; ++t)
        x[t].assign(weights.tokEmbd.begin() + std::ptrdiff_t(tokens[t]) * nEmbd,
                    weights.tokEmbd.begin() + std::ptrdiff_t(tokens[t] + 1) * nEmbd);

    for (int l = 0; l < cfg.nLayers; ++l) {
        const Layer &layer = weights.layers[l];
        std::vector<std::vector<double>> q(n), kNope(n), kRope(n), v(n), latent(n);
        for (int t = 0; t < n; ++t) {
            std::vector<double> h = x[t];
            rmsNormInPlace(h.data(), nEmbd, layer.attnNorm, cfg.rmsEps);
            if (cfg.qLoraRank > 0) {
                std::vector<double> qa = matVec(layer.qA, cfg.qLoraRank, nEmbd, h.data());
                rmsNormInPlace(qa.data(), cfg.qLoraRank, layer.qANorm, cfg.rmsEps);
                q[t] = matVec(layer.qB, nHeads * qHead, cfg.qLoraRank, qa.data());
            } else {
                q[t] = matVec(layer.q, nHeads * qHead, nEmbd, h.data());
            }
            std::vector<double> kva = matVec(layer.kvAMqa, cfg.kvLoraRank + cfg.qkRope, nEmbd, h.data());
            rmsNormInPlace(kva.data(), cfg.kvLoraRank, layer.kvANorm, cfg.rmsEps); // c_kv only
            kRope[t].assign(kva.begin() + cfg.kvLoraRank, kva.end());
            rotate(cfg, kRope[t].data(), t);
            for (int hd = 0; hd < nHeads; ++hd)
                rotate(cfg, q[t].data() + std::size_t(hd) * qHead + cfg.qkNope, t);
            // Expanded form: up-project the latent to per-head keys and values.
            const std::vector<double> kv =
                matVec(layer.kvB, nHeads * kvRow, cfg.kvLoraRank, kva.data(), !cfg.absorbedRounding);
            latent[t].assign(kva.begin(), kva.begin() + cfg.kvLoraRank);
            kNope[t].resize(std::size_t(nHeads) * cfg.qkNope);
            v[t].resize(std::size_t(nHeads) * cfg.vHeadDim);
            for (int hd = 0; hd < nHeads; ++hd) {
                for (int d = 0; d < cfg.qkNope; ++d)
                    kNope[t][std::size_t(hd) * cfg.qkNope + d] = kv[std::size_t(hd) * kvRow + d];
                for (int d = 0; d < cfg.vHeadDim; ++d)
                    v[t][std::size_t(hd) * cfg.vHeadDim + d] = kv[std::size_t(hd) * kvRow + cfg.qkNope + d];
            }
        }
        for (int t = 0; t < n; ++t) {
            std::vector<double> attn(std::size_t(nHeads) * cfg.vHeadDim, 0.0);
            for (int hd = 0; hd < nHeads; ++hd) {
                const double *qh = q[t].data() + std::size_t(hd) * qHead;
                std::vector<double> scores(t + 1);
                for (int s = 0; s <= t; ++s) {
                    double dot = 0.0;
                    for (int d = 0; d < cfg.qkNope; ++d)
                        dot += qh[d] * kNope[s][std::size_t(hd) * cfg.qkNope + d];
                    for (int d = 0; d < cfg.qkRope; ++d)
                        dot += qh[cfg.qkNope + d] * kRope[s][d];
                    scores[s] = dot * scale;
                }
                const double peak = *std::max_element(scores.begin(), scores.end());
                double sum = 0.0;
                for (double &sc : scores)
                    sum += sc = std::exp(sc - peak);
                if (cfg.q8Activations && cfg.absorbedRounding) {
                    // W_UV · round(sum_s p_s c_s) for this head.
                    std::vector<double> mixed(cfg.kvLoraRank, 0.0);
                    for (int s = 0; s <= t; ++s)
                        for (int r = 0; r < cfg.kvLoraRank; ++r)
                            mixed[r] += scores[s] / sum * latent[s][r];
                    mixed = roundQ8_0(mixed.data(), cfg.kvLoraRank);
                    for (int d = 0; d < cfg.vHeadDim; ++d) {
                        const double *row = layer.kvB.data() + (std::size_t(hd) * kvRow + cfg.qkNope + d) * cfg.kvLoraRank;
                        double acc = 0.0;
                        for (int r = 0; r < cfg.kvLoraRank; ++r)
                            acc += row[r] * mixed[r];
                        attn[std::size_t(hd) * cfg.vHeadDim + d] = acc;
                    }
                    continue;
                }
                for (int s = 0; s <= t; ++s)
                    for (int d = 0; d < cfg.vHeadDim; ++d)
                        attn[std::size_t(hd) * cfg.vHeadDim + d] +=
                            scores[s] / sum * v[s][std::size_t(hd) * cfg.vHeadDim + d];
            }
            const std::vector<double> o = matVec(layer.out, nEmbd, nHeads * cfg.vHeadDim, attn.data());
            for (int i = 0; i < nEmbd; ++i)
                x[t][i] += o[i];
        }
        for (int t = 0; t < n; ++t) {
            std::vector<double> h = x[t];
            rmsNormInPlace(h.data(), nEmbd, layer.ffnNorm, cfg.rmsEps);
            std::vector<double> y;
            if (l < cfg.nLeadingDense) {
                y = swigluFfn(h.data(), nEmbd, cfg.nFf, layer.ffnGate.data(), layer.ffnUp.data(),
                              layer.ffnDown.data());
            } else {
                const std::vector<double> logits = matVec(layer.gateInp, cfg.nExpert, nEmbd, h.data(), false);
                std::vector<int> ids;
                std::vector<double> w;
                routeExperts(cfg, logits,
                             cfg.expProbsBias ? std::span<const double>(layer.expProbsB) : std::span<const double>(),
                             ids, w);
                y = swigluFfn(h.data(), nEmbd, cfg.nFfShared, layer.gateShexp.data(), layer.upShexp.data(),
                              layer.downShexp.data()); // shared experts: always on, unweighted
                const std::size_t inSize = std::size_t(cfg.nFfExp) * nEmbd;
                for (std::size_t k = 0; k < ids.size(); ++k) {
                    const std::size_t e = std::size_t(ids[k]);
                    const std::vector<double> ye =
                        swigluFfn(h.data(), nEmbd, cfg.nFfExp, layer.gateExps.data() + e * inSize,
                                  layer.upExps.data() + e * inSize, layer.downExps.data() + e * inSize);
                    for (int i = 0; i < nEmbd; ++i)
                        y[i] += w[k] * ye[i];
                }
            }
            for (int i = 0; i < nEmbd; ++i)
                x[t][i] += y[i];
        }
    }

    std::vector<double> logits(std::size_t(n) * cfg.nVocab);
    for (int t = 0; t < n; ++t) {
        rmsNormInPlace(x[t].data(), nEmbd, weights.outputNorm, cfg.rmsEps);
        const std::vector<double> row = matVec(weights.output, cfg.nVocab, nEmbd, x[t].data());
        std::copy(row.begin(), row.end(), logits.begin() + std::ptrdiff_t(t) * cfg.nVocab);
    }
    return logits;
}

} // namespace nw::test::ds2ref
