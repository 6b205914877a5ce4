// A plain float64 DeepSeek-V2/V3 ("deepseek2") forward pass for tests: loops over doubles, no
// cache, expanded (non-absorbed) MLA — written from the papers and GGUF conventions, not from
// engine/, so the engine's logits can be checked against it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nw::test::ds2ref {

enum class Gating { Softmax, Sigmoid }; // DeepSeek-V2 softmax router; V3 sigmoid router

struct Config {
    int nVocab = 0;
    int nEmbd = 0;
    int nLayers = 0;
    int nHeads = 0;
    int qLoraRank = 0;  // 0: a plain attn_q projection (DeepSeek-V2-Lite)
    int kvLoraRank = 0;
    int qkNope = 0;     // per-head query/key dims without position
    int qkRope = 0;     // per-head rotated dims (the key's are shared by all heads)
    int vHeadDim = 0;
    int nFf = 0;        // dense FFN width (leading dense layers)
    int nFfExp = 0;     // width of one routed expert
    int nFfShared = 0;  // width of the shared experts together (nFfExp * expert_shared_count)
    int nExpert = 0;
    int nExpertUsed = 0;
    int nLeadingDense = 0; // layers [0, nLeadingDense) use the dense FFN
    Gating gating = Gating::Softmax;
    bool expProbsBias = false; // V3: a per-expert bias used only to choose experts
    bool expertWeightsNorm = false;
    double expertWeightsScale = 1.0;
    int nExpertGroups = 1;     // V3: experts in equal groups, only the best nExpertGroupsUsed compete
    int nExpertGroupsUsed = 1;
    double rmsEps = 1e-6;
    double ropeBase = 10000.0;
    // YaRN (arXiv:2309.00071) as DeepSeek configures it: interpolate by `yarnFactor` with a ramp
    // between the correction dims of betaFast/betaSlow for a context of yarnOrigCtx.
    bool yarn = false;
    double yarnFactor = 1.0;
    int yarnOrigCtx = 0;
    double yarnLogMul = 0.0;
    double yarnBetaFast = 32.0;
    double yarnBetaSlow = 1.0;

    // Round the input of every matmul with a quantized weight (all but the router) through
    // Q8_0, as ggml-style CPU kernels quantize activations for Q8_0 weights; off: exact.
    bool q8Activations = false;
    // With q8Activations: place the rounding where the absorbed form has its matmuls — none on
    // the latent for the keys (W_UK is folded into the query in f32), and on the attention-
    // weighted latent, per head, before W_UV. Without rounding both placements are the same math.
    bool absorbedRounding = false;

    int qHeadDim() const { return qkNope + qkRope; }
};

// Matrices are row-major [rows][cols] with y = W x (a GGUF tensor {cols, rows}).
struct Layer {
    std::vector<double> attnNorm;  // [nEmbd]
    std::vector<double> qA;        // [qLoraRank][nEmbd]
    std::vector<double> qANorm;    // [qLoraRank]
    std::vector<double> qB;        // [nHeads * qHeadDim][qLoraRank]
    std::vector<double> q;         // [nHeads * qHeadDim][nEmbd] (when qLoraRank == 0)
    std::vector<double> kvAMqa;    // [kvLoraRank + qkRope][nEmbd]
    std::vector<double> kvANorm;   // [kvLoraRank]
    std::vector<double> kvB;       // [nHeads * (qkNope + vHeadDim)][kvLoraRank], per head K rows then V rows
    std::vector<double> out;       // [nEmbd][nHeads * vHeadDim]
    std::vector<double> ffnNorm;   // [nEmbd]
    std::vector<double> ffnGate;   // [nFf][nEmbd]   (dense layers)
    std::vector<double> ffnUp;     // [nFf][nEmbd]
    std::vector<double> ffnDown;   // [nEmbd][nFf]
    std::vector<double> gateInp;   // [nExpert][nEmbd] (MoE layers)
    std::vector<double> expProbsB; // [nExpert] (when expProbsBias)
    std::vector<double> gateExps;  // [nExpert][nFfExp][nEmbd]
    std::vector<double> upExps;    // [nExpert][nFfExp][nEmbd]
    std::vector<double> downExps;  // [nExpert][nEmbd][nFfExp]
    std::vector<double> gateShexp; // [nFfShared][nEmbd]
    std::vector<double> upShexp;   // [nFfShared][nEmbd]
    std::vector<double> downShexp; // [nEmbd][nFfShared]
};

struct Weights {
    Config config;
    std::vector<double> tokEmbd;    // [nVocab][nEmbd]
    std::vector<double> outputNorm; // [nEmbd]
    std::vector<double> output;     // [nVocab][nEmbd]
    std::vector<Layer> layers;
};

// Logits of every token of a sequence at positions 0..n-1: [n][nVocab].
std::vector<double> forward(const Weights &weights, std::span<const std::int32_t> tokens);

// Pieces the tests also check on their own.
// The rotation angle of pair i at position `pos` (YaRN-corrected when config.yarn).
double ropeTheta(const Config &config, int pos, int pair);
// softmax(scale · q·k) scale of MLA: mscale² / sqrt(qkNope + qkRope), mscale = 1 + log_mul·ln(factor).
double attentionScale(const Config &config);
// Routed-expert choice and weights of one token: ids (in selection order) and weights.
void routeExperts(const Config &config, std::span<const double> routerLogits,
                  std::span<const double> bias, std::vector<int> &ids, std::vector<double> &weights);

} // namespace nw::test::ds2ref
