// Tensor lookup with shape and type checks, and the "every tensor is used" check.
#include "engine/graph/weight_loader.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "kernels/tensor_type.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

namespace nw {

WeightLoader::WeightLoader(const GgufFile &file, std::string arch)
    : m_file(file)
    , m_arch(std::move(arch))
{
}

std::string WeightLoader::layerName(std::int64_t layer, std::string_view what, std::string_view suffix)
{
    return fmt::format("blk.{}.{}.{}", layer, what, suffix);
}

const TensorView *WeightLoader::find(
    std::string_view name, std::initializer_list<std::int64_t> shape, std::initializer_list<TensorType> types)
{
    const TensorView *tensor = m_file.findTensor(name);
    if (!tensor)
        return nullptr;
    if (!std::equal(tensor->shape.begin(), tensor->shape.end(), shape.begin(), shape.end()))
        fail("{}: tensor '{}' has shape [{}], expected [{}]", m_file.label(), name, fmt::join(tensor->shape, ", "),
            fmt::join(shape, ", "));
    if (types.size() > 0 && std::find(types.begin(), types.end(), tensor->type) == types.end()) {
        std::vector<std::string_view> names;
        for (TensorType type : types)
            names.push_back(tensorTypeName(type));
        fail("{}: tensor '{}' has type {}, expected one of {}", m_file.label(), name, tensorTypeName(tensor->type),
            fmt::join(names, ", "));
    }
    // A type the caller named is one it reads itself (an I32 table); others must be computable.
    if (types.size() == 0 && !tensorTypeTraits(tensor->type).supported)
        fail("{}: tensor '{}' has type {}, which this engine cannot compute with (it computes with {})", m_file.label(),
            name, tensorTypeName(tensor->type), supportedTensorTypeList());
    if (m_used.emplace(name).second)
        m_bytes += tensor->bytes;
    return tensor;
}

const TensorView &WeightLoader::require(
    std::string_view name, std::initializer_list<std::int64_t> shape, std::initializer_list<TensorType> types)
{
    const TensorView *tensor = find(name, shape, types);
    if (!tensor)
        fail("{}: tensor '{}' not found (architecture '{}')", m_file.label(), name, m_arch);
    return *tensor;
}

namespace {
WeightMatrix asMatrix(const TensorView &t)
{
    NW_ASSERT(t.shape.size() == 2);
    return denseWeights(t.type, t.shape[1], t.shape[0], t.data);
}
} // namespace

WeightMatrix WeightLoader::matrix(std::string_view name, std::int64_t cols, std::int64_t rows)
{
    return asMatrix(require(name, { cols, rows }));
}

WeightMatrix WeightLoader::findMatrix(std::string_view name, std::int64_t cols, std::int64_t rows)
{
    const TensorView *t = find(name, { cols, rows });
    return t ? asMatrix(*t) : WeightMatrix {};
}

const float *WeightLoader::vector(std::string_view name, std::int64_t length)
{
    return reinterpret_cast<const float *>(require(name, { length }, { TensorType::F32 }).data);
}

const float *WeightLoader::findVector(std::string_view name, std::int64_t length)
{
    const TensorView *t = find(name, { length }, { TensorType::F32 });
    return t ? reinterpret_cast<const float *>(t->data) : nullptr;
}

WeightMatrix WeightLoader::experts(
    std::string_view name, std::int64_t cols, std::int64_t rows, std::int64_t nExperts, std::size_t &expertStride)
{
    const TensorView &t = require(name, { cols, rows, nExperts });
    const WeightMatrix first = denseWeights(t.type, rows, cols, t.data);
    expertStride = first.rowStride * std::size_t(rows);
    return first;
}

void WeightLoader::requireAllUsed(const std::function<bool(std::string_view)> &ignored) const
{
    const auto &all = m_file.tensors();
    std::size_t ignoredCount = 0;
    const TensorView *firstUnused = nullptr;
    for (const TensorView &t : all) {
        if (m_used.contains(t.name))
            continue;
        if (ignored && ignored(t.name)) {
            ++ignoredCount;
            continue;
        }
        if (!firstUnused)
            firstUnused = &t;
    }
    if (firstUnused)
        fail("{}: wrong number of tensors; expected {}, got {} (the {} graph does not use '{}')", m_file.label(),
            all.size() - ignoredCount, m_used.size(), m_arch, firstUnused->name);
}

} // namespace nw
