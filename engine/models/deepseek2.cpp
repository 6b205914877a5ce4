// The deepseek2 graph, written once against the Backend. Tensor names and shapes as llama.cpp's
// LLM_ARCH_DEEPSEEK2 (both the combined attn_kv_b and the split attn_k_b / attn_v_b layouts).
#include "engine/models/deepseek2.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/mla.h"
#include "engine/moe.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace nw {
namespace {

struct Deepseek2Layer {
    const float *attnNorm = nullptr; // [nEmbd]
    WeightMatrix qA;                 // [qLoraRank, nEmbd] (when qLoraRank > 0)
    const float *qANorm = nullptr;   // [qLoraRank]
    WeightMatrix qB;                 // [nHeads × qHeadDim, qLoraRank]
    WeightMatrix q;                  // [nHeads × qHeadDim, nEmbd] (when qLoraRank == 0)
    WeightMatrix kvAMqa;             // [kvLoraRank + qkRope, nEmbd]: c_kv then k_rope
    const float *kvANorm = nullptr;  // [kvLoraRank]
    MlaProjections mla;              // W_UK / W_UV per head
    WeightMatrix out;                // [nEmbd, nHeads × vHeadDim]
    const float *ffnNorm = nullptr;  // [nEmbd]
    bool moe = false;
    WeightMatrix gate, up, down;     // dense FFN [nFf, nEmbd] ×2, [nEmbd, nFf]
    WeightMatrix router;             // [nExperts, nEmbd]
    const float *selectionBias = nullptr; // [nExperts] exp_probs_b (V3), or null
    ExpertWeights experts;
    WeightMatrix gateShared, upShared, downShared; // [nFfShared, nEmbd] ×2, [nEmbd, nFfShared]
};

// The expert tensor {cols, rows, nExperts} viewed as its first expert plus a stride.
WeightMatrix firstExpert(const TensorView &t, std::size_t &expertStride)
{
    const WeightMatrix w = denseWeights(t.type, t.shape[1], t.shape[0], t.data);
    expertStride = w.rowStride * std::size_t(w.rows);
    return w;
}

class Deepseek2Model final : public Model {
public:
    Deepseek2Model(std::shared_ptr<const GgufFile> file, HParams hp, std::shared_ptr<Backend> backend,
                   const Deepseek2Options &options)
        : Model(std::move(file), std::move(hp), std::move(backend)), m_options(options)
    {
        dropNextNLayers();
        const HParams &p = m_hparams;
        const std::int64_t e = p.nEmbd, nHeads = p.nHeads, qHead = p.qkNopeHeadDim + p.qkRopeHeadDim;
        const std::int64_t rank = p.kvLoraRank, rope = p.qkRopeHeadDim, v = p.headDimV;
        m_tokenEmbd = matrix(requireWeight("token_embd.weight", {e, p.nVocab}));
        m_outputNorm = requireNormWeight("output_norm.weight", e);
        const TensorView *output = findWeight("output.weight", {e, p.nVocab});
        m_output = output ? matrix(*output) : m_tokenEmbd;

        if (p.nLeadingDense < p.nLayers && (p.nExperts <= 0 || p.nExpertsUsed <= 0 || p.nExpertsUsed > p.nExperts
                                            || p.nFfExpert <= 0))
            fail("{}: deepseek2 MoE layers need expert_count, expert_used_count (1..expert_count) and "
                 "expert_feed_forward_length; got {}, {}, {}",
                 m_file->label(), p.nExperts, p.nExpertsUsed, p.nFfExpert);
        switch (p.expertGatingFunc) {
        case 0: // files from before the key existed are DeepSeek-V2: softmax
        case 1: m_gating = MoeGating::Softmax; break;
        case 2: m_gating = MoeGating::Sigmoid; break;
        default:
            fail("{}: deepseek2.expert_gating_func {} is not supported (1 softmax, 2 sigmoid)", m_file->label(),
                 p.expertGatingFunc);
        }
        const std::int64_t nFfShared = m_file->findInt("deepseek2.expert_shared_feed_forward_length")
                                           .value_or(p.nFfExpert * p.nSharedExperts);
        // V3's group-limited routing (n_group / topk_group in its config.json).
        m_nGroups = int(m_file->findInt("deepseek2.expert_group_count").value_or(1));
        m_nGroupsUsed = int(m_file->findInt("deepseek2.expert_group_used_count").value_or(m_nGroups));
        if (m_nGroups < 1)
            m_nGroups = 1;
        if (m_nGroupsUsed < 1 || m_nGroupsUsed > m_nGroups || (p.nExperts > 0 && p.nExperts % m_nGroups != 0)
            || (m_nGroupsUsed < m_nGroups && std::int64_t(m_nGroupsUsed) * (p.nExperts / m_nGroups) < p.nExpertsUsed))
            fail("{}: deepseek2 expert groups {} (using {}) do not fit {} experts choosing {}", m_file->label(),
                 m_nGroups, m_nGroupsUsed, p.nExperts, p.nExpertsUsed);

        m_layers.resize(std::size_t(p.nLayers));
        for (std::int64_t i = 0; i < p.nLayers; ++i) {
            auto name = [i](const char *what, const char *suffix = "weight") {
                return "blk." + std::to_string(i) + "." + what + "." + suffix;
            };
            Deepseek2Layer &l = m_layers[std::size_t(i)];
            l.attnNorm = requireNormWeight(name("attn_norm"), e);
            if (p.qLoraRank > 0) {
                l.qA = matrix(requireWeight(name("attn_q_a"), {e, p.qLoraRank}));
                l.qANorm = requireNormWeight(name("attn_q_a_norm"), p.qLoraRank);
                l.qB = matrix(requireWeight(name("attn_q_b"), {p.qLoraRank, nHeads * qHead}));
            } else {
                l.q = matrix(requireWeight(name("attn_q"), {e, nHeads * qHead}));
            }
            l.kvAMqa = matrix(requireWeight(name("attn_kv_a_mqa"), {e, rank + rope}));
            l.kvANorm = requireNormWeight(name("attn_kv_a_norm"), rank);
            if (const TensorView *kB = findWeight(name("attn_k_b"), {p.qkNopeHeadDim, rank, nHeads})) {
                const TensorView &vB = requireWeight(name("attn_v_b"), {rank, v, nHeads});
                l.mla = MlaProjections::fromSplit(denseWeights(kB->type, rank, p.qkNopeHeadDim, kB->data),
                                                  denseWeights(vB.type, v, rank, vB.data), int(nHeads));
            } else {
                const TensorView &kvB = requireWeight(name("attn_kv_b"), {rank, nHeads * (p.qkNopeHeadDim + v)});
                l.mla = MlaProjections::fromKvB(matrix(kvB), int(nHeads), int(p.qkNopeHeadDim), int(v));
            }
            m_ownedBytes += l.mla.ownedBytes();
            l.out = matrix(requireWeight(name("attn_output"), {nHeads * v, e}));
            l.ffnNorm = requireNormWeight(name("ffn_norm"), e);
            if (i < p.nLeadingDense) {
                l.gate = matrix(requireWeight(name("ffn_gate"), {e, p.nFf}));
                l.up = matrix(requireWeight(name("ffn_up"), {e, p.nFf}));
                l.down = matrix(requireWeight(name("ffn_down"), {p.nFf, e}));
                continue;
            }
            l.moe = true;
            l.router = matrix(requireWeight(name("ffn_gate_inp"), {e, p.nExperts}));
            if (const TensorView *bias = findWeight(name("exp_probs_b", "bias"), {p.nExperts}, {TensorType::F32}))
                l.selectionBias = reinterpret_cast<const float *>(bias->data);
            const std::int64_t f = p.nFfExpert, nx = p.nExperts;
            l.experts.nExperts = int(nx);
            l.experts.gate = firstExpert(requireWeight(name("ffn_gate_exps"), {e, f, nx}), l.experts.gateExpertStride);
            l.experts.up = firstExpert(requireWeight(name("ffn_up_exps"), {e, f, nx}), l.experts.upExpertStride);
            l.experts.down = firstExpert(requireWeight(name("ffn_down_exps"), {f, e, nx}), l.experts.downExpertStride);
            if (nFfShared > 0) {
                l.gateShared = matrix(requireWeight(name("ffn_gate_shexp"), {e, nFfShared}));
                l.upShared = matrix(requireWeight(name("ffn_up_shexp"), {e, nFfShared}));
                l.downShared = matrix(requireWeight(name("ffn_down_shexp"), {nFfShared, e}));
            }
        }

        // The transposed W_UK copies (mla.h) live outside the file: they count with the weights.
        m_weightsBytes += m_ownedBytes;
        prepareMatrices();

        // YaRN as DeepSeek applies it (llama.cpp discussion #7416): the softmax scale carries
        // mscale², so the rotation's own YaRN magnitude 1 + 0.1·ln(factor) is cancelled by
        // attnFactor and q/k rotate with magnitude 1.
        m_rope.nDims = int(rope);
        m_rope.neox = false; // GGUF deepseek2: adjacent pairs
        m_rope.freqBase = float(p.ropeFreqBase);
        double mscale = 1.0;
        const RopeScaling &rs = p.ropeScaling;
        if (rs.type != RopeScalingType::None && rs.factor > 0.0)
            m_rope.freqScale = float(1.0 / rs.factor);
        if (rs.type == RopeScalingType::Yarn && rs.factor > 0.0) {
            m_rope.nCtxOrig = int(rs.originalContext);
            m_rope.extFactor = 1.f;
            m_rope.betaFast = float(rs.yarnBetaFast);
            m_rope.betaSlow = float(rs.yarnBetaSlow);
            m_rope.attnFactor = float(1.0 / (1.0 + 0.1 * std::log(rs.factor)));
            mscale = 1.0 + rs.yarnLogMultiplier * std::log(rs.factor);
        }
        m_scale = float(mscale * mscale / std::sqrt(double(qHead)));
    }

