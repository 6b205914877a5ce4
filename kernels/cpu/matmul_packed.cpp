// Repacking into the 8-row interleaved layout (matmul_packed.h), the portable group kernels the
// AVX2 ones are checked against, and the threaded driver.
#include "kernels/cpu/matmul_packed.h"

#include "common/assert.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/dot_scalar.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_packed_kernels.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cstring>

namespace nw::cpu {
namespace {

constexpr int R = kPackRows;
constexpr double kSerialBytes = 64 * 1024; // weight bytes x tokens below which one thread does it

std::size_t packedBlockBytes(TensorType type)
{
    switch (type) {
    case TensorType::Q4_0:
        return kQ4_0x8Bytes;
    case TensorType::Q8_0:
        return kQ8_0x8Bytes;
    case TensorType::Q4_K:
        return kQ4_Kx8Bytes;
    case TensorType::Q6_K:
        return kQ6_Kx8Bytes;
    case TensorType::Q2_K:
        return kQ2_Kx8Bytes;
    case TensorType::Q3_K:
        return kQ3_Kx8Bytes;
    case TensorType::IQ4_NL:
        return kIQ4_NLx8Bytes;
    case TensorType::MXFP4:
        return kMXFP4x8Bytes;
    default:
        break;
    }
    NW_ASSERT(!"no packed layout for this type");
    return 0;
}

// ---- repacking: one block column of 8 rows (null rows are the zero padding) -----------------

void packQ4_0(const BlockQ4_0 *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 16);
    for (int r = 0; r < R; ++r) {
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        for (int v = 0; v < 4; ++v)
            for (int i = 0; i < 4; ++i)
                qs[32 * v + 4 * r + i] = src[r] ? src[r]->qs[4 * v + i] : std::uint8_t { 0x88 };
    }
}

void packQ2_K(const BlockQ2_K *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *dmin = reinterpret_cast<f16_t *>(dst + 16);
    auto *scales = reinterpret_cast<std::uint8_t *>(dst + 32); // [8 pairs][8 rows][2]
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 160);
    for (int r = 0; r < R; ++r) {
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        dmin[r] = src[r] ? src[r]->dmin : f16_t { 0 };
        for (int j = 0; j < 16; ++j)
            scales[16 * (j / 2) + 2 * r + j % 2] = src[r] ? src[r]->scales[j] : std::uint8_t { 0 };
        for (int n = 0; n < 2; ++n)
            for (int v = 0; v < 8; ++v)
                for (int i = 0; i < 4; ++i)
                    qs[256 * n + 32 * v + 4 * r + i] = src[r] ? src[r]->qs[32 * n + 4 * v + i] : std::uint8_t { 0 };
    }
}

void packQ3_K(const BlockQ3_K *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *scales = reinterpret_cast<std::int8_t *>(dst + 16); // [8 pairs][8 rows][2]
    auto *hmask = reinterpret_cast<std::uint8_t *>(dst + 144);
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 400);
    for (int r = 0; r < R; ++r) {
        std::int8_t sc[16] = {};
        if (src[r])
            unpackQ3Scales(src[r]->scales, sc);
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        for (int j = 0; j < 16; ++j)
            scales[16 * (j / 2) + 2 * r + j % 2] = sc[j];
        for (int v = 0; v < 8; ++v)
            for (int i = 0; i < 4; ++i) {
                hmask[32 * v + 4 * r + i] = src[r] ? src[r]->hmask[4 * v + i] : std::uint8_t { 0 };
                for (int n = 0; n < 2; ++n)
                    qs[256 * n + 32 * v + 4 * r + i] = src[r] ? src[r]->qs[32 * n + 4 * v + i] : std::uint8_t { 0 };
            }
    }
}

// IQ4_NL and MXFP4 keep Q4_0's nibble interleave; padding rows hold scale 0 and level 0.
void packIQ4_NL(const BlockIQ4_NL *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 16);
    for (int r = 0; r < R; ++r) {
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        for (int v = 0; v < 4; ++v)
            for (int i = 0; i < 4; ++i)
                qs[32 * v + 4 * r + i] = src[r] ? src[r]->qs[4 * v + i] : std::uint8_t { 0 };
    }
}

void packMXFP4(const BlockMXFP4 *const src[R], std::byte *dst)
{
    auto *e = reinterpret_cast<std::uint8_t *>(dst);
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 8);
    for (int r = 0; r < R; ++r) {
        e[r] = src[r] ? src[r]->e : std::uint8_t { 0 };
        for (int v = 0; v < 4; ++v)
            for (int i = 0; i < 4; ++i)
                qs[32 * v + 4 * r + i] = src[r] ? src[r]->qs[4 * v + i] : std::uint8_t { 0 };
    }
}

