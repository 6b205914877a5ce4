// Embedding lookup: rows of a quantized table come back as their dequantized values.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/quantize.h"

#include <doctest/doctest.h>

#include <random>
#include <vector>

TEST_CASE("embed returns the dequantized rows of the ids, in order")
{
    std::mt19937 rng(3);
    std::normal_distribution<float> value(0.f, 1.f);
    for (nw::TensorType type : {nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::Q4_K,
                                nw::TensorType::Q8_0, nw::TensorType::Q6_K}) {
        CAPTURE(nw::tensorTypeName(type));
        const int rows = 50, cols = 512;
        const std::size_t rowBytes = nw::rowBytes(type, cols);
        std::vector<std::byte> table(rowBytes * rows);
        std::vector<float> src(cols), expected(std::size_t(rows) * cols);
        for (int r = 0; r < rows; ++r) {
            for (float &v : src)
                v = value(rng);
            nw::quantizeRow(type, src.data(), table.data() + std::size_t(r) * rowBytes, cols);
            nw::dequantizeRow(type, table.data() + std::size_t(r) * rowBytes, expected.data() + std::size_t(r) * cols, cols);
        }
        const nw::WeightMatrix view = nw::denseWeights(type, rows, cols, table.data());
        std::vector<std::int32_t> ids(20);
        for (std::size_t i = 0; i < ids.size(); ++i)
            ids[i] = static_cast<std::int32_t>((i * 17 + 3) % rows);
        for (int threads : {1, 2}) {
            std::vector<float> out(ids.size() * cols, NAN);
            nw::makeCpuBackend(threads)->embed(view, ids.data(), static_cast<int>(ids.size()), out.data());
            int bad = 0;
            for (std::size_t i = 0; i < ids.size(); ++i)
                for (int c = 0; c < cols; ++c)
                    bad += out[i * cols + std::size_t(c)] != expected[std::size_t(ids[i]) * cols + std::size_t(c)];
            CHECK(bad == 0);
        }
        const std::int32_t badId = rows;
        std::vector<float> out(cols);
        CHECK_THROWS_AS(nw::makeCpuBackend(1)->embed(view, &badId, 1, out.data()), nw::Error);
    }
}
