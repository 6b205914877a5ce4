// Weight dequantization to bf16 and the cuBLAS matmul (kernels/cuda/dequant, matmul) against the
// CPU's dequantizeRow and a float64 product of the same bf16-rounded operands.
#include "kernels/backend.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/matmul.cuh"
#include "kernels/float16.h"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {

// Random weights of `type` as file bytes: [rows, rowBytes(type, cols)].
std::vector<std::byte> randomWeights(nw::TensorType type, int rows, int cols, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    std::vector<std::byte> bytes(std::size_t(rows) * nw::rowBytes(type, std::size_t(cols)));
    const std::size_t n = std::size_t(rows) * cols;
    if (type == nw::TensorType::F32) {
        for (std::size_t i = 0; i < n; ++i) {
            const float f = value(rng);
            std::memcpy(bytes.data() + 4 * i, &f, 4);
        }
    } else if (type == nw::TensorType::F16) {
        for (std::size_t i = 0; i < n; ++i) {
            const nw::f16_t h = nw::floatToFp16(value(rng));
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
    } else if (type == nw::TensorType::Q8_0) {
        auto *blocks = reinterpret_cast<nw::BlockQ8_0 *>(bytes.data());
        for (std::size_t b = 0; b < n / 32; ++b) {
            blocks[b].d = nw::floatToFp16(0.004f + 0.004f * std::abs(value(rng)));
            for (auto &q : blocks[b].qs)
                q = static_cast<std::int8_t>(int(rng() % 255) - 127);
        }
    } else { // Q4_0
        auto *blocks = reinterpret_cast<nw::BlockQ4_0 *>(bytes.data());
        for (std::size_t b = 0; b < n / 32; ++b) {
            blocks[b].d = nw::floatToFp16(0.05f + 0.1f * std::abs(value(rng)));
            for (auto &q : blocks[b].qs)
                q = static_cast<std::uint8_t>(rng() & 0xff);
        }
    }
    return bytes;
}

} // namespace

TEST_CASE("cuda dequantize to bf16 and matmul agree with the CPU dequantizer and a float64 product")
{
    const int rows = 40, cols = 96, nTokens = 3;
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    std::vector<float> x(std::size_t(nTokens) * cols);
    for (float &v : x)
        v = value(rng);
    for (const nw::TensorType type : {nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::Q8_0, nw::TensorType::Q4_0}) {
        CAPTURE(nw::tensorTypeName(type));
        const auto bytes = randomWeights(type, rows, cols, 10);
        const std::size_t stride = nw::rowBytes(type, cols);
        // Reference: the CPU dequantizer, rounded to bf16 to nearest even.
        std::vector<float> wRef(std::size_t(rows) * cols);
        for (int r = 0; r < rows; ++r)
            nw::dequantizeRow(type, bytes.data() + std::size_t(r) * stride, wRef.data() + std::size_t(r) * cols, cols);
        std::vector<nw::bf16_t> wBf16(wRef.size());
        for (std::size_t i = 0; i < wRef.size(); ++i)
            wBf16[i] = nw::floatToBf16(wRef[i]);

        const nw::cuda::DeviceWeightsBf16 w =
            nw::cuda::uploadWeightsBf16(nw::denseWeights(type, rows, cols, bytes.data()), nullptr);
        CHECK(w.data.download<nw::bf16_t>(wBf16.size()) == wBf16); // exact: same f32, same rounding

        cublasHandle_t cublas = nullptr;
        NW_CUBLAS_CHECK(cublasCreate(&cublas));
        nw::cuda::DeviceBuffer xDev = nw::cuda::DeviceBuffer::from(x), yDev(std::size_t(nTokens) * rows * 4), scratch;
        nw::cuda::matmul(cublas, w, xDev.as<float>(), yDev.as<float>(), nTokens, scratch, nullptr);
        const auto y = yDev.download<float>(std::size_t(nTokens) * rows);
        NW_CUBLAS_CHECK(cublasDestroy(cublas));
        for (int t = 0; t < nTokens; ++t)
            for (int r = 0; r < rows; ++r) {
                double ref = 0.0, magnitude = 0.0;
                for (int c = 0; c < cols; ++c) {
                    const double wv = nw::bf16ToFloat(wBf16[std::size_t(r) * cols + c]);
                    const double xv = nw::bf16ToFloat(nw::floatToBf16(x[std::size_t(t) * cols + c]));
                    ref += wv * xv;
                    magnitude += std::abs(wv * xv);
                }
                // Exact bf16 products, f32 accumulation: error ~ cols * 2^-24 * magnitude.
                CHECK(std::abs(y[std::size_t(t) * rows + r] - ref) <= 1e-5 * magnitude + 1e-6);
            }
    }
    // Types without a dequantizer yet are refused with a message.
    std::vector<std::byte> q4k(nw::rowBytes(nw::TensorType::Q4_K, 256));
    CHECK_THROWS_AS(nw::cuda::uploadWeightsBf16(nw::denseWeights(nw::TensorType::Q4_K, 1, 256, q4k.data()), nullptr),
                    nw::Error);
}
