// The model interface every architecture implements (engine/models/<arch>.cpp, through the
// graph blocks of engine/graph/), and the loader that picks one from `general.architecture`
// through the registry (engine/architecture.h).
#pragma once

#include "engine/graph/weight_loader.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "kernels/backend.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class GgufFile;
struct TensorView;

struct ModelOptions {
    int threads = 0; // CPU backend workers (<= 0: all logical cores)
    std::shared_ptr<Backend> backend; // null: the backend `device` picks (makeBackend)
    // Cpu by default so library users and tests get the same numbers on any machine; the
    // commands pass the user's `--device` (auto there). Auto falls back to the CPU, with the
    // reason in the log, for graphs that do not run on a GPU yet (Architecture::runsOnDevice).
    DeviceChoice device = DeviceChoice::Cpu;
};

// Which tokens of a batch get logits.
enum class LogitsFor { Last, All };

class Model {
public:
    virtual ~Model() = default;
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    const HParams &hparams() const { return m_hparams; }
    const GgufFile &file() const { return *m_file; }
    Backend &backend() const { return *m_backend; }
    // Bytes of the weight tensors this model uses (they stay mapped from the file), plus the
    // copies it or the host backend made of them (repacked matrices, transposed MLA factors).
    std::uint64_t weightsBytes() const { return m_weightsBytes; }

    // KV modes this model can run, the default first (the architecture's, engine/architecture.h).
    std::vector<KvMode> kvModes() const;
    // A cache for `capacity` tokens in mode `spec`, in the backend's memory, with each layer's
    // kind (full or sliding window) from the hyperparameters; throws nw::Error when the mode
    // does not fit (or does not run on the backend's device yet).
    std::unique_ptr<KvCache> makeKvCache(const KvModeSpec &spec, std::int64_t capacity) const;

    // Runs one batch of a sequence: tokens[i] sits at positions[i]. Positions must be
    // consecutive and start at or below cache.tokens() (rows from there on are overwritten);
    // afterwards the cache holds positions [0, positions.back()]. `logits` receives
    // [nOut, nVocab] floats: nOut = tokens.size() for LogitsFor::All, 1 for Last.
    // Throws nw::Error on a token id out of the vocabulary or a full cache.
    virtual void forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions, KvCache &cache,
        LogitsFor which, std::vector<float> &logits)
        = 0;
    // forward() is not reentrant: the graphs reuse one set of scratch buffers and the backend its
    // workers. Generators hold this lock around each forward (and the cache steps of a prefill), so
    // several of them (the server's slots, each with its own cache) can share one model's weights
    // from different threads; they then take turns batch by batch.
    std::mutex &forwardMutex() const { return m_forwardMutex; }

    // latent:R: weights the factors of later latent caches by the keys and values this text
    // produces (activation-aware, engine/latent_kv.h). Call it before making latent caches: a
    // latent cache made earlier holds latents of the old factors. Throws nw::Error for
    // architectures without latent:R or for an empty text.
    virtual void calibrateLatent(std::span<const std::int32_t> tokens);

    // Tensors of the file the graph leaves alone on purpose (DeepSeek-V3's multi-token
    // prediction layers); every other tensor must be used (loadModel checks).
    virtual bool ignoresTensor(std::string_view name) const;
    // Tensor lookup; after loading, which tensors the graph used.
    const WeightLoader &weights() const { return m_weights; }

protected:
    Model(std::shared_ptr<const GgufFile> file, HParams hparams, std::shared_ptr<Backend> backend);

    // Called by makeKvCache once the mode is known to apply, before the cache is made (latent:R
    // factors are computed or read here, so the first forward does not pay for the SVD).
    virtual void prepareKvMode(const KvModeSpec &spec) const;

    // Hands the matrices the graph multiplies by to the backend, which may make its own copies
    // now (a GPU uploads, the CPU repacks); on the host those copies count with the weights, as
    // do `ownedBytes` the model keeps itself. Sets weightsBytes().
    void prepareWeights(std::vector<WeightMatrix> matrices, std::uint64_t ownedBytes = 0);

    std::shared_ptr<const GgufFile> m_file;
    HParams m_hparams;
    std::shared_ptr<Backend> m_backend;
    WeightLoader m_weights;
    std::uint64_t m_weightsBytes = 0;
    mutable std::mutex m_forwardMutex;
};

// Opens the architecture named by `general.architecture`; throws nw::Error naming the arch and
// the supported ones when there is no graph for it, and "wrong number of tensors" when the file
// holds tensors the graph does not use (a block_count lower than the file's layers).
std::unique_ptr<Model> loadModel(std::shared_ptr<const GgufFile> file, const ModelOptions &options = {});

} // namespace nw
