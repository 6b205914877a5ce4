// The table of tensor types: block geometry from the structs in tensor_type.h.
#include "kernels/tensor_type.h"

#include "common/assert.h"

#include <array>

namespace nw {
namespace {

constexpr std::array kTypes = {
    TensorTypeTraits{TensorType::F32, "F32", 1, 4, true},
    TensorTypeTraits{TensorType::F16, "F16", 1, 2, true},
    TensorTypeTraits{TensorType::Q4_0, "Q4_0", kQk, sizeof(BlockQ4_0), true},
    TensorTypeTraits{TensorType::Q4_1, "Q4_1", kQk, sizeof(BlockQ4_1), true},
    TensorTypeTraits{TensorType::Q5_0, "Q5_0", kQk, sizeof(BlockQ5_0), true},
    TensorTypeTraits{TensorType::Q5_1, "Q5_1", kQk, sizeof(BlockQ5_1), true},
    TensorTypeTraits{TensorType::Q8_0, "Q8_0", kQk, sizeof(BlockQ8_0), true},
    TensorTypeTraits{TensorType::Q8_1, "Q8_1", kQk, sizeof(BlockQ8_1), false},
    TensorTypeTraits{TensorType::Q2_K, "Q2_K", kQkK, sizeof(BlockQ2_K), false},
    TensorTypeTraits{TensorType::Q3_K, "Q3_K", kQkK, sizeof(BlockQ3_K), false},
    TensorTypeTraits{TensorType::Q4_K, "Q4_K", kQkK, sizeof(BlockQ4_K), true},
    TensorTypeTraits{TensorType::Q5_K, "Q5_K", kQkK, sizeof(BlockQ5_K), true},
    TensorTypeTraits{TensorType::Q6_K, "Q6_K", kQkK, sizeof(BlockQ6_K), true},
    TensorTypeTraits{TensorType::Q8_K, "Q8_K", kQkK, sizeof(BlockQ8_K), false},
    TensorTypeTraits{TensorType::BF16, "BF16", 1, 2, true},
    TensorTypeTraits{TensorType::I32, "I32", 1, 4, false}, // read as a table, never multiplied
};

} // namespace

std::optional<TensorTypeTraits> findTensorType(std::uint32_t id)
{
    for (const auto &traits : kTypes)
        if (static_cast<std::uint32_t>(traits.type) == id)
            return traits;
    return std::nullopt;
}

const TensorTypeTraits &tensorTypeTraits(TensorType type)
{
    for (const auto &traits : kTypes)
        if (traits.type == type)
            return traits;
    NW_ASSERT(!"unknown TensorType value");
    return kTypes[0];
}

std::string_view tensorTypeName(TensorType type)
{
    return tensorTypeTraits(type).name;
}

std::size_t rowBytes(TensorType type, std::size_t elements)
{
    const auto &traits = tensorTypeTraits(type);
    NW_ASSERT(elements % traits.blockElements == 0);
    return elements / traits.blockElements * traits.blockBytes;
}

} // namespace nw
