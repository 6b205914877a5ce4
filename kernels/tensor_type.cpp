// The table of tensor types: block geometry from the structs in tensor_type.h.
#include "kernels/tensor_type.h"

#include "common/assert.h"

#include <array>

namespace nw {
namespace {

// Ordered by id. Types without a block struct here (IQ1_*, TQ*, NVFP4, Q1_0, Q2_0, the integer
// and f64 types) carry ggml's geometry (ggml-common.h) so that a file holding them is read and
// its tensors can be named; the engine does not compute with them.
constexpr std::array kTypes = {
    TensorTypeTraits { TensorType::F32, "F32", 1, 4, true },
    TensorTypeTraits { TensorType::F16, "F16", 1, 2, true },
    TensorTypeTraits { TensorType::Q4_0, "Q4_0", kQk, sizeof(BlockQ4_0), true },
    TensorTypeTraits { TensorType::Q4_1, "Q4_1", kQk, sizeof(BlockQ4_1), true },
    TensorTypeTraits { TensorType::Q5_0, "Q5_0", kQk, sizeof(BlockQ5_0), true },
    TensorTypeTraits { TensorType::Q5_1, "Q5_1", kQk, sizeof(BlockQ5_1), true },
    TensorTypeTraits { TensorType::Q8_0, "Q8_0", kQk, sizeof(BlockQ8_0), true },
    TensorTypeTraits { TensorType::Q8_1, "Q8_1", kQk, sizeof(BlockQ8_1), false },
    TensorTypeTraits { TensorType::Q2_K, "Q2_K", kQkK, sizeof(BlockQ2_K), true },
    TensorTypeTraits { TensorType::Q3_K, "Q3_K", kQkK, sizeof(BlockQ3_K), true },
    TensorTypeTraits { TensorType::Q4_K, "Q4_K", kQkK, sizeof(BlockQ4_K), true },
    TensorTypeTraits { TensorType::Q5_K, "Q5_K", kQkK, sizeof(BlockQ5_K), true },
    TensorTypeTraits { TensorType::Q6_K, "Q6_K", kQkK, sizeof(BlockQ6_K), true },
    TensorTypeTraits { TensorType::Q8_K, "Q8_K", kQkK, sizeof(BlockQ8_K), false },
    TensorTypeTraits { TensorType::IQ2_XXS, "IQ2_XXS", kQkK, sizeof(BlockIQ2_XXS), true },
    TensorTypeTraits { TensorType::IQ2_XS, "IQ2_XS", kQkK, sizeof(BlockIQ2_XS), true },
    TensorTypeTraits { TensorType::IQ3_XXS, "IQ3_XXS", kQkK, sizeof(BlockIQ3_XXS), true },
    TensorTypeTraits { TensorType::IQ1_S, "IQ1_S", kQkK, 50, false },
    TensorTypeTraits { TensorType::IQ4_NL, "IQ4_NL", kQk, sizeof(BlockIQ4_NL), true },
    TensorTypeTraits { TensorType::IQ3_S, "IQ3_S", kQkK, sizeof(BlockIQ3_S), true },
    TensorTypeTraits { TensorType::IQ2_S, "IQ2_S", kQkK, sizeof(BlockIQ2_S), true },
    TensorTypeTraits { TensorType::IQ4_XS, "IQ4_XS", kQkK, sizeof(BlockIQ4_XS), true },
    TensorTypeTraits { TensorType::I8, "I8", 1, 1, false },
    TensorTypeTraits { TensorType::I16, "I16", 1, 2, false },
    TensorTypeTraits { TensorType::I32, "I32", 1, 4, false }, // read as a table, never multiplied
    TensorTypeTraits { TensorType::I64, "I64", 1, 8, false },
    TensorTypeTraits { TensorType::F64, "F64", 1, 8, false },
    TensorTypeTraits { TensorType::IQ1_M, "IQ1_M", kQkK, 56, false },
    TensorTypeTraits { TensorType::BF16, "BF16", 1, 2, true },
    TensorTypeTraits { TensorType::TQ1_0, "TQ1_0", kQkK, 54, false },
    TensorTypeTraits { TensorType::TQ2_0, "TQ2_0", kQkK, 66, false },
    TensorTypeTraits { TensorType::MXFP4, "MXFP4", kQk, sizeof(BlockMXFP4), true },
    TensorTypeTraits { TensorType::NVFP4, "NVFP4", 64, 36, false },
    TensorTypeTraits { TensorType::Q1_0, "Q1_0", 128, 18, false },
    TensorTypeTraits { TensorType::Q2_0, "Q2_0", 64, 18, false },
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

std::string supportedTensorTypeList()
{
    std::string list;
    for (const auto &traits : kTypes)
        if (traits.supported) {
            if (!list.empty())
                list += ", ";
            list += traits.name;
        }
    return list;
}

std::size_t rowBytes(TensorType type, std::size_t elements)
{
    const auto &traits = tensorTypeTraits(type);
    NW_ASSERT(elements % traits.blockElements == 0);
    return elements / traits.blockElements * traits.blockBytes;
}

} // namespace nw