void packQ8_0(const BlockQ8_0 *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *qs = reinterpret_cast<std::int8_t *>(dst + 16);
    for (int r = 0; r < R; ++r) {
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        for (int v = 0; v < 8; ++v)
            for (int i = 0; i < 4; ++i)
                qs[32 * v + 4 * r + i] = src[r] ? src[r]->qs[4 * v + i] : std::int8_t { 0 };
    }
}

void packQ4_K(const BlockQ4_K *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *dmin = reinterpret_cast<f16_t *>(dst + 16);
    auto *scales = reinterpret_cast<std::uint8_t *>(dst + 32); // [8 sub][8 rows]
    auto *mins = reinterpret_cast<std::uint8_t *>(dst + 96); // [4 pairs][8 rows][2]
    auto *qs = reinterpret_cast<std::uint8_t *>(dst + 160);
    for (int r = 0; r < R; ++r) {
        std::uint8_t sc[8] = {}, mn[8] = {};
        if (src[r])
            unpackKScales(src[r]->scales, sc, mn);
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        dmin[r] = src[r] ? src[r]->dmin : f16_t { 0 };
        for (int j = 0; j < 8; ++j) {
            scales[8 * j + r] = sc[j];
            mins[16 * (j / 2) + 2 * r + (j % 2)] = mn[j];
        }
        for (int p = 0; p < 4; ++p)
            for (int v = 0; v < 8; ++v)
                for (int i = 0; i < 4; ++i)
                    qs[256 * p + 32 * v + 4 * r + i] = src[r] ? src[r]->qs[32 * p + 4 * v + i] : std::uint8_t { 0 };
    }
}

// The 256 six-bit quants (0..63) of a Q6_K super-block in element order.
void unpackQ6_K(const BlockQ6_K &b, std::uint8_t q[256])
{
    for (int n = 0; n < 2; ++n)
        for (int l = 0; l < 32; ++l) {
            const std::uint8_t lo = b.ql[64 * n + l], hi = b.ql[64 * n + l + 32], h = b.qh[32 * n + l];
            q[128 * n + l] = static_cast<std::uint8_t>((lo & 0x0f) | ((h & 3) << 4));
            q[128 * n + l + 32] = static_cast<std::uint8_t>((hi & 0x0f) | (((h >> 2) & 3) << 4));
            q[128 * n + l + 64] = static_cast<std::uint8_t>((lo >> 4) | (((h >> 4) & 3) << 4));
            q[128 * n + l + 96] = static_cast<std::uint8_t>((hi >> 4) | (((h >> 6) & 3) << 4));
        }
}

void packQ6_K(const BlockQ6_K *const src[R], std::byte *dst)
{
    auto *d = reinterpret_cast<f16_t *>(dst);
    auto *scales = reinterpret_cast<std::int8_t *>(dst + 16); // [16 sub][8 rows]
    auto *ql = reinterpret_cast<std::uint8_t *>(dst + 144);
    auto *qh = reinterpret_cast<std::uint8_t *>(dst + 144 + 1024);
    for (int r = 0; r < R; ++r) {
        std::uint8_t q[256];
        if (src[r])
            unpackQ6_K(*src[r], q);
        else
            std::fill(q, q + 256, std::uint8_t { 32 });
        d[r] = src[r] ? src[r]->d : f16_t { 0 };
        for (int j = 0; j < 16; ++j)
            scales[8 * j + r] = src[r] ? src[r]->scales[j] : std::int8_t { 0 };
        for (int t = 0; t < 32; ++t)
            for (int i = 0; i < 4; ++i)
                ql[32 * t + 4 * r + i]
                    = static_cast<std::uint8_t>((q[4 * t + i] & 0x0f) | ((q[4 * (t + 32) + i] & 0x0f) << 4));
        for (int s = 0; s < 16; ++s)
            for (int i = 0; i < 4; ++i)
                qh[32 * s + 4 * r + i]
                    = static_cast<std::uint8_t>((q[4 * s + i] >> 4) | ((q[4 * (s + 16) + i] >> 4) << 2)
                        | ((q[4 * (s + 32) + i] >> 4) << 4) | ((q[4 * (s + 48) + i] >> 4) << 6));
    }
}