    std::vector<KvMode> kvModes() const override { return {KvMode::Mla, KvMode::Full}; }

    void forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions, KvCache &cache,
                 LogitsFor which, std::vector<float> &logits) override;

private:
    void dropNextNLayers()
    {
        HParams &p = m_hparams;
        // V3 conversions may append multi-token-prediction layers (DeepSeek-V3 §2.2) after the
        // model proper; next-token generation does not run them.
        const std::int64_t nextN = m_file->findInt("deepseek2.nextn_predict_layers").value_or(0);
        if (nextN < 0 || nextN >= p.nLayers)
            fail("{}: deepseek2.nextn_predict_layers {} does not fit block_count {}", m_file->label(), nextN, p.nLayers);
        p.nLayers -= nextN;
        if (p.qkNopeHeadDim <= 0 || p.headDimV <= 0)
            fail("{}: deepseek2 key length {} leaves no room beside the rope dims {}", m_file->label(), p.headDimK,
                 p.qkRopeHeadDim);
    }

    void ffn(const Deepseek2Layer &l, int n);

    // Hands every matrix the graph multiplies by (each expert's slice too) to the backend, which
    // may keep its own copies (the CPU backend repacks quantized ones into 8-row groups); those
    // bytes count with the weights.
    void prepareMatrices()
    {
        std::vector<WeightMatrix> all = {m_output};
        for (const Deepseek2Layer &l : m_layers) {
            all.insert(all.end(), {l.qA, l.qB, l.q, l.kvAMqa, l.out, l.gate, l.up, l.down, l.router, l.gateShared,
                                   l.upShared, l.downShared});
            if (l.moe)
                for (int x = 0; x < l.experts.nExperts; ++x)
                    all.insert(all.end(), {l.experts.gateOf(x), l.experts.upOf(x), l.experts.downOf(x)});
        }
        std::erase_if(all, [](const WeightMatrix &w) { return w.data == nullptr; });
        const std::uint64_t before = m_backend->memoryInfo().weightsBytes;
        m_backend->prepareWeights(all);
        m_weightsBytes += m_backend->memoryInfo().weightsBytes - before;
    }

