// Tensor type table: block geometry as ggml-common.h defines it (sizes written from the
// published layouts: e.g. Q4_K = 2 f16 + 12 scale bytes + 128 quant bytes = 144 per 256).
#include "kernels/tensor_type.h"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("block geometry of every supported type")
{
    struct Row {
        std::uint32_t id;
        const char *name;
        std::size_t elements;
        std::size_t bytes;
    };
    const Row rows[] = {
        { 0, "F32", 1, 4 },
        { 1, "F16", 1, 2 },
        { 2, "Q4_0", 32, 18 },
        { 3, "Q4_1", 32, 20 },
        { 6, "Q5_0", 32, 22 },
        { 7, "Q5_1", 32, 24 },
        { 8, "Q8_0", 32, 34 },
        { 12, "Q4_K", 256, 144 },
        { 13, "Q5_K", 256, 176 },
        { 14, "Q6_K", 256, 210 },
        { 30, "BF16", 1, 2 },
        { 10, "Q2_K", 256, 84 },
        { 11, "Q3_K", 256, 110 },
        { 20, "IQ4_NL", 32, 18 },
        { 23, "IQ4_XS", 256, 136 },
        { 39, "MXFP4", 32, 17 },
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

TEST_CASE("every ggml type id has a name and geometry, supported or not")
{
    // ggml.h's ids with ggml-common.h's block sizes, for types the engine does not compute with.
    struct Row {
        std::uint32_t id;
        const char *name;
        std::size_t elements;
        std::size_t bytes;
    };
    const Row rows[] = {
        { 9, "Q8_1", 32, 36 },
        { 15, "Q8_K", 256, 292 },
        { 19, "IQ1_S", 256, 50 },
        { 24, "I8", 1, 1 },
        { 25, "I16", 1, 2 },
        { 26, "I32", 1, 4 },
        { 27, "I64", 1, 8 },
        { 28, "F64", 1, 8 },
        { 29, "IQ1_M", 256, 56 },
        { 34, "TQ1_0", 256, 54 },
        { 35, "TQ2_0", 256, 66 },
        { 40, "NVFP4", 64, 36 },
        { 41, "Q1_0", 128, 18 },
        { 42, "Q2_0", 64, 18 },
    };
    for (const Row &row : rows) {
        CAPTURE(row.name);
        const auto traits = nw::findTensorType(row.id);
        REQUIRE(traits.has_value());
        CHECK(traits->name == row.name);
        CHECK(traits->blockElements == row.elements);
        CHECK(traits->blockBytes == row.bytes);
        CHECK_FALSE(traits->supported);
    }
    const std::string list = nw::supportedTensorTypeList();
    CHECK(list.find("Q3_K") != std::string::npos);
    CHECK(list.find("MXFP4") != std::string::npos);
    CHECK(list.find("IQ1_S") == std::string::npos);
}

TEST_CASE("unknown type ids are not found")
{
    CHECK_FALSE(nw::findTensorType(4).has_value()); // removed Q4_2
    CHECK_FALSE(nw::findTensorType(5).has_value()); // removed Q4_3
    CHECK_FALSE(nw::findTensorType(31).has_value()); // Q4_0_4_4, no longer in GGUF files
    CHECK_FALSE(nw::findTensorType(43).has_value()); // past GGML_TYPE_COUNT of our snapshot
    CHECK_FALSE(nw::findTensorType(9999).has_value());
}

TEST_CASE("row bytes")
{
    CHECK(nw::rowBytes(nw::TensorType::F32, 64) == 256);
    CHECK(nw::rowBytes(nw::TensorType::Q8_0, 2048) == 64 * 34);
    CHECK(nw::rowBytes(nw::TensorType::Q6_K, 4096) == 16 * 210);
}