template <typename Block>
void packGroups(
    const WeightMatrix &w, std::size_t rowStride, PackedWeights &p, void (*pack)(const Block *const[R], std::byte *))
{
    const std::int64_t nBlocks = w.cols / static_cast<std::int64_t>(tensorTypeTraits(w.type).blockElements);
    for (std::int64_t g = 0; g < p.nGroups; ++g) {
        const Block *rows[R];
        for (int r = 0; r < R; ++r) {
            const std::int64_t row = g * R + r;
            rows[r] = row < w.rows ? reinterpret_cast<const Block *>(w.data + static_cast<std::size_t>(row) * rowStride)
                                   : nullptr;
        }
        std::byte *out = p.data + p.groupBytes * static_cast<std::size_t>(g);
        for (std::int64_t b = 0; b < nBlocks; ++b) {
            const Block *column[R];
            for (int r = 0; r < R; ++r)
                column[r] = rows[r] ? rows[r] + b : nullptr;
            pack(column, out + p.blockBytes * static_cast<std::size_t>(b));
        }
    }
}

// ---- portable group kernels ---------------------------------------------------------------

void scalarQ4_0(
    const std::byte *group, const std::byte *act, const std::int32_t *sums, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_0x8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *qs = reinterpret_cast<const std::uint8_t *>(group + 16);
        const float dx = fp16ToFloat(x[b].d);
        for (int r = 0; r < R; ++r) {
            std::int32_t sum = 0;
            for (int v = 0; v < 4; ++v)
                for (int i = 0; i < 4; ++i) {
                    const std::uint8_t q = qs[32 * v + 4 * r + i];
                    sum += (q & 0x0f) * x[b].qs[4 * v + i] + (q >> 4) * x[b].qs[16 + 4 * v + i];
                }
            sum -= 8 * sums[b];
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * dx);
        }
    }
    std::copy(acc, acc + R, out);
}

void scalarQ8_0(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ8_0x8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *qs = reinterpret_cast<const std::int8_t *>(group + 16);
        const float dx = fp16ToFloat(x[b].d);
        for (int r = 0; r < R; ++r) {
            std::int32_t sum = 0;
            for (int v = 0; v < 8; ++v)
                for (int i = 0; i < 4; ++i)
                    sum += qs[32 * v + 4 * r + i] * x[b].qs[4 * v + i];
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * dx);
        }
    }
    std::copy(acc, acc + R, out);
}

void scalarQ4_K(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    float acc[R] = {}, accMin[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_Kx8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *dmin = reinterpret_cast<const f16_t *>(group + 16);
        const auto *scales = reinterpret_cast<const std::uint8_t *>(group + 32);
        const auto *mins = reinterpret_cast<const std::uint8_t *>(group + 96);
        const auto *qs = reinterpret_cast<const std::uint8_t *>(group + 160);
        const std::int8_t *y = x[b].qs;
        for (int r = 0; r < R; ++r) {
            std::int32_t sum = 0, sumMin = 0;
            for (int p = 0; p < 4; ++p) {
                std::int32_t lo = 0, hi = 0;
                for (int v = 0; v < 8; ++v)
                    for (int i = 0; i < 4; ++i) {
                        const std::uint8_t q = qs[256 * p + 32 * v + 4 * r + i];
                        lo += (q & 0x0f) * y[64 * p + 4 * v + i];
                        hi += (q >> 4) * y[64 * p + 32 + 4 * v + i];
                    }
                sum += lo * scales[8 * (2 * p) + r] + hi * scales[8 * (2 * p + 1) + r];
                for (int k = 0; k < 2; ++k) {
                    const int j = 2 * p + k;
                    sumMin += mins[16 * p + 2 * r + k] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
                }
            }
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * x[b].d);
            accMin[r] += static_cast<float>(sumMin) * (fp16ToFloat(dmin[r]) * x[b].d);
        }
    }
    for (int r = 0; r < R; ++r)
        out[r] = acc[r] - accMin[r];
}

