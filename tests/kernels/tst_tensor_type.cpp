// Tensor type table: block geometry as ggml-common.h defines it (sizes written from the
// published layouts: e.g. Q4_K = 2 f16 + 12 scale bytes + 128 quant bytes = 144 per 256).
#include "kernels/tensor_type.h"

#include <doctest/doctest.h>

TEST_CASE("block geometry of every supported type")
{
    struct Row {
        std::uint32_t id;
        const char *name;
        std::size_t elements;
        std::size_t bytes;
    };
    const Row rows[] = {
        {0, "F32", 1, 4},       {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},   {3, "Q4_1", 32, 20},
        {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},   {12, "Q4_K", 256, 144},
        {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},  {30, "BF16", 1, 2},
    };
    for (const Row &row : rows) {
        CAPTURE(row.name);
        const auto traits = nw::findTensorType(row.id);
        REQUIRE(traits.has_value());
        CHECK(traits->name == row.name);
        CHECK(traits->blockElements == row.elements);
        CHECK(traits->blockBytes == row.bytes);
        CHECK(traits->supported);
    }
}

TEST_CASE("unknown type ids are not found")
{
    CHECK_FALSE(nw::findTensorType(4).has_value()); // removed Q4_2
    CHECK_FALSE(nw::findTensorType(5).has_value()); // removed Q4_3
    CHECK_FALSE(nw::findTensorType(9999).has_value());
}

TEST_CASE("row bytes")
{
    CHECK(nw::rowBytes(nw::TensorType::F32, 64) == 256);
    CHECK(nw::rowBytes(nw::TensorType::Q8_0, 2048) == 64 * 34);
    CHECK(nw::rowBytes(nw::TensorType::Q6_K, 4096) == 16 * 210);
}
