// Model base (KV cache creation, weight preparation) and the architecture dispatch.
#include "engine/model.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "kernels/device_info.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace nw {

Model::Model(std::shared_ptr<const GgufFile> file, HParams hparams, std::shared_ptr<Backend> backend)
    : m_file(std::move(file))
    , m_hparams(std::move(hparams))
    , m_backend(std::move(backend))
    , m_weights(*m_file, m_hparams.arch)
{
    NW_ASSERT(m_file && m_backend);
}

std::vector<KvMode> Model::kvModes() const
{
    return requireArchitecture(m_file->label(), m_hparams.arch).kvModes;
}

bool Model::ignoresTensor(std::string_view) const
{
    return false;
}

void Model::prepareKvMode(const KvModeSpec &) const { }

void Model::calibrateLatent(std::span<const std::int32_t>)
{
    fail("{}: KV mode latent:R (and so its calibration) is not available for architecture '{}'", m_file->label(),
        m_hparams.arch);
}

void Model::prepareWeights(std::vector<WeightMatrix> matrices, std::uint64_t ownedBytes)
{
    std::erase_if(matrices, [](const WeightMatrix &w) { return w.data == nullptr; });
    const std::uint64_t copiedBefore = m_backend->memoryInfo().weightsBytes;
    m_backend->prepareWeights(matrices);
    m_weightsBytes = m_weights.bytes() + ownedBytes;
    if (m_backend->memoryKind() == BackendMemory::Host)
        m_weightsBytes += m_backend->memoryInfo().weightsBytes - copiedBefore;
}

std::unique_ptr<KvCache> Model::makeKvCache(const KvModeSpec &spec, std::int64_t capacity) const
{
    const std::vector<KvMode> modes = kvModes();
    if (std::find(modes.begin(), modes.end(), spec.mode) == modes.end()) {
        std::vector<std::string_view> names;
        for (KvMode mode : modes)
            names.push_back(kvModeName(mode));
        fail("{}: KV mode '{}' is not available for architecture '{}' (available: {})", m_file->label(),
            spec.toString(), m_hparams.arch, fmt::join(names, ", "));
    }
    std::vector<KvLayerPlan> plan = kvCachePlan(m_hparams, spec);
    prepareKvMode(spec);
    const std::uint64_t mha = mhaF16BytesPerTokenLayer(m_hparams);
    if (m_backend->memoryKind() == BackendMemory::Host)
        return std::make_unique<KvCache>(std::move(plan), capacity, mha, m_weightsBytes);
    // The GPU attention reads full K/V rows in f16/f32 (kernels/cuda/attention.cu); latent:R
    // rebuilds keys on the host and the quantized rows have no GPU kernels yet.
    if (spec.mode != KvMode::Full || spec.quantized() || spec.evicts() || spec.snapkv > 0)
        fail(Remedy::CpuDevice, "KV mode '{}' does not run on {} yet (only full does; every mode runs on the CPU)",
            spec.toString(), m_backend->name());
    return std::make_unique<KvCache>(std::move(plan), capacity, mha, m_weightsBytes, *m_backend);
}

std::unique_ptr<Model> loadModel(std::shared_ptr<const GgufFile> file, const ModelOptions &options)
{
    NW_ASSERT(file);
    HParams hp = HParams::fromGguf(*file); // rejects unknown architectures with the list
    const Architecture &arch = requireArchitecture(file->label(), hp.arch);
    std::shared_ptr<Backend> backend = options.backend;
    if (!backend) {
        DeviceChoice device = options.device;
        if (!arch.runsOnDevice && device != DeviceChoice::Cpu) {
            if (device == DeviceChoice::Cuda)
                fail(Remedy::CpuDevice, "{}: the {} graph does not run on CUDA yet", file->label(), hp.arch);
            if (decideBackend(device, gpuInfo()).useCuda)
                log::get("engine")->info(
                    "{}: the {} graph runs on the CPU (no CUDA graph for it yet)", file->label(), hp.arch);
            device = DeviceChoice::Cpu;
        }
        backend = makeBackend(device, options.threads);
    }
    if (backend->memoryKind() == BackendMemory::Device && !arch.runsOnDevice)
        fail(Remedy::CpuDevice, "{}: the {} graph does not run on {} yet", file->label(), hp.arch, backend->name());
    std::unique_ptr<Model> model = arch.makeModel(file, hp, backend);
    const Model &m = *model;
    model->weights().requireAllUsed([&m](std::string_view name) { return m.ignoresTensor(name); });
    const HParams &used = model->hparams();
    log::get("engine")->info("{}: {} model, {} layers, width {}, {} heads ({} KV), vocab {}, {:.1f} MiB of weights",
        file->label(), used.arch, used.nLayers, used.nEmbd, used.nHeads, used.nKvHeads, used.nVocab,
        static_cast<double>(model->weightsBytes()) / (1024.0 * 1024.0));
    return model;
}

} // namespace nw