void scalarQ6_K(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ6_Kx8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *scales = reinterpret_cast<const std::int8_t *>(group + 16);
        const auto *ql = reinterpret_cast<const std::uint8_t *>(group + 144);
        const auto *qh = reinterpret_cast<const std::uint8_t *>(group + 144 + 1024);
        const std::int8_t *y = x[b].qs;
        for (int r = 0; r < R; ++r) {
            std::int32_t perSub[16] = {};
            for (int t = 0; t < 64; ++t) // element group t: elements 4t..4t+3, sub-block t / 4
                for (int i = 0; i < 4; ++i) {
                    const std::uint8_t l = ql[32 * (t % 32) + 4 * r + i];
                    const std::uint8_t h = qh[32 * (t % 16) + 4 * r + i];
                    const int q = (t < 32 ? (l & 0x0f) : (l >> 4)) | (((h >> (2 * (t / 16))) & 3) << 4);
                    perSub[t / 4] += q * y[4 * t + i];
                }
            std::int32_t sum = 0;
            for (int j = 0; j < 16; ++j)
                sum += scales[8 * j + r] * (perSub[j] - 32 * x[b].bsums[j]);
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * x[b].d);
        }
    }
    std::copy(acc, acc + R, out);
}

// Q2_K: element 128n + 32k + 4v + i of row r is bits 2k of qs[n][v][r][i], sub-block 8n + 2k + v/4.
void scalarQ2_K(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ2_Kx8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *dmin = reinterpret_cast<const f16_t *>(group + 16);
        const auto *scales = reinterpret_cast<const std::uint8_t *>(group + 32);
        const auto *qs = reinterpret_cast<const std::uint8_t *>(group + 160);
        const std::int8_t *y = x[b].qs;
        for (int r = 0; r < R; ++r) {
            std::int32_t perSub[16] = {};
            for (int n = 0; n < 2; ++n)
                for (int k = 0; k < 4; ++k)
                    for (int v = 0; v < 8; ++v)
                        for (int i = 0; i < 4; ++i)
                            perSub[8 * n + 2 * k + v / 4] += ((qs[256 * n + 32 * v + 4 * r + i] >> (2 * k)) & 3)
                                * y[128 * n + 32 * k + 4 * v + i];
            std::int32_t sum = 0, sumMin = 0;
            for (int j = 0; j < 16; ++j) {
                const std::uint8_t sc = scales[16 * (j / 2) + 2 * r + j % 2];
                sum += (sc & 0x0f) * perSub[j];
                sumMin += (sc >> 4) * x[b].bsums[j];
            }
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * x[b].d)
                - static_cast<float>(sumMin) * (fp16ToFloat(dmin[r]) * x[b].d);
        }
    }
    std::copy(acc, acc + R, out);
}

// Q3_K: element 128n + 32k + 4v + i of row r has its two low bits at bits 2k of qs[n][v][r][i]
// and its high bit at bit 4n + k of hmask[v][r][i]; q = low + 4 high - 4, sub-block 8n + 2k + v/4.
void scalarQ3_K(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ3_Kx8Bytes) {
        const auto *d = reinterpret_cast<const f16_t *>(group);
        const auto *scales = reinterpret_cast<const std::int8_t *>(group + 16);
        const auto *hmask = reinterpret_cast<const std::uint8_t *>(group + 144);
        const auto *qs = reinterpret_cast<const std::uint8_t *>(group + 400);
        const std::int8_t *y = x[b].qs;
        for (int r = 0; r < R; ++r) {
            std::int32_t perSub[16] = {};
            for (int n = 0; n < 2; ++n)
                for (int k = 0; k < 4; ++k)
                    for (int v = 0; v < 8; ++v)
                        for (int i = 0; i < 4; ++i) {
                            const int low = (qs[256 * n + 32 * v + 4 * r + i] >> (2 * k)) & 3;
                            const int high = (hmask[32 * v + 4 * r + i] >> (4 * n + k)) & 1;
                            perSub[8 * n + 2 * k + v / 4] += (low + 4 * high - 4) * y[128 * n + 32 * k + 4 * v + i];
                        }
            std::int32_t sum = 0;
            for (int j = 0; j < 16; ++j)
                sum += scales[16 * (j / 2) + 2 * r + j % 2] * perSub[j];
            acc[r] += static_cast<float>(sum) * (fp16ToFloat(d[r]) * x[b].d);
        }
    }
    std::copy(acc, acc + R, out);
}

