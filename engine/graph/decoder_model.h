// The frame every decoder-only transformer shares: token embedding (optionally scaled), a stack
// of layers each architecture writes from the blocks of engine/graph/, the final norm and the
// output projection (tied to the embedding when the file has no output.weight) — with DeepSeek
// V4's hyper-connections, a residual of several streams collapsed by the head; the forward
// call's bookkeeping (checks, cache growth, ids and positions in backend memory); and latent:R
// for architectures whose attention blocks allow it.
#pragma once

#include "engine/graph/attention.h"
#include "engine/graph/forward_pass.h"
#include "engine/graph/hyper_connection.h"
#include "engine/latent_kv.h"
#include "engine/model.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace nw {

class DecoderModel : public Model {
public:
    void forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions, KvCache &cache,
        LogitsFor which, std::vector<float> &logits) final;
    void calibrateLatent(std::span<const std::int32_t> tokens) override;

protected:
    // Loads token_embd, output_norm and output (+ output.bias when present).
    DecoderModel(std::shared_ptr<const GgufFile> file, HParams hp, std::shared_ptr<Backend> backend);

    // One layer, blocks in the architecture's order, reading and writing pass.x (the residual
    // stream) and using pass.h / pass.y as the blocks' input and output rows.
    virtual void runLayer(ForwardPass &pass, std::int64_t layer) = 0;
    // The layer's attention block when it is the standard one (latent:R factorises its K and V
    // projections); null for architectures without latent:R.
    virtual const AttentionBlock *standardAttention(std::int64_t layer) const;

    // Multiplies the embedding rows by `scale` (Gemma: sqrt(nEmbd)).
    void setEmbeddingScale(float scale) { m_embeddingScale = scale; }
    // DeepSeek V4: pass.x holds `head`'s nStreams streams of nEmbd per token ([nTokens, nStreams,
    // nEmbd], each starting as the embedding) and `head` collapses them before the final norm.
    // Its matrices go with the layers' to prepareLayerWeights.
    void setHyperConnections(const HyperConnection &head, int nStreams);
    // The layers' matrices, with the embedding and output ones, to the backend (Model::prepareWeights).
    void prepareLayerWeights(std::vector<WeightMatrix> layerMatrices, std::uint64_t ownedBytes = 0);

    void prepareKvMode(const KvModeSpec &spec) const override;

private:
    const LatentKv &latentFor(std::int64_t rank) const;
    LatentKeyGeometry latentGeometry() const;

    WeightMatrix m_tokenEmbd; // [nVocab, nEmbd]
    float m_embeddingScale = 1.f;
    std::optional<HyperConnection> m_hcHead; // DeepSeek V4
    int m_streams = 1;
    const float *m_outputNorm = nullptr; // [nEmbd]
    WeightMatrix m_output; // [nVocab, nEmbd]
    const float *m_outputBias = nullptr; // [nVocab] or null
    // Scratch reused across calls (one forward at a time per model), in the backend's memory.
    BackendArray<float> m_x { *m_backend }, m_h { *m_backend }, m_y { *m_backend }, m_logits { *m_backend };
    BackendArray<std::int32_t> m_ids { *m_backend }, m_positions { *m_backend };
    // Each token's cache row when it differs from its position (SnapKV, KvCache::setCompacted).
    BackendArray<std::int32_t> m_rows { *m_backend };
    std::vector<std::int32_t> m_hostRows;
    ScratchBuffers m_scratch;
    // latent:R
    LatentAttention m_latentAttention;
    mutable std::mutex m_latentMutex;
    mutable std::map<std::int64_t, std::unique_ptr<LatentKv>> m_latent; // by rank
    std::unique_ptr<LatentCalibration> m_calibration; // the factors' weighting, when calibrated
    LatentCalibration *m_calibrating = nullptr; // set while calibrateLatent runs
};

} // namespace nw
