// Embedding kernel: one block per looked-up row, threads over the row's elements.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/embed.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__device__ inline float element(TensorType type, const std::byte *row, int c)
{
    switch (type) {
    case TensorType::F32:
        return reinterpret_cast<const float *>(row)[c];
    case TensorType::F16:
        return __half2float(reinterpret_cast<const __half *>(row)[c]);
    case TensorType::BF16:
        return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(row)[c]);
    default: { // Q8_0: blocks of an f16 scale and 32 int8 values (34 bytes)
        const std::byte *block = row + std::size_t(c / 32) * 34;
        const float d = __half2float(*reinterpret_cast<const __half *>(block));
        return d * float(reinterpret_cast<const std::int8_t *>(block + 2)[c % 32]);
    }
    }
}

__global__ void embedKernel(TensorType type, const std::byte *data, std::size_t rowStride,
                            std::int64_t rows, int cols, const std::int32_t *ids, float *out)
{
    const std::int32_t id = ids[blockIdx.x];
    float *o = out + std::size_t(blockIdx.x) * cols;
    const bool valid = id >= 0 && id < rows;
    const std::byte *row = data + std::size_t(valid ? id : 0) * rowStride;
    for (int c = threadIdx.x; c < cols; c += kThreads)
        o[c] = valid ? element(type, row, c) : __int_as_float(0x7fc00000);
}

} // namespace

void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out, cudaStream_t stream)
{
    if (table.type != TensorType::F32 && table.type != TensorType::F16 && table.type != TensorType::BF16
        && table.type != TensorType::Q8_0)
        nw::fail("cuda::embed: tables of type {} are not supported (F32, F16, BF16, Q8_0)",
                 tensorTypeName(table.type));
    if (table.rows <= 0 || table.cols <= 0 || table.cols > (1 << 30))
        nw::fail("cuda::embed: bad table shape [{}, {}]", table.rows, table.cols);
    if (table.type == TensorType::Q8_0 && table.cols % 32 != 0)
        nw::fail("cuda::embed: Q8_0 rows of {} columns are not whole blocks of 32", table.cols);
    if (n < 0)
        nw::fail("cuda::embed: {} ids", n);
    if (n == 0)
        return;
    if (table.data == nullptr || ids == nullptr || out == nullptr)
        nw::fail("cuda::embed: null pointer");
    const std::size_t stride = table.rowStride != 0 ? table.rowStride : rowBytes(table.type, table.cols);
    embedKernel<<<n, kThreads, 0, stream>>>(table.type, table.data, stride, table.rows,
                                            int(table.cols), ids, out);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