// IQ4_NL / MXFP4: Q4_0's walk with the nibbles looked up in `levels`, scaled per row by `scale`.
template <std::size_t blockBytes, std::size_t qsOffset, float (*scale)(const std::byte *, int)>
void scalarLut(
    const std::byte *group, const std::byte *act, std::int64_t nBlocks, float *out, const std::int8_t *levels)
{
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    float acc[R] = {};
    for (std::int64_t b = 0; b < nBlocks; ++b, group += blockBytes) {
        const auto *qs = reinterpret_cast<const std::uint8_t *>(group + qsOffset);
        const float dx = fp16ToFloat(x[b].d);
        for (int r = 0; r < R; ++r) {
            std::int32_t sum = 0;
            for (int v = 0; v < 4; ++v)
                for (int i = 0; i < 4; ++i) {
                    const std::uint8_t q = qs[32 * v + 4 * r + i];
                    sum += levels[q & 0x0f] * x[b].qs[4 * v + i] + levels[q >> 4] * x[b].qs[16 + 4 * v + i];
                }
            acc[r] += static_cast<float>(sum) * (scale(group, r) * dx);
        }
    }
    std::copy(acc, acc + R, out);
}

float iq4nlRowScale(const std::byte *group, int r)
{
    f16_t d;
    std::memcpy(&d, group + 2 * r, sizeof d);
    return fp16ToFloat(d);
}

float mxfp4RowScale(const std::byte *group, int r)
{
    return e8m0Half(static_cast<std::uint8_t>(group[r]));
}

void scalarIQ4_NL(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    scalarLut<kIQ4_NLx8Bytes, 16, iq4nlRowScale>(group, act, nBlocks, out, kIq4nlValues);
}

void scalarMXFP4(const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    scalarLut<kMXFP4x8Bytes, 8, mxfp4RowScale>(group, act, nBlocks, out, kMxfp4Values);
}

PackedGroupDot scalarPackedDot(TensorType type)
{
    switch (type) {
    case TensorType::Q4_0:
        return scalarQ4_0;
    case TensorType::Q8_0:
        return scalarQ8_0;
    case TensorType::Q4_K:
        return scalarQ4_K;
    case TensorType::Q6_K:
        return scalarQ6_K;
    case TensorType::Q2_K:
        return scalarQ2_K;
    case TensorType::Q3_K:
        return scalarQ3_K;
    case TensorType::IQ4_NL:
        return scalarIQ4_NL;
    case TensorType::MXFP4:
        return scalarMXFP4;
    default:
        break;
    }
    NW_ASSERT(!"no packed kernel for this type");
    return nullptr;
}

} // namespace

bool canPack(TensorType type)
{
    switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q6_K:
    case TensorType::IQ4_NL:
    case TensorType::MXFP4:
        return true;
    default:
        return false;
    }
}

std::unique_ptr<PackedWeights> packWeights(const WeightMatrix &w)
{
    checkWeights(w, "packWeights");
    NW_ASSERT(canPack(w.type));
    auto p = std::make_unique<PackedWeights>();
    p->type = w.type;
    p->rows = w.rows;
    p->cols = w.cols;
    p->source = w.data;
    p->blockBytes = packedBlockBytes(w.type);
    const std::int64_t nBlocks = w.cols / static_cast<std::int64_t>(tensorTypeTraits(w.type).blockElements);
    p->groupBytes = p->blockBytes * static_cast<std::size_t>(nBlocks);
    p->nGroups = (w.rows + R - 1) / R;
    constexpr std::size_t kAlign = 64;
    p->storage = std::make_unique_for_overwrite<std::byte[]>(p->bytes() + kAlign);
    const auto base = reinterpret_cast<std::uintptr_t>(p->storage.get());
    p->data = p->storage.get() + ((kAlign - base % kAlign) % kAlign);
    const std::size_t rowStride = w.rowStride ? w.rowStride : rowBytes(w.type, static_cast<std::size_t>(w.cols));
    p->sourceStride = rowStride;
    switch (w.type) {
    case TensorType::Q4_0:
        packGroups<BlockQ4_0>(w, rowStride, *p, packQ4_0);
        break;
    case TensorType::Q8_0:
        packGroups<BlockQ8_0>(w, rowStride, *p, packQ8_0);
        break;
    case TensorType::Q4_K:
        packGroups<BlockQ4_K>(w, rowStride, *p, packQ4_K);
        break;
    case TensorType::Q6_K:
        packGroups<BlockQ6_K>(w, rowStride, *p, packQ6_K);
        break;
    case TensorType::Q2_K:
        packGroups<BlockQ2_K>(w, rowStride, *p, packQ2_K);
        break;
    case TensorType::Q3_K:
        packGroups<BlockQ3_K>(w, rowStride, *p, packQ3_K);
        break;
    case TensorType::IQ4_NL:
        packGroups<BlockIQ4_NL>(w, rowStride, *p, packIQ4_NL);
        break;
    case TensorType::MXFP4:
        packGroups<BlockMXFP4>(w, rowStride, *p, packMXFP4);
        break;
    default:
        NW_ASSERT(!"unreachable");
    }
    return p;
}

