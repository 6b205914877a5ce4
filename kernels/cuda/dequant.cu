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

// An f16 read byte by byte: K-quant blocks (144, 176, 210 bytes) leave rows only 2-byte aligned.
__device__ inline float loadHalf(const unsigned char *p)
{
    return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}

// Q4_K/Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes (ggml's
// get_scale_min_k4): sub-blocks 0-3 in the low 6 bits of bytes j and j+4; 4-7 split between
// byte j+4's nibbles and the top 2 bits of bytes j-4 (scale) and j (min).
__device__ inline void scaleMinK4(const unsigned char *packed, int j, int &scale, int &min)
{
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
        min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

// Q4_K (144 bytes per 256: d, dmin, 12 scale bytes, 128 bytes of nibbles) and Q5_K (176: the
// same with 32 bytes of fifth bits before the nibbles). Element e: group g = e / 64 of 32 bytes,
// low nibbles for its first 32 values (sub-block 2g), high nibbles for the next 32 (2g + 1);
// Q5_K's fifth bit is bit 2g (low) or 2g + 1 (high) of qh[e % 32]. x = d*sc*q - dmin*m.
__device__ inline float decodeKQuant(bool five, const unsigned char *block, int e)
{
    const int g = e / 64, within = e % 64, l = within % 32, high = within / 32;
    int scale, min;
    scaleMinK4(block + 4, 2 * g + high, scale, min);
    const unsigned char *qs = block + (five ? 48 : 16) + 32 * g;
    int q = high ? (qs[l] >> 4) : (qs[l] & 0x0f);
    if (five)
        q |= ((block[16 + l] >> (2 * g + high)) & 1) << 4;
    return loadHalf(block) * float(scale) * float(q) - loadHalf(block + 2) * float(min);
}

// Q6_K (210 bytes per 256: 128 ql, 64 qh, 16 int8 scales, f16 d). Element e = 128n + 32r + l:
// low 4 bits in ql[64n + 32(r & 1) + l] (low nibble for r < 2, high for r >= 2), top 2 bits at
// bits 2r of qh[32n + l], scale scales[e / 16]. x = d * scale * (q - 32).
__device__ inline float decodeQ6K(const unsigned char *block, int e)
{
    const int n = e / 128, r = (e % 128) / 32, l = e % 32;
    const unsigned char low = block[64 * n + 32 * (r & 1) + l];
    const int q = ((r < 2 ? low & 0x0f : low >> 4) | (((block[128 + 32 * n + l] >> (2 * r)) & 3) << 4)) - 32;
    return loadHalf(block + 208) * float(reinterpret_cast<const signed char *>(block + 192)[e / 16]) * float(q);
}

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
    case TensorType::Q4_K:
        return decodeKQuant(false, row + (c / 256) * 144, int(c % 256));
    case TensorType::Q5_K:
        return decodeKQuant(true, row + (c / 256) * 176, int(c % 256));
    case TensorType::Q6_K:
        return decodeQ6K(row + (c / 256) * 210, int(c % 256));
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
           || type == TensorType::Q8_0 || type == TensorType::Q4_0 || type == TensorType::Q4_K
           || type == TensorType::Q5_K || type == TensorType::Q6_K;
}

void dequantizeToBf16(TensorType type, const void *src, std::size_t srcRowStride, std::int64_t rows,
                      std::int64_t cols, std::uint16_t *dst, cudaStream_t stream)
{
    if (!canDequantizeToBf16(type))
        nw::fail("cuda::dequantizeToBf16: weights of type {} are not supported yet "
                 "(F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)", tensorTypeName(type));
    if (rows <= 0 || cols <= 0)
        nw::fail("cuda::dequantizeToBf16: bad shape [{}, {}]", rows, cols);
    const std::size_t blockElements = tensorTypeTraits(type).blockElements;
    if (std::size_t(cols) % blockElements != 0)
        nw::fail("cuda::dequantizeToBf16: {} rows of {} columns are not whole blocks of {}",
                 tensorTypeName(type), cols, blockElements);
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
