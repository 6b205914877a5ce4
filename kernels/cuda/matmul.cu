// Weight upload (raw bytes, then dequantized on the device) and the cuBLAS product.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/matmul.cuh"

#include <cuda_bf16.h>

#include <algorithm>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void toBf16Kernel(const float *x, __nv_bfloat16 *y, std::size_t n)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}

} // namespace

DeviceWeightsBf16 uploadWeightsBf16(const WeightMatrix &w, cudaStream_t stream)
{
    if (w.data == nullptr || w.rows <= 0 || w.cols <= 0)
        nw::fail("cuda::uploadWeightsBf16: empty weight matrix [{}, {}]", w.rows, w.cols);
    const std::size_t stride = w.rowStride != 0 ? w.rowStride : rowBytes(w.type, std::size_t(w.cols));
    DeviceBuffer raw(stride * std::size_t(w.rows));
    raw.upload(w.data, raw.bytes());
    DeviceWeightsBf16 out{DeviceBuffer(std::size_t(w.rows) * std::size_t(w.cols) * 2), w.rows, w.cols};
    dequantizeToBf16(w.type, raw.data(), stride, w.rows, w.cols, out.data.as<std::uint16_t>(), stream);
    NW_CUDA_CHECK(cudaStreamSynchronize(stream)); // `raw` is freed on return
    return out;
}

void matmul(cublasHandle_t cublas, const DeviceWeightsBf16 &w, const float *x, float *y, int nTokens,
            DeviceBuffer &scratch, cudaStream_t stream)
{
    matmulBf16(cublas, w.data.as<std::uint16_t>(), w.rows, w.cols, x, y, nTokens, scratch, stream);
}

void matmulBf16(cublasHandle_t cublas, const std::uint16_t *w, std::int64_t wRows, std::int64_t wCols,
                const float *x, float *y, int nTokens, DeviceBuffer &scratch, cudaStream_t stream)
{
    if (nTokens <= 0)
        return;
    if (cublas == nullptr || x == nullptr || y == nullptr || w == nullptr)
        nw::fail("cuda::matmul: null handle or pointer");
    if (wRows > INT32_MAX || wCols > INT32_MAX)
        nw::fail("cuda::matmul: weights [{}, {}] exceed cuBLAS's int dimensions", wRows, wCols);
    const std::size_t n = std::size_t(nTokens) * std::size_t(wCols);
    if (scratch.bytes() < n * 2)
        scratch = DeviceBuffer(n * 2);
    const unsigned blocks = unsigned(std::min<std::size_t>((n + kThreads - 1) / kThreads, 65535));
    toBf16Kernel<<<blocks, kThreads, 0, stream>>>(x, scratch.as<__nv_bfloat16>(), n);
    NW_CUDA_CHECK_LAUNCH();
    // Row-major W [rows, cols] is column-major [cols, rows]: Y^T[rows, T] = W · X^T.
    const float one = 1.f, zero = 0.f;
    const int rows = int(wRows), cols = int(wCols);
    NW_CUBLAS_CHECK(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, rows, nTokens, cols, &one,
                                 w, CUDA_R_16BF, cols, scratch.data(), CUDA_R_16BF, cols,
                                 &zero, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

} // namespace nw::cuda
