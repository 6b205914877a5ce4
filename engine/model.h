// The model interface every architecture implements (models/llama.cpp, models/deepseek2.cpp),
// the loader that picks one from `general.architecture`, and the checked weight lookup that
// architectures use to view their tensors inside the GGUF mapping (no copies).
#pragma once

#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "kernels/backend.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class GgufFile;
struct TensorView;

struct ModelOptions {
    int threads = 0;                  // CPU backend workers (<= 0: all logical cores)
    std::shared_ptr<Backend> backend; // null: the backend `device` picks (makeBackend)
    // Cpu by default so library users and tests get the same numbers on any machine; the
    // commands pass the user's `--device` (auto there). Auto falls back to the CPU, with the
    // reason in the log, for graphs that do not run on a GPU yet (deepseek2).
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
    // Bytes of the weight tensors this model uses (they stay mapped from the file).
    std::uint64_t weightsBytes() const { return m_weightsBytes; }

    // KV modes this model can run, the default first (llama: full; deepseek2: mla, full).
    virtual std::vector<KvMode> kvModes() const = 0;
    // A cache for `capacity` tokens in mode `spec`, in the backend's memory; throws nw::Error
    // when the mode does not fit (or does not run on the backend's device yet).
    std::unique_ptr<KvCache> makeKvCache(const KvModeSpec &spec, std::int64_t capacity) const;

    // Runs one batch of a sequence: tokens[i] sits at positions[i]. Positions must be
    // consecutive and start at or below cache.tokens() (rows from there on are overwritten);
    // afterwards the cache holds positions [0, positions.back()]. `logits` receives
    // [nOut, nVocab] floats: nOut = tokens.size() for LogitsFor::All, 1 for Last.
    // Throws nw::Error on a token id out of the vocabulary or a full cache.
    virtual void forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions,
                         KvCache &cache, LogitsFor which, std::vector<float> &logits) = 0;

    // latent:R: weights the factors of later latent caches by the keys and values this text
    // produces (activation-aware, engine/latent_kv.h). Call it before making latent caches: a
    // latent cache made earlier holds latents of the old factors. Throws nw::Error for
    // architectures without latent:R or for an empty text.
    virtual void calibrateLatent(std::span<const std::int32_t> tokens);

protected:
    Model(std::shared_ptr<const GgufFile> file, HParams hparams, std::shared_ptr<Backend> backend);

    // The layout of `spec` for this model (default: KvLayout::forModel); architectures that
    // support fewer modes throw nw::Error here.
    virtual KvLayout kvLayout(const KvModeSpec &spec) const;

    // A weight checked against the expected GGUF shape (shape[0] = row length) and, when
    // `types` is not empty, its type; throws nw::Error "FILE: tensor 'NAME' has shape [..],
    // expected [..]". Counts its bytes in weightsBytes() once.
    const TensorView &requireWeight(std::string_view name, std::initializer_list<std::int64_t> shape,
                                    std::initializer_list<TensorType> types = {});
    const TensorView *findWeight(std::string_view name, std::initializer_list<std::int64_t> shape,
                                 std::initializer_list<TensorType> types = {});
    // A 2-D weight as the backend's matmul takes it: rows = shape[1] outputs, cols = shape[0].
    static WeightMatrix matrix(const TensorView &tensor);
    // A 1-D f32 weight (norms); throws nw::Error when it is not F32.
    const float *requireNormWeight(std::string_view name, std::int64_t length);

    std::shared_ptr<const GgufFile> m_file;
    HParams m_hparams;
    std::shared_ptr<Backend> m_backend;
    std::uint64_t m_weightsBytes = 0;
    std::vector<std::string> m_counted; // names already in m_weightsBytes
};

// Opens the architecture named by `general.architecture`; throws nw::Error naming the arch and
// the supported ones when there is no graph for it.
std::unique_ptr<Model> loadModel(std::shared_ptr<const GgufFile> file, const ModelOptions &options = {});

} // namespace nw