    Deepseek2Options m_options;
    WeightMatrix m_tokenEmbd;            // [nVocab, nEmbd]
    const float *m_outputNorm = nullptr; // [nEmbd]
    WeightMatrix m_output;               // [nVocab, nEmbd]
    std::vector<Deepseek2Layer> m_layers; // [nLayers]
    MoeGating m_gating = MoeGating::Softmax;
    int m_nGroups = 1;
    int m_nGroupsUsed = 1;
    RopeParams m_rope;
    float m_scale = 1.f;
    std::size_t m_ownedBytes = 0; // transposed W_UK copies (mla.h)
    // Scratch reused across calls (one forward at a time per model).
    std::vector<float> m_x, m_h, m_qa, m_q, m_kva, m_ckv, m_att, m_keys, m_values, m_gate, m_up, m_y;
    std::vector<float> m_routerLogits, m_expertWeights;
    std::vector<std::int32_t> m_expertIds;
    MlaScratch m_mlaScratch;
    ExpertRunner m_experts;
};

void Deepseek2Model::forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions,
                             KvCache &cache, LogitsFor which, std::vector<float> &logits)
{
    const HParams &p = m_hparams;
    const int n = int(tokens.size());
    NW_ASSERT(n > 0 && positions.size() == tokens.size());
    NW_ASSERT(cache.nLayers() == p.nLayers);
    const KvMode mode = cache.layout().spec.mode;
    NW_ASSERT(mode == KvMode::Mla || mode == KvMode::Full);
    for (int t = 1; t < n; ++t)
        NW_ASSERT(positions[std::size_t(t)] == positions[std::size_t(t - 1)] + 1);
    if (positions[0] < 0 || positions[0] > cache.tokens())
        fail("batch starts at position {} but the KV cache holds {} tokens", positions[0], cache.tokens());
    for (std::int32_t id : tokens)
        if (id < 0 || id >= p.nVocab)
            fail("token id {} is outside the vocabulary of {} tokens", id, p.nVocab);

    const std::int64_t end = positions.back() + 1;
    cache.truncate(positions[0]);
    cache.reserve(end);

    const std::size_t nt = std::size_t(n), e = std::size_t(p.nEmbd);
    const int nHeads = int(p.nHeads), rank = int(p.kvLoraRank), rope = int(p.qkRopeHeadDim);
    const int nope = int(p.qkNopeHeadDim), qHead = nope + rope, v = int(p.headDimV);
    const int kvRow = rank + rope;
    m_x.resize(nt * e);
    m_h.resize(nt * e);
    m_qa.resize(nt * std::size_t(std::max<std::int64_t>(p.qLoraRank, 1)));
    m_q.resize(nt * std::size_t(nHeads * qHead));
    m_kva.resize(nt * std::size_t(kvRow));
    m_att.resize(nt * std::size_t(nHeads * v));
    const bool expanded = m_options.mlaForm == MlaForm::Expanded
        || (m_options.mlaForm == MlaForm::Auto
            // Expanded costs (nope + v)·rank per cached token and head once, absorbed
            // (2·rank − nope − v) more per query·key pair: expand when the batch is long.
            && std::int64_t(n) * (2 * rank - nope - v) > std::int64_t(nope + v) * rank);

    Backend &be = *m_backend;
    const float eps = float(p.rmsEps);
    be.embed(m_tokenEmbd, tokens.data(), n, m_x.data());
    for (std::size_t il = 0; il < m_layers.size(); ++il) {
        const Deepseek2Layer &l = m_layers[il];
        be.rmsNorm(m_x.data(), l.attnNorm, m_h.data(), n, int(e), eps);
        if (p.qLoraRank > 0) {
            be.matmul(l.qA, m_h.data(), m_qa.data(), n);
            be.rmsNorm(m_qa.data(), l.qANorm, m_qa.data(), n, int(p.qLoraRank), eps);
            be.matmul(l.qB, m_qa.data(), m_q.data(), n);
        } else {
            be.matmul(l.q, m_h.data(), m_q.data(), n);
        }
        be.matmul(l.kvAMqa, m_h.data(), m_kva.data(), n);
        // The norm covers c_kv only; k_rope keeps its scale (DeepSeek-V2 eq. 9-10). One call
        // over the gathered c_kv rows rather than one per token.
        m_ckv.resize(nt * std::size_t(rank));
        for (std::size_t t = 0; t < nt; ++t)
            std::copy_n(m_kva.data() + t * std::size_t(kvRow), rank, m_ckv.data() + t * std::size_t(rank));
        be.rmsNorm(m_ckv.data(), l.kvANorm, m_ckv.data(), n, rank, eps);
        for (std::size_t t = 0; t < nt; ++t)
            std::copy_n(m_ckv.data() + t * std::size_t(rank), rank, m_kva.data() + t * std::size_t(kvRow));
        // Only the rope slice of each head rotates; k_rope is one head shared by all.
        be.rope(m_q.data(), n, nHeads, qHead, nope, positions.data(), m_rope);
        be.rope(m_kva.data(), n, 1, kvRow, rank, positions.data(), m_rope);

        const KvLayerView view = cache.layerView(std::int64_t(il));
        if (mode == KvMode::Mla) {
            be.storeKv(view, m_kva.data(), nullptr, n, positions.data());
            if (expanded)
                mlaAttentionExpanded(be, l.mla, view, m_q.data(), n, rope, positions.data(), m_scale, m_att.data(),
                                     m_mlaScratch);
            else
                mlaAttentionAbsorbed(be, l.mla, view, m_q.data(), n, rope, positions.data(), m_scale, m_att.data(),
                                     m_mlaScratch);
        } else {
            m_keys.resize(nt * std::size_t(nHeads * qHead));
            m_values.resize(nt * std::size_t(nHeads * v));
            mlaExpandKeysValues(be, l.mla, m_kva.data(), n, rope, m_keys.data(), m_values.data(), m_mlaScratch);
            be.storeKv(view, m_keys.data(), m_values.data(), n, positions.data());
            AttentionArgs args;
            args.q = m_q.data();
            args.out = m_att.data();
            args.nTokens = n;
            args.nHeads = nHeads;
            args.queryPositions = positions.data();
            args.scale = m_scale;
            args.kv = view;
            be.attention(args);
        }
        be.matmul(l.out, m_att.data(), m_h.data(), n);
        for (std::size_t i = 0; i < nt * e; ++i)
            m_x[i] += m_h[i];

        be.rmsNorm(m_x.data(), l.ffnNorm, m_h.data(), n, int(e), eps);
        ffn(l, n);
        for (std::size_t i = 0; i < nt * e; ++i)
            m_x[i] += m_y[i];
    }
    cache.commit(end);

    const int nOut = which == LogitsFor::All ? n : 1;
    const float *last = m_x.data() + (nt - std::size_t(nOut)) * e;
    be.rmsNorm(last, m_outputNorm, m_h.data(), nOut, int(e), eps);
    logits.resize(std::size_t(nOut) * std::size_t(p.nVocab));
    be.matmul(m_output, m_h.data(), logits.data(), nOut);
}