void matmulPacked(ThreadPool &pool, std::vector<std::byte> &scratch, const PackedWeights &w, const float *x, float *y,
    int nTokens, bool scalar)
{
    NW_ASSERT(x != nullptr && y != nullptr && nTokens >= 0 && w.data != nullptr);
    if (nTokens == 0)
        return;
    const PackedGroupDot simd = scalar ? nullptr : avx2PackedDot(w.type);
    const PackedGroupDot dot = simd ? simd : scalarPackedDot(w.type);
    const PackedGroupTile tile = simd ? avx2PackedTile(w.type) : nullptr;
    const DotKernel &quant = simd ? dotKernel(w.type) : scalarDotKernel(w.type);
    const std::int64_t cols = w.cols, rows = w.rows;
    const std::int64_t nBlocks = cols / static_cast<std::int64_t>(tensorTypeTraits(w.type).blockElements);

    // Activations: one quantized row per token, then (Q4_0) the int sums of each Q8_0 block,
    // which turn the unsigned nibbles back into q - 8 for all 8 rows at once.
    const std::size_t actStride = activationRowBytes(quant.activation, cols);
    const bool needSums = w.type == TensorType::Q4_0;
    const std::size_t actBytes = actStride * static_cast<std::size_t>(nTokens);
    const std::size_t sumBytes = needSums ? sizeof(std::int32_t) * static_cast<std::size_t>(nBlocks * nTokens) : 0;
    if (scratch.size() < actBytes + sumBytes + alignof(std::int32_t))
        scratch.resize(actBytes + sumBytes + alignof(std::int32_t));
    std::byte *act = scratch.data();
    auto *sums = reinterpret_cast<std::int32_t *>(
        act + (actBytes + alignof(std::int32_t) - 1) / alignof(std::int32_t) * alignof(std::int32_t));
    const auto quantizeRows = [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            std::byte *row = act + static_cast<std::size_t>(t) * actStride;
            quant.quantize(x + t * cols, row, cols);
            if (needSums) {
                const auto *blocks = reinterpret_cast<const BlockQ8_0 *>(row);
                for (std::int64_t b = 0; b < nBlocks; ++b) {
                    std::int32_t s = 0;
                    for (int i = 0; i < 32; ++i)
                        s += blocks[b].qs[i];
                    sums[t * nBlocks + b] = s;
                }
            }
        }
    };
    if (nTokens == 1)
        quantizeRows(0, 1); // a few microseconds: not worth waking the workers
    else
        pool.parallelFor(nTokens, 1, quantizeRows);

    // Per group of 8 rows, every token: the group (a few KiB to tens of KiB) stays in L1/L2
    // while the tokens' activation rows pass it, so prefill reads each weight byte from memory
    // once. Tokens go kTileTokens at a time through the tile kernel where there is one, which
    // also loads and unpacks each weight vector once per tile; the rest one at a time.
    const auto groups = [&](std::int64_t g0, std::int64_t g1) {
        float out[R * kTileTokens];
        for (std::int64_t g = g0; g < g1; ++g) {
            const std::byte *group = w.group(g);
            const std::int64_t r0 = g * R, nr = std::min<std::int64_t>(R, rows - r0);
            int t = 0;
            if (tile)
                for (; t + kTileTokens <= nTokens; t += kTileTokens) {
                    tile(group, act + static_cast<std::size_t>(t) * actStride, actStride,
                        needSums ? sums + t * nBlocks : nullptr, nBlocks, out);
                    for (int k = 0; k < kTileTokens; ++k)
                        std::copy(out + R * k, out + R * k + nr, y + static_cast<std::int64_t>(t + k) * rows + r0);
                }
            for (; t < nTokens; ++t) {
                dot(group, act + static_cast<std::size_t>(t) * actStride, needSums ? sums + t * nBlocks : nullptr,
                    nBlocks, out);
                std::copy(out, out + nr, y + static_cast<std::int64_t>(t) * rows + r0);
            }
        }
    };
    const bool small = static_cast<double>(w.bytes()) * nTokens < kSerialBytes;
    // Two groups (16 outputs, 64 bytes) per grain keep threads off each other's cache lines.
    small ? groups(0, w.nGroups) : pool.parallelFor(w.nGroups, 2, groups);
}

} // namespace nw::cpu
