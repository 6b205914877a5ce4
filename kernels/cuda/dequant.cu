// Dequantization kernels: one thread per output element (a read-once upload step, not a hot
// path), the element decoded from its block as ggml lays it out.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/dequant.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cuda_fp16.h>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__device__ inline float decode(TensorType type, const unsigned char *row, std::int64_t c)
{
    switch (type) {
    case TensorType::F32:
        return reinterpret_cast<const float *>(row)[c];
    case TensorType::F16:
        return __half2float(reinterpret_cast<const __half *>(row)[c]);
    case TensorType::BF16:
        return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(row)[c]);
    case TensorType::Q8_0: { // f16 d, 32 x int8: x = d * q
        const unsigned char *block = row + (c / 32) * 34;
        return __half2float(*reinterpret_cast<const __half *>(block))
               * float(reinterpret_cast<const signed char *>(block + 2)[c % 32]);
    }
    default: { // Q4_0: f16 d, 16 bytes; element j < 16 in low nibbles, j >= 16 in high: d * (q - 8)
        const unsigned char *block = row + (c / 32) * 18;
        const int j = int(c % 32);
        const unsigned char byte = block[2 + (j % 16)];
        const int q = j < 16 ? (byte & 0x0f) : (byte >> 4);
        return __half2float(*reinterpret_cast<const __half *>(block)) * float(q - 8);
    }
    }
}

__global__ void dequantKernel(TensorType type, const unsigned char *src, std::size_t stride,
                              std::int64_t rows, std::int64_t cols, __nv_bfloat16 *dst)
{
    const std::int64_t n = rows * cols;
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
         i += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t r = i / cols, c = i % cols;
        dst[i] = __float2bfloat16_rn(decode(type, src + std::size_t(r) * stride, c));
    }
}

} // namespace

bool canDequantizeToBf16(TensorType type)
{
    return type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16
           || type == TensorType::Q8_0 || type == TensorType::Q4_0;
}

void dequantizeToBf16(TensorType type, const void *src, std::size_t srcRowStride, std::int64_t rows,
                      std::int64_t cols, std::uint16_t *dst, cudaStream_t stream)
{
    if (!canDequantizeToBf16(type))
        nw::fail("cuda::dequantizeToBf16: weights of type {} are not supported yet "
                 "(F32, F16, BF16, Q8_0, Q4_0)", tensorTypeName(type));
    if (rows <= 0 || cols <= 0)
        nw::fail("cuda::dequantizeToBf16: bad shape [{}, {}]", rows, cols);
    if ((type == TensorType::Q8_0 || type == TensorType::Q4_0) && cols % 32 != 0)
        nw::fail("cuda::dequantizeToBf16: {} rows of {} columns are not whole blocks of 32",
                 tensorTypeName(type), cols);
    if (srcRowStride < rowBytes(type, std::size_t(cols)))
        nw::fail("cuda::dequantizeToBf16: row stride {} is shorter than a row ({} bytes)",
                 srcRowStride, rowBytes(type, std::size_t(cols)));
    if (src == nullptr || dst == nullptr)
        nw::fail("cuda::dequantizeToBf16: null pointer");
    const std::int64_t n = rows * cols;
    const unsigned blocks = unsigned(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65535 * 4));
    dequantKernel<<<blocks, kThreads, 0, stream>>>(type, static_cast<const unsigned char *>(src),
                                                   srcRowStride, rows, cols,
                                                   reinterpret_cast<__nv_bfloat16 *>(dst));
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
