// Model base (checked weight views, KV cache creation) and the architecture dispatch.
#include "engine/model.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/gguf_file.h"
#include "engine/models/deepseek2.h"
#include "engine/models/llama.h"
#include "kernels/device_info.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace nw {

Model::Model(std::shared_ptr<const GgufFile> file, HParams hparams, std::shared_ptr<Backend> backend)
    : m_file(std::move(file)), m_hparams(std::move(hparams)), m_backend(std::move(backend))
{
    NW_ASSERT(m_file && m_backend);
}

KvLayout Model::kvLayout(const KvModeSpec &spec) const
{
    const std::vector<KvMode> modes = kvModes();
    if (std::find(modes.begin(), modes.end(), spec.mode) == modes.end()) {
        std::vector<std::string_view> names;
        for (KvMode mode : modes)
            names.push_back(kvModeName(mode));
        fail("{}: KV mode '{}' is not available for architecture '{}' (available: {})", m_file->label(),
             spec.toString(), m_hparams.arch, fmt::join(names, ", "));
    }
    return KvLayout::forModel(m_hparams, spec);
}

void Model::calibrateLatent(std::span<const std::int32_t>)
{
    fail("{}: KV mode latent:R (and so its calibration) is not available for architecture '{}'", m_file->label(),
         m_hparams.arch);
}

std::unique_ptr<KvCache> Model::makeKvCache(const KvModeSpec &spec, std::int64_t capacity) const
{
    const KvLayout layout = kvLayout(spec);
    if (m_backend->memoryKind() == BackendMemory::Host)
        return std::make_unique<KvCache>(layout, m_hparams.nLayers, capacity, mhaF16BytesPerTokenLayer(m_hparams),
                                         m_weightsBytes);
    // The GPU attention reads full K/V rows in f16/f32 (kernels/cuda/attention.cu); latent:R
    // rebuilds keys on the host and the quantized rows have no GPU kernels yet.
    if (spec.mode != KvMode::Full || spec.quant != KvQuant::None)
        fail("KV mode '{}' does not run on {} yet: use --kv full, or --device cpu", spec.toString(),
             m_backend->name());
    return std::make_unique<KvCache>(layout, m_hparams.nLayers, capacity, mhaF16BytesPerTokenLayer(m_hparams),
                                     m_weightsBytes, *m_backend);
}

const TensorView *Model::findWeight(std::string_view name, std::initializer_list<std::int64_t> shape,
                                    std::initializer_list<TensorType> types)
{
    const TensorView *tensor = m_file->findTensor(name);
    if (!tensor)
        return nullptr;
    if (!std::equal(tensor->shape.begin(), tensor->shape.end(), shape.begin(), shape.end()))
        fail("{}: tensor '{}' has shape [{}], expected [{}]", m_file->label(), name, fmt::join(tensor->shape, ", "),
             fmt::join(shape, ", "));
    if (types.size() > 0 && std::find(types.begin(), types.end(), tensor->type) == types.end()) {
        std::vector<std::string_view> names;
        for (TensorType type : types)
            names.push_back(tensorTypeName(type));
        fail("{}: tensor '{}' has type {}, expected one of {}", m_file->label(), name, tensorTypeName(tensor->type),
             fmt::join(names, ", "));
    }
    if (!tensorTypeTraits(tensor->type).supported)
        fail("{}: tensor '{}' has type {}, which this engine cannot compute with (it computes with {})",
             m_file->label(), name, tensorTypeName(tensor->type), supportedTensorTypeList());
    if (std::find(m_counted.begin(), m_counted.end(), name) == m_counted.end()) {
        m_counted.emplace_back(name);
        m_weightsBytes += tensor->bytes;
    }
    return tensor;
}

const TensorView &Model::requireWeight(std::string_view name, std::initializer_list<std::int64_t> shape,
                                       std::initializer_list<TensorType> types)
{
    const TensorView *tensor = findWeight(name, shape, types);
    if (!tensor)
        fail("{}: tensor '{}' not found (architecture '{}')", m_file->label(), name, m_hparams.arch);
    return *tensor;
}

WeightMatrix Model::matrix(const TensorView &tensor)
{
    NW_ASSERT(tensor.shape.size() == 2);
    return denseWeights(tensor.type, tensor.shape[1], tensor.shape[0], tensor.data);
}

const float *Model::requireNormWeight(std::string_view name, std::int64_t length)
{
    const TensorView &tensor = requireWeight(name, {length}, {TensorType::F32});
    return reinterpret_cast<const float *>(tensor.data);
}

std::unique_ptr<Model> loadModel(std::shared_ptr<const GgufFile> file, const ModelOptions &options)
{
    NW_ASSERT(file);
    HParams hp = HParams::fromGguf(*file); // rejects unknown architectures with the list
    std::shared_ptr<Backend> backend = options.backend;
    if (!backend) {
        // Only the llama graph runs on device memory so far (engine/models/llama.cpp).
        DeviceChoice device = options.device;
        if (hp.arch != "llama" && device != DeviceChoice::Cpu) {
            if (device == DeviceChoice::Cuda)
                fail("{}: the {} graph does not run on CUDA yet; use --device cpu", file->label(), hp.arch);
            if (decideBackend(device, gpuInfo()).useCuda)
                log::get("engine")->info("{}: the {} graph runs on the CPU (no CUDA graph for it yet)", file->label(),
                                         hp.arch);
            device = DeviceChoice::Cpu;
        }
        backend = makeBackend(device, options.threads);
    }
    if (backend->memoryKind() == BackendMemory::Device && hp.arch != "llama")
        fail("{}: the {} graph does not run on {} yet; use --device cpu", file->label(), hp.arch, backend->name());
    std::unique_ptr<Model> model;
    // One line per architecture graph (engine/models/<arch>.cpp).
    if (hp.arch == "llama")
        model = makeLlamaModel(file, hp, backend);
    else if (hp.arch == "deepseek2")
        model = makeDeepseek2Model(file, hp, backend);
    if (!model)
        fail("{}: architecture '{}' has no graph in this build (supported: {})", file->label(), hp.arch,
             fmt::join(supportedArchitectures(), ", "));
    log::get("engine")->info("{}: {} model, {} layers, width {}, {} heads ({} KV), vocab {}, {:.1f} MiB of weights",
                             file->label(), hp.arch, hp.nLayers, hp.nEmbd, hp.nHeads, hp.nKvHeads, hp.nVocab,
                             static_cast<double>(model->weightsBytes()) / (1024.0 * 1024.0));
    return model;
}

} // namespace nw