// m_y = FFN(m_h): SwiGLU for leading dense layers, else shared experts + weighted routed experts.
void Deepseek2Model::ffn(const Deepseek2Layer &l, int n)
{
    const HParams &p = m_hparams;
    const std::size_t nt = std::size_t(n), e = std::size_t(p.nEmbd);
    Backend &be = *m_backend;
    m_y.assign(nt * e, 0.f);
    auto swigluFfn = [&](const WeightMatrix &gate, const WeightMatrix &up, const WeightMatrix &down) {
        const std::size_t width = std::size_t(gate.rows);
        m_gate.resize(nt * width);
        m_up.resize(nt * width);
        be.matmul(gate, m_h.data(), m_gate.data(), n);
        be.matmul(up, m_h.data(), m_up.data(), n);
        be.swiglu(m_gate.data(), m_up.data(), m_gate.data(), nt * width);
        be.matmul(down, m_gate.data(), m_y.data(), n);
    };
    if (!l.moe) {
        swigluFfn(l.gate, l.up, l.down);
        return;
    }
    if (l.gateShared.rows > 0)
        swigluFfn(l.gateShared, l.upShared, l.downShared); // shared experts: always on, weight 1
    const int nExperts = int(p.nExperts), nUsed = int(p.nExpertsUsed);
    m_routerLogits.resize(nt * std::size_t(nExperts));
    be.matmul(l.router, m_h.data(), m_routerLogits.data(), n);
    MoeRouting routing;
    routing.gating = m_gating;
    routing.nExperts = nExperts;
    routing.nUsed = nUsed;
    routing.normalize = p.expertWeightsNorm;
    routing.scale = float(p.expertWeightsScale);
    routing.selectionBias = l.selectionBias;
    routing.nGroups = m_nGroups;
    routing.nGroupsUsed = m_nGroupsUsed;
    m_expertIds.resize(nt * std::size_t(nUsed));
    m_expertWeights.resize(nt * std::size_t(nUsed));
    routeExperts(routing, m_routerLogits.data(), n, m_expertIds.data(), m_expertWeights.data());
    m_experts.run(be, l.experts, m_h.data(), n, m_expertIds.data(), m_expertWeights.data(), nUsed, m_y.data());
}

} // namespace

std::unique_ptr<Model> makeDeepseek2Model(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                          std::shared_ptr<Backend> backend, const Deepseek2Options &options)
{
    return std::make_unique<Deepseek2Model>(std::move(file), hp, std::move(backend), options);
}

} // namespace nw
