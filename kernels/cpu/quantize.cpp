// Scalar reference conversions between f32 and ggml's block formats. The bit layouts follow
// ggml-common.h / ggml-quants.c (dequantize_row_*); the quantizers are our own simple ones:
// per-block (or per-sub-block) range, scales rounded so that no value is clipped.
#include "kernels/cpu/quantize.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/iq_grids.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace nw {
namespace {

// ---- helpers -------------------------------------------------------------------------------

// Round to nearest even for |v| < 2^22 without a libm call: adding 1.5 * 2^23 leaves the
// rounded integer in the low mantissa bits. Callers clamp the result to the quant range, and
// their inputs are scaled to a few hundred at most (non-finite input gives some clamped value).
int roundToInt(float v)
{
    const float shifted = v + 12582912.0f;
    std::int32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

// The smallest f16 that is >= value (value >= 0, finite): a stored scale must not shrink, or
// the largest quant would clip.
f16_t fp16AtLeast(float value)
{
    f16_t h = floatToFp16(value);
    if (fp16ToFloat(h) < value && h < 0x7bff)
        ++h; // positive f16 bit patterns are ordered like their values
    return h;
}

// The largest f16 that is <= value (finite, within the f16 range): an offset that must not
// rise above the block minimum.
f16_t fp16AtMost(float value)
{
    f16_t h = floatToFp16(value);
    if (fp16ToFloat(h) > value) {
        if (h & 0x8000u)
            ++h; // negative: the next pattern has a larger magnitude
        else
            --h; // positive and above value, so h > 0
    }
    return h;
}

// Q4_K/Q5_K: 6-bit scale and min of sub-block j (0..7) out of the 12 packed bytes. Sub-blocks
// 0-3 keep theirs in the low 6 bits of bytes j and j+4; sub-blocks 4-7 keep the low 4 bits in
// byte j+4 (scale low nibble, min high nibble) and the top 2 bits in the spare top bits of
// bytes j-4 (scale) and j (min). ggml's get_scale_min_k4.
void unpackScaleMin(const std::uint8_t *packed, int j, int &scale, int &min)
{
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
        min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

void packScaleMin(std::uint8_t *packed, const int *scales, const int *mins)
{
    std::memset(packed, 0, kKScaleBytes);
    for (int j = 0; j < 8; ++j) {
        NW_ASSERT(scales[j] >= 0 && scales[j] < 64 && mins[j] >= 0 && mins[j] < 64);
        if (j < 4) {
            packed[j] |= static_cast<std::uint8_t>(scales[j]);
            packed[j + 4] |= static_cast<std::uint8_t>(mins[j]);
        } else {
            packed[j + 4] = static_cast<std::uint8_t>((scales[j] & 0x0f) | ((mins[j] & 0x0f) << 4));
            packed[j - 4] |= static_cast<std::uint8_t>((scales[j] >> 4) << 6);
            packed[j] |= static_cast<std::uint8_t>((mins[j] >> 4) << 6);
        }
    }
}

// ---- dequantization ------------------------------------------------------------------------

void dequantQ4_0(const BlockQ4_0 *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            y[j] = d * static_cast<float>((blocks[i].qs[j] & 0x0f) - 8);
            y[j + kQk / 2] = d * static_cast<float>((blocks[i].qs[j] >> 4) - 8);
        }
    }
}

void dequantQ4_1(const BlockQ4_1 *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        const float m = fp16ToFloat(blocks[i].m);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            y[j] = d * static_cast<float>(blocks[i].qs[j] & 0x0f) + m;
            y[j + kQk / 2] = d * static_cast<float>(blocks[i].qs[j] >> 4) + m;
        }
    }
}

// Q5_0/Q5_1: qh is a little-endian u32 whose bit j is the fifth bit of element j (0..31).
std::uint32_t readQh(const std::uint8_t *qh)
{
    return static_cast<std::uint32_t>(qh[0]) | static_cast<std::uint32_t>(qh[1]) << 8
        | static_cast<std::uint32_t>(qh[2]) << 16 | static_cast<std::uint32_t>(qh[3]) << 24;
}

void dequantQ5_0(const BlockQ5_0 *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        const std::uint32_t qh = readQh(blocks[i].qh);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = (blocks[i].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (blocks[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * static_cast<float>(lo - 16);
            y[j + kQk / 2] = d * static_cast<float>(hi - 16);
        }
    }
}

void dequantQ5_1(const BlockQ5_1 *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        const float m = fp16ToFloat(blocks[i].m);
        const std::uint32_t qh = readQh(blocks[i].qh);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = (blocks[i].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (blocks[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * static_cast<float>(lo) + m;
            y[j + kQk / 2] = d * static_cast<float>(hi) + m;
        }
    }
}

template <typename Block> void dequantQ8(const Block *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        for (std::size_t j = 0; j < kQk; ++j)
            y[j] = d * static_cast<float>(blocks[i].qs[j]);
    }
}

// Q4_K: 4 groups of 64; each group's first 32 values are the low nibbles of 32 bytes of qs
// (sub-block 2g), the next 32 the high nibbles (sub-block 2g+1). x = d*sc*q - dmin*m.
void dequantQ4_K(const BlockQ4_K *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const BlockQ4_K &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        const float dmin = fp16ToFloat(b.dmin);
        for (int g = 0; g < 4; ++g) {
            const std::uint8_t *q = b.qs + 32 * g;
            int sc0, m0, sc1, m1;
            unpackScaleMin(b.scales, 2 * g, sc0, m0);
            unpackScaleMin(b.scales, 2 * g + 1, sc1, m1);
            const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
            const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
            for (int l = 0; l < 32; ++l)
                *y++ = d0 * static_cast<float>(q[l] & 0x0f) - min0;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * static_cast<float>(q[l] >> 4) - min1;
        }
    }
}

// Q5_K: as Q4_K, plus a fifth bit per value: for group g, bit 2g of qh[l] for the low-nibble
// value l and bit 2g+1 for the high-nibble value l.
void dequantQ5_K(const BlockQ5_K *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const BlockQ5_K &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        const float dmin = fp16ToFloat(b.dmin);
        for (int g = 0; g < 4; ++g) {
            const std::uint8_t *q = b.qs + 32 * g;
            int sc0, m0, sc1, m1;
            unpackScaleMin(b.scales, 2 * g, sc0, m0);
            unpackScaleMin(b.scales, 2 * g + 1, sc1, m1);
            const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
            const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
            for (int l = 0; l < 32; ++l) {
                const int v = (q[l] & 0x0f) | (((b.qh[l] >> (2 * g)) & 1) << 4);
                *y++ = d0 * static_cast<float>(v) - min0;
            }
            for (int l = 0; l < 32; ++l) {
                const int v = (q[l] >> 4) | (((b.qh[l] >> (2 * g + 1)) & 1) << 4);
                *y++ = d1 * static_cast<float>(v) - min1;
            }
        }
    }
}

// Q6_K: value e = 128*n + 32*r + l (n half, r 0..3, l 0..31) has its low 4 bits in
// ql[64n + l + 32*(r&1)] (low nibble for r<2, high for r>=2), its top 2 bits at bits 2r..2r+1
// of qh[32n + l], and scale scales[e/16]. x = d * scale * (q - 32).
void dequantQ6_K(const BlockQ6_K *blocks, float *y, std::size_t nBlocks)
{
    // The layout above, walked byte by byte: each ql/qh pair yields four values.
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQkK) {
        const BlockQ6_K &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        for (int n = 0; n < 2; ++n) {
            const std::uint8_t *ql = b.ql + 64 * n;
            const std::uint8_t *qh = b.qh + 32 * n;
            const std::int8_t *sc = b.scales + 8 * n;
            float *out = y + 128 * n;
            for (int l = 0; l < 32; ++l) {
                const int s = l / 16;
                out[l] = d * sc[s] * static_cast<float>(((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32);
                out[l + 32]
                    = d * sc[s + 2] * static_cast<float>(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
                out[l + 64] = d * sc[s + 4] * static_cast<float>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                out[l + 96] = d * sc[s + 6] * static_cast<float>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }
}

// Q2_K: 16 sub-blocks of 16, x = d * (scale & 15) * q - dmin * (scale >> 4) with 2-bit q; qs byte
// 32n + l holds element 128n + 32k + l in bits 2k..2k+1, whose sub-block is 8n + 2k + l / 16.
void dequantQ2_K(const BlockQ2_K *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQkK) {
        const BlockQ2_K &b = blocks[i];
        const float d = fp16ToFloat(b.d), dmin = fp16ToFloat(b.dmin);
        for (int e = 0; e < int(kQkK); ++e) {
            const int n = e / 128, k = (e % 128) / 32, l = e % 32;
            const std::uint8_t sc = b.scales[8 * n + 2 * k + l / 16];
            const float dl = d * static_cast<float>(sc & 0x0f), ml = dmin * static_cast<float>(sc >> 4);
            y[e] = dl * static_cast<float>((b.qs[32 * n + l] >> (2 * k)) & 3) - ml;
        }
    }
}

// Q3_K: Q2_K's 2-bit layout, minus 4 where the element's hmask bit (bit e / 32 of hmask[e % 32])
// is clear; x = d * scale * q with q in -4..3.
void dequantQ3_K(const BlockQ3_K *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQkK) {
        const BlockQ3_K &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        std::int8_t scales[16];
        unpackQ3Scales(b.scales, scales);
        for (int e = 0; e < int(kQkK); ++e) {
            const int n = e / 128, k = (e % 128) / 32, l = e % 32;
            const int low = (b.qs[32 * n + l] >> (2 * k)) & 3;
            const int q = low - (((b.hmask[l] >> (e / 32)) & 1) ? 0 : 4);
            const float dl = d * static_cast<float>(scales[8 * n + 2 * k + l / 16]);
            y[e] = dl * static_cast<float>(q);
        }
    }
}

// IQ4_NL / IQ4_XS: nibbles index a fixed table of 16 levels (ggml's kvalues_iq4nl), 16 bytes
// of nibbles per 32 values laid out as Q4_0's.
void dequantIQ4_NL(const BlockIQ4_NL *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = fp16ToFloat(blocks[i].d);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            y[j] = d * static_cast<float>(kIq4nlValues[blocks[i].qs[j] & 0x0f]);
            y[j + kQk / 2] = d * static_cast<float>(kIq4nlValues[blocks[i].qs[j] >> 4]);
        }
    }
}

// IQ4_XS: 8 sub-blocks of 32, 6-bit scale = low nibble of scalesL (sub-block s: byte s / 2,
// nibble s % 2) | bits 2s..2s+1 of scalesH << 4, stored + 32.
void dequantIQ4_XS(const BlockIQ4_XS *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const BlockIQ4_XS &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        for (int s = 0; s < 8; ++s, y += 32) {
            const int scale = iq4xsScale(b, s);
            const float dl = d * static_cast<float>(scale);
            const std::uint8_t *q = b.qs + 16 * s;
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * static_cast<float>(kIq4nlValues[q[j] & 0x0f]);
                y[j + 16] = dl * static_cast<float>(kIq4nlValues[q[j] >> 4]);
            }
        }
    }
}

// MXFP4: e2m1 nibbles (doubled to integers, kMxfp4Values) times half the E8M0 scale 2^(e - 127).
void dequantMXFP4(const BlockMXFP4 *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, y += kQk) {
        const float d = e8m0Half(blocks[i].e);
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            y[j] = static_cast<float>(kMxfp4Values[blocks[i].qs[j] & 0x0f]) * d;
            y[j + kQk / 2] = static_cast<float>(kMxfp4Values[blocks[i].qs[j] >> 4]) * d;
        }
    }
}

// ---- the IQ2/IQ3 grid types: x = db * grid[index][j] * sign(j) per group of 8 (or 4) values ----

int gridByte(std::uint64_t entry, int j)
{
    return static_cast<int>((entry >> (8 * j)) & 0xff);
}

float signOf(std::uint8_t signs, int j)
{
    return (signs >> j) & 1 ? -1.f : 1.f;
}

std::uint32_t readU32(const void *p)
{
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// IQ2_XXS: per 32 values two u32: four 8-bit grid indices, then four 7-bit sign indices and a
// 4-bit scale at bit 28; db = d (0.5 + scale) / 4.
void dequantIQ2_XXS(const BlockIQ2_XXS *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const float d = fp16ToFloat(blocks[i].d);
        for (int ib = 0; ib < 8; ++ib) {
            const std::uint32_t indices = readU32(blocks[i].qs + 4 * ib);
            const std::uint32_t meta = readU32(blocks[i].qs + 4 * ib + 2);
            const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l, y += 8) {
                const std::uint64_t entry = cpu::kIq2xxsGrid[(indices >> (8 * l)) & 0xff];
                const std::uint8_t signs = cpu::iqSigns(meta >> (7 * l));
                for (int j = 0; j < 8; ++j)
                    y[j] = db * static_cast<float>(gridByte(entry, j)) * signOf(signs, j);
            }
        }
    }
}

// IQ2_XS: per 8 values a u16 (9-bit grid index, 7-bit sign index); per 16 values a 4-bit scale.
void dequantIQ2_XS(const BlockIQ2_XS *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const float d = fp16ToFloat(blocks[i].d);
        for (int g = 0; g < 32; ++g, y += 8) {
            const int scale = (blocks[i].scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            const float db = d * (0.5f + static_cast<float>(scale)) * 0.25f;
            const std::uint16_t q = blocks[i].qs[g];
            const std::uint64_t entry = cpu::kIq2xsGrid[q & 511];
            const std::uint8_t signs = cpu::iqSigns(q >> 9);
            for (int j = 0; j < 8; ++j)
                y[j] = db * static_cast<float>(gridByte(entry, j)) * signOf(signs, j);
        }
    }
}

// IQ2_S: per 8 values a 10-bit grid index (qs byte, 2 bits of qh) and a byte of explicit signs.
void dequantIQ2_S(const BlockIQ2_S *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const BlockIQ2_S &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        const std::uint8_t *signs = b.qs + kQkK / 8;
        for (int g = 0; g < 32; ++g, y += 8) {
            const int scale = (b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            const float db = d * (0.5f + static_cast<float>(scale)) * 0.25f;
            const int index = b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
            const std::uint64_t entry = cpu::kIq2sGrid[index];
            for (int j = 0; j < 8; ++j)
                y[j] = db * static_cast<float>(gridByte(entry, j)) * signOf(signs[g], j);
        }
    }
}

// IQ3_XXS: 64 grid indices of 4 values, then per 32 values a u32 of four 7-bit sign indices and
// a 4-bit scale; db = d (0.5 + scale) / 2.
void dequantIQ3_XXS(const BlockIQ3_XXS *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const float d = fp16ToFloat(blocks[i].d);
        const std::uint8_t *qs = blocks[i].qs;
        for (int ib = 0; ib < 8; ++ib) {
            const std::uint32_t meta = readU32(qs + kQkK / 4 + 4 * ib);
            const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l, y += 8) {
                const std::uint8_t signs = cpu::iqSigns(meta >> (7 * l));
                for (int j = 0; j < 8; ++j) {
                    const std::uint32_t entry = cpu::kIq3xxsGrid[qs[8 * ib + 2 * l + j / 4]];
                    y[j] = db * static_cast<float>(gridByte(entry, j % 4)) * signOf(signs, j);
                }
            }
        }
    }
}

// IQ3_S: 64 nine-bit grid indices (qs byte, bit k of qh[k / 8]), a sign byte per 8 values, a
// 4-bit scale per 32; db = d (1 + 2 scale).
void dequantIQ3_S(const BlockIQ3_S *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i) {
        const BlockIQ3_S &b = blocks[i];
        const float d = fp16ToFloat(b.d);
        for (int g = 0; g < 32; ++g, y += 8) {
            const int scale = (b.scales[g / 8] >> (4 * ((g / 4) % 2))) & 0x0f;
            const float db = d * static_cast<float>(1 + 2 * scale);
            for (int j = 0; j < 8; ++j) {
                const int k = 2 * g + j / 4; // grid index number
                const int index = b.qs[k] | (((b.qh[k / 8] >> (k % 8)) & 1) << 8);
                y[j] = db * static_cast<float>(gridByte(cpu::kIq3sGrid[index], j % 4)) * signOf(b.signs[g], j);
            }
        }
    }
}

void dequantQ8_K(const BlockQ8_K *blocks, float *y, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i)
        for (std::size_t j = 0; j < kQkK; ++j)
            *y++ = blocks[i].d * static_cast<float>(blocks[i].qs[j]);
}

// ---- quantization --------------------------------------------------------------------------

// Symmetric with 2^(bits-1) levels below zero: the value of largest magnitude maps to the
// extreme quant -2^(bits-1), so its sign picks which end gets the extra level (as ggml does).
float symmetricScale(const float *x, std::size_t n, int negativeLevels)
{
    float extreme = 0.0f, amax = 0.0f;
    for (std::size_t j = 0; j < n; ++j)
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            extreme = x[j];
        }
    return extreme / static_cast<float>(-negativeLevels);
}

void quantQ4_0(const float *x, BlockQ4_0 *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        blocks[i].d = floatToFp16(symmetricScale(x, kQk, 8));
        const float d = fp16ToFloat(blocks[i].d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = std::clamp(roundToInt(x[j] * id) + 8, 0, 15);
            const int hi = std::clamp(roundToInt(x[j + kQk / 2] * id) + 8, 0, 15);
            blocks[i].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
        }
    }
}

void quantQ5_0(const float *x, BlockQ5_0 *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        blocks[i].d = floatToFp16(symmetricScale(x, kQk, 16));
        const float d = fp16ToFloat(blocks[i].d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        std::uint32_t qh = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = std::clamp(roundToInt(x[j] * id) + 16, 0, 31);
            const int hi = std::clamp(roundToInt(x[j + kQk / 2] * id) + 16, 0, 31);
            blocks[i].qs[j] = static_cast<std::uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= static_cast<std::uint32_t>(lo >> 4) << j;
            qh |= static_cast<std::uint32_t>(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; ++k)
            blocks[i].qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
    }
}

// Affine: x = d*q + m with q in [0, levels]; m is the block minimum as an f16 rounded down so
// that no value falls below it.
template <typename Block> void affineScale(const float *x, Block &block, int levels, float &d, float &m)
{
    float lo = x[0], hi = x[0];
    for (std::size_t j = 1; j < kQk; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
    }
    block.m = fp16AtMost(lo);
    m = fp16ToFloat(block.m);
    block.d = fp16AtLeast((hi - m) / static_cast<float>(levels));
    d = fp16ToFloat(block.d);
}

void quantQ4_1(const float *x, BlockQ4_1 *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        float d, m;
        affineScale(x, blocks[i], 15, d, m);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = std::clamp(roundToInt((x[j] - m) * id), 0, 15);
            const int hi = std::clamp(roundToInt((x[j + kQk / 2] - m) * id), 0, 15);
            blocks[i].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
        }
    }
}

void quantQ5_1(const float *x, BlockQ5_1 *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        float d, m;
        affineScale(x, blocks[i], 31, d, m);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        std::uint32_t qh = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            const int lo = std::clamp(roundToInt((x[j] - m) * id), 0, 31);
            const int hi = std::clamp(roundToInt((x[j + kQk / 2] - m) * id), 0, 31);
            blocks[i].qs[j] = static_cast<std::uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= static_cast<std::uint32_t>(lo >> 4) << j;
            qh |= static_cast<std::uint32_t>(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; ++k)
            blocks[i].qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
    }
}

// Q8_0/Q8_1: d = amax/127. Q8_1 also stores s = d * sum(q), the term that Q4_1/Q5_1 dot
// products need for their offset m.
template <typename Block> void quantQ8(const float *x, Block *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        float amax = 0.0f;
        for (std::size_t j = 0; j < kQk; ++j)
            amax = std::max(amax, std::fabs(x[j]));
        blocks[i].d = floatToFp16(amax / 127.0f);
        const float d = fp16ToFloat(blocks[i].d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (std::size_t j = 0; j < kQk; ++j) {
            const int q = std::clamp(roundToInt(x[j] * id), -127, 127);
            blocks[i].qs[j] = static_cast<std::int8_t>(q);
            sum += q;
        }
        if constexpr (std::is_same_v<Block, BlockQ8_1>)
            blocks[i].s = floatToFp16(d * static_cast<float>(sum));
    }
}

// Q2_K/Q4_K/Q5_K: per sub-block an affine range [-min, -min + levels*scale] with min >= 0
// (the range always holds 0), its min quantized first to a multiple of dmin (rounded up, so the
// range still reaches the smallest value), then its scale to a multiple of d rounded up against
// the real min so the largest value is not clipped; both multiples are at most scaleMax. The
// error per value is at most half the sub-block's step.
template <typename Block, int nSub, int subLen>
void quantKAffine(const float *x, Block &b, int levels, int scaleMax, int *q, int *scaleQ, int *minQ)
{
    float mins[nSub], maxs[nSub];
    float maxMin = 0.0f;
    for (int s = 0; s < nSub; ++s) {
        float lo = 0.0f, hi = 0.0f;
        for (int l = 0; l < subLen; ++l) {
            lo = std::min(lo, x[subLen * s + l]);
            hi = std::max(hi, x[subLen * s + l]);
        }
        mins[s] = -lo;
        maxs[s] = hi;
        maxMin = std::max(maxMin, mins[s]);
    }
    const float top = static_cast<float>(scaleMax);
    b.dmin = fp16AtLeast(maxMin / top);
    const float dmin = fp16ToFloat(b.dmin);
    float needed[nSub], maxNeeded = 0.0f;
    for (int s = 0; s < nSub; ++s) {
        minQ[s] = dmin > 0.0f ? std::clamp(static_cast<int>(std::ceil(mins[s] / dmin)), 0, scaleMax) : 0;
        needed[s] = (maxs[s] + dmin * static_cast<float>(minQ[s])) / static_cast<float>(levels);
        maxNeeded = std::max(maxNeeded, needed[s]);
    }
    b.d = fp16AtLeast(maxNeeded / top);
    const float d = fp16ToFloat(b.d);
    for (int s = 0; s < nSub; ++s) {
        scaleQ[s] = d > 0.0f ? std::clamp(static_cast<int>(std::ceil(needed[s] / d)), 0, scaleMax) : 0;
        const float step = d * static_cast<float>(scaleQ[s]);
        const float offset = dmin * static_cast<float>(minQ[s]);
        const float inv = step > 0.0f ? 1.0f / step : 0.0f;
        for (int l = 0; l < subLen; ++l)
            q[subLen * s + l] = std::clamp(roundToInt((x[subLen * s + l] + offset) * inv), 0, levels);
    }
}

// Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins, packed as get_scale_min_k4 reads them.
template <typename Block> void quantKAffine(const float *x, Block &b, int levels, int *q)
{
    int scaleQ[8], minQ[8];
    quantKAffine<Block, 8, 32>(x, b, levels, 63, q, scaleQ, minQ);
    packScaleMin(b.scales, scaleQ, minQ);
}

void quantQ4_K(const float *x, BlockQ4_K *blocks, std::size_t nBlocks)
{
    int q[kQkK];
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        quantKAffine(x, blocks[i], 15, q);
        for (int g = 0; g < 4; ++g)
            for (int l = 0; l < 32; ++l)
                blocks[i].qs[32 * g + l] = static_cast<std::uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
}

void quantQ5_K(const float *x, BlockQ5_K *blocks, std::size_t nBlocks)
{
    int q[kQkK];
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        quantKAffine(x, blocks[i], 31, q);
        std::memset(blocks[i].qh, 0, sizeof blocks[i].qh);
        for (int g = 0; g < 4; ++g)
            for (int l = 0; l < 32; ++l) {
                const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
                blocks[i].qs[32 * g + l] = static_cast<std::uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
                blocks[i].qh[l] |= static_cast<std::uint8_t>(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
            }
    }
}

// Q6_K: per sub-block of 16 a symmetric scale amax/31 (quants -31..31 of -32..31), as an
// 8-bit multiple of the super-block d, rounded up so nothing clips.
void quantQ6_K(const float *x, BlockQ6_K *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        BlockQ6_K &b = blocks[i];
        float needed[16], maxNeeded = 0.0f;
        for (int s = 0; s < 16; ++s) {
            float amax = 0.0f;
            for (int l = 0; l < 16; ++l)
                amax = std::max(amax, std::fabs(x[16 * s + l]));
            needed[s] = amax / 31.0f;
            maxNeeded = std::max(maxNeeded, needed[s]);
        }
        b.d = fp16AtLeast(maxNeeded / 127.0f);
        const float d = fp16ToFloat(b.d);
        std::memset(b.ql, 0, sizeof b.ql);
        std::memset(b.qh, 0, sizeof b.qh);
        for (int s = 0; s < 16; ++s) {
            const int scale = d > 0.0f ? std::clamp(static_cast<int>(std::ceil(needed[s] / d)), 0, 127) : 0;
            b.scales[s] = static_cast<std::int8_t>(scale);
            const float step = d * static_cast<float>(scale);
            const float inv = step > 0.0f ? 1.0f / step : 0.0f;
            for (int l = 0; l < 16; ++l) {
                const int e = 16 * s + l;
                const int v = std::clamp(roundToInt(x[e] * inv), -32, 31) + 32;
                const int n = e / 128, r = (e % 128) / 32, k = e % 32;
                std::uint8_t &low = b.ql[64 * n + k + 32 * (r & 1)];
                low |= static_cast<std::uint8_t>(r < 2 ? (v & 0x0f) : ((v & 0x0f) << 4));
                b.qh[32 * n + k] |= static_cast<std::uint8_t>((v >> 4) << (2 * r));
            }
        }
    }
}

// Q2_K: 16 sub-blocks of 16, 2-bit quants, 4-bit scales and mins (scale low nibble, min high).
void quantQ2_K(const float *x, BlockQ2_K *blocks, std::size_t nBlocks)
{
    int q[kQkK], scaleQ[16], minQ[16];
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        BlockQ2_K &b = blocks[i];
        quantKAffine<BlockQ2_K, 16, 16>(x, b, 3, 15, q, scaleQ, minQ);
        for (int s = 0; s < 16; ++s)
            b.scales[s] = static_cast<std::uint8_t>(scaleQ[s] | (minQ[s] << 4));
        std::memset(b.qs, 0, sizeof b.qs);
        for (int e = 0; e < int(kQkK); ++e) {
            const int n = e / 128, k = (e % 128) / 32, l = e % 32;
            b.qs[32 * n + l] |= static_cast<std::uint8_t>(q[e] << (2 * k));
        }
    }
}

// Q3_K: per sub-block of 16 a step amax/3 (quants -3..3 of -4..3, so nothing clips), as a
// 6-bit multiple of the super-block d rounded up.
void quantQ3_K(const float *x, BlockQ3_K *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        BlockQ3_K &b = blocks[i];
        float needed[16], maxNeeded = 0.0f;
        for (int s = 0; s < 16; ++s) {
            float amax = 0.0f;
            for (int l = 0; l < 16; ++l)
                amax = std::max(amax, std::fabs(x[16 * s + l]));
            needed[s] = amax / 3.0f;
            maxNeeded = std::max(maxNeeded, needed[s]);
        }
        b.d = fp16AtLeast(maxNeeded / 31.0f);
        const float d = fp16ToFloat(b.d);
        std::memset(b.hmask, 0, sizeof b.hmask);
        std::memset(b.qs, 0, sizeof b.qs);
        std::memset(b.scales, 0, sizeof b.scales);
        for (int s = 0; s < 16; ++s) {
            const int scale = d > 0.0f ? std::clamp(static_cast<int>(std::ceil(needed[s] / d)), 0, 31) : 0;
            // Stored + 32: low nibble in byte s % 8 (high nibble for s >= 8), top 2 bits in byte
            // 8 + s % 4 at bit 2 (s / 4) — unpackQ3Scales' layout.
            const int stored = scale + 32;
            b.scales[s % 8] |= static_cast<std::uint8_t>((stored & 0x0f) << (s < 8 ? 0 : 4));
            b.scales[8 + s % 4] |= static_cast<std::uint8_t>((stored >> 4) << (2 * (s / 4)));
            const float step = d * static_cast<float>(scale);
            const float inv = step > 0.0f ? 1.0f / step : 0.0f;
            for (int l = 0; l < 16; ++l) {
                const int e = 16 * s + l;
                const int v = std::clamp(roundToInt(x[e] * inv), -4, 3) + 4; // 0..7
                const int n = e / 128, k = (e % 128) / 32, m = e % 32;
                b.qs[32 * n + m] |= static_cast<std::uint8_t>((v & 3) << (2 * k));
                b.hmask[m] |= static_cast<std::uint8_t>((v >> 2) << (e / 32));
            }
        }
    }
}

// The index of the level of `table` (16 entries) nearest to v.
int nearestLevel(const std::int8_t *table, float v)
{
    int best = 0;
    float bestError = std::fabs(v - static_cast<float>(table[0]));
    for (int k = 1; k < 16; ++k)
        if (const float error = std::fabs(v - static_cast<float>(table[k])); error < bestError) {
            best = k;
            bestError = error;
        }
    return best;
}

// An IQ4 scale for n values: the extreme on the -127 level, or on the +113 level (then nothing
// clips), whichever leaves the smaller squared error.
float iq4Scale(const float *x, int n)
{
    float extreme = 0.0f;
    for (int j = 0; j < n; ++j)
        if (std::fabs(x[j]) > std::fabs(extreme))
            extreme = x[j];
    if (extreme == 0.0f)
        return 0.0f;
    float best = 0.0f, bestError = 0.0f;
    for (const float d : { extreme / -127.0f, extreme / 113.0f }) {
        float error = 0.0f;
        for (int j = 0; j < n; ++j) {
            const float e = x[j] - d * static_cast<float>(kIq4nlValues[nearestLevel(kIq4nlValues, x[j] / d)]);
            error += e * e;
        }
        if (best == 0.0f || error < bestError) {
            best = d;
            bestError = error;
        }
    }
    return best;
}

void packNibbles(const float *x, float d, const std::int8_t *table, std::uint8_t *qs)
{
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; ++j)
        qs[j] = static_cast<std::uint8_t>(nearestLevel(table, x[j] * id) | (nearestLevel(table, x[j + 16] * id) << 4));
}

void quantIQ4_NL(const float *x, BlockIQ4_NL *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        blocks[i].d = floatToFp16(iq4Scale(x, kQk));
        packNibbles(x, fp16ToFloat(blocks[i].d), kIq4nlValues, blocks[i].qs);
    }
}

// IQ4_XS: each sub-block's IQ4 scale as a 6-bit signed multiple of d = max |scale| / 31, rounded
// away from zero so the sub-block's range does not shrink.
void quantIQ4_XS(const float *x, BlockIQ4_XS *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        BlockIQ4_XS &b = blocks[i];
        float scales[8], maxScale = 0.0f;
        for (int s = 0; s < 8; ++s) {
            scales[s] = iq4Scale(x + 32 * s, 32);
            maxScale = std::max(maxScale, std::fabs(scales[s]));
        }
        b.d = fp16AtLeast(maxScale / 31.0f);
        const float d = fp16ToFloat(b.d);
        b.scalesH = 0;
        std::memset(b.scalesL, 0, sizeof b.scalesL);
        for (int s = 0; s < 8; ++s) {
            const float ratio = d > 0.0f ? scales[s] / d : 0.0f;
            const int ls = std::clamp(static_cast<int>(ratio < 0 ? std::floor(ratio) : std::ceil(ratio)), -32, 31);
            const int stored = ls + 32;
            b.scalesL[s / 2] |= static_cast<std::uint8_t>((stored & 0x0f) << (4 * (s % 2)));
            b.scalesH = static_cast<std::uint16_t>(b.scalesH | ((stored >> 4) << (2 * s)));
            packNibbles(x + 32 * s, d * static_cast<float>(ls), kIq4nlValues, b.qs + 16 * s);
        }
    }
}

// MXFP4: the smallest power-of-two scale with amax <= 6 * scale (nothing clips), each value on
// its nearest e2m1 level.
void quantMXFP4(const float *x, BlockMXFP4 *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQk) {
        float amax = 0.0f;
        for (std::size_t j = 0; j < kQk; ++j)
            amax = std::max(amax, std::fabs(x[j]));
        // e8m0Half(e) * 12 = 2^(e - 127) * 6 must reach amax: e = ceil(log2(amax / 6)) + 127,
        // from frexp (amax / 6 = m 2^k, m in [0.5, 1)), then nudged up past any rounding.
        int k = 0;
        const float m = std::frexp(amax / 6.0f, &k);
        int e = amax > 0.0f ? std::clamp(k - (m == 0.5f ? 1 : 0) + 127, 0, 254) : 0;
        while (e < 254 && e8m0Half(static_cast<std::uint8_t>(e)) * 12.0f < amax)
            ++e;
        blocks[i].e = static_cast<std::uint8_t>(e);
        packNibbles(x, e8m0Half(blocks[i].e), kMxfp4Values, blocks[i].qs);
    }
}

void quantQ8_K(const float *x, BlockQ8_K *blocks, std::size_t nBlocks)
{
    for (std::size_t i = 0; i < nBlocks; ++i, x += kQkK) {
        float amax = 0.0f;
        for (std::size_t j = 0; j < kQkK; ++j)
            amax = std::max(amax, std::fabs(x[j]));
        blocks[i].d = amax / 127.0f;
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (std::size_t j = 0; j < kQkK; ++j)
            blocks[i].qs[j] = static_cast<std::int8_t>(std::clamp(roundToInt(x[j] * id), -127, 127));
        for (std::size_t s = 0; s < kQkK / 16; ++s) {
            int sum = 0;
            for (std::size_t l = 0; l < 16; ++l)
                sum += blocks[i].qs[16 * s + l];
            blocks[i].bsums[s] = static_cast<std::int16_t>(sum);
        }
    }
}

std::size_t blockCount(TensorType type, std::size_t n)
{
    const auto &traits = tensorTypeTraits(type);
    NW_ASSERT(n % traits.blockElements == 0);
    return n / traits.blockElements;
}

} // namespace

bool canDequantize(TensorType type)
{
    switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::IQ4_NL:
    case TensorType::IQ4_XS:
    case TensorType::MXFP4:
    case TensorType::IQ2_XXS:
    case TensorType::IQ2_XS:
    case TensorType::IQ2_S:
    case TensorType::IQ3_XXS:
    case TensorType::IQ3_S:
        return true;
    default:
        return false;
    }
}

bool canQuantize(TensorType type)
{
    switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::IQ4_NL:
    case TensorType::IQ4_XS:
    case TensorType::MXFP4:
        return true;
    default:
        return false; // the IQ2/IQ3 grid types: their encoders search the grids, not needed here
    }
}

void dequantizeRow(TensorType type, const void *src, float *dst, std::size_t n)
{
    const std::size_t nb = blockCount(type, n);
    switch (type) {
    case TensorType::F32:
        std::memcpy(dst, src, n * sizeof(float));
        return;
    case TensorType::F16:
        fp16ToFloatRow(static_cast<const f16_t *>(src), dst, n);
        return;
    case TensorType::BF16:
        bf16ToFloatRow(static_cast<const bf16_t *>(src), dst, n);
        return;
    case TensorType::Q4_0:
        dequantQ4_0(static_cast<const BlockQ4_0 *>(src), dst, nb);
        return;
    case TensorType::Q4_1:
        dequantQ4_1(static_cast<const BlockQ4_1 *>(src), dst, nb);
        return;
    case TensorType::Q5_0:
        dequantQ5_0(static_cast<const BlockQ5_0 *>(src), dst, nb);
        return;
    case TensorType::Q5_1:
        dequantQ5_1(static_cast<const BlockQ5_1 *>(src), dst, nb);
        return;
    case TensorType::Q8_0:
        dequantQ8(static_cast<const BlockQ8_0 *>(src), dst, nb);
        return;
    case TensorType::Q8_1:
        dequantQ8(static_cast<const BlockQ8_1 *>(src), dst, nb);
        return;
    case TensorType::Q4_K:
        dequantQ4_K(static_cast<const BlockQ4_K *>(src), dst, nb);
        return;
    case TensorType::Q5_K:
        dequantQ5_K(static_cast<const BlockQ5_K *>(src), dst, nb);
        return;
    case TensorType::Q6_K:
        dequantQ6_K(static_cast<const BlockQ6_K *>(src), dst, nb);
        return;
    case TensorType::Q8_K:
        dequantQ8_K(static_cast<const BlockQ8_K *>(src), dst, nb);
        return;
    case TensorType::Q2_K:
        dequantQ2_K(static_cast<const BlockQ2_K *>(src), dst, nb);
        return;
    case TensorType::Q3_K:
        dequantQ3_K(static_cast<const BlockQ3_K *>(src), dst, nb);
        return;
    case TensorType::IQ4_NL:
        dequantIQ4_NL(static_cast<const BlockIQ4_NL *>(src), dst, nb);
        return;
    case TensorType::IQ4_XS:
        dequantIQ4_XS(static_cast<const BlockIQ4_XS *>(src), dst, nb);
        return;
    case TensorType::MXFP4:
        dequantMXFP4(static_cast<const BlockMXFP4 *>(src), dst, nb);
        return;
    case TensorType::IQ2_XXS:
        dequantIQ2_XXS(static_cast<const BlockIQ2_XXS *>(src), dst, nb);
        return;
    case TensorType::IQ2_XS:
        dequantIQ2_XS(static_cast<const BlockIQ2_XS *>(src), dst, nb);
        return;
    case TensorType::IQ2_S:
        dequantIQ2_S(static_cast<const BlockIQ2_S *>(src), dst, nb);
        return;
    case TensorType::IQ3_XXS:
        dequantIQ3_XXS(static_cast<const BlockIQ3_XXS *>(src), dst, nb);
        return;
    case TensorType::IQ3_S:
        dequantIQ3_S(static_cast<const BlockIQ3_S *>(src), dst, nb);
        return;
    default:
        break;
    }
    // A file may hold a type we know by name but cannot compute with (IQ1_S, TQ1_0, ...).
    fail("dequantizeRow: tensor type {} is not supported", tensorTypeName(type));
}

std::size_t quantizeRow(TensorType type, const float *src, void *dst, std::size_t n)
{
    const std::size_t nb = blockCount(type, n);
    switch (type) {
    case TensorType::F32:
        std::memcpy(dst, src, n * sizeof(float));
        break;
    case TensorType::F16:
        floatToFp16Row(src, static_cast<f16_t *>(dst), n);
        break;
    case TensorType::BF16:
        floatToBf16Row(src, static_cast<bf16_t *>(dst), n);
        break;
    case TensorType::Q4_0:
        quantQ4_0(src, static_cast<BlockQ4_0 *>(dst), nb);
        break;
    case TensorType::Q4_1:
        quantQ4_1(src, static_cast<BlockQ4_1 *>(dst), nb);
        break;
    case TensorType::Q5_0:
        quantQ5_0(src, static_cast<BlockQ5_0 *>(dst), nb);
        break;
    case TensorType::Q5_1:
        quantQ5_1(src, static_cast<BlockQ5_1 *>(dst), nb);
        break;
    case TensorType::Q8_0:
        quantQ8(src, static_cast<BlockQ8_0 *>(dst), nb);
        break;
    case TensorType::Q8_1:
        quantQ8(src, static_cast<BlockQ8_1 *>(dst), nb);
        break;
    case TensorType::Q4_K:
        quantQ4_K(src, static_cast<BlockQ4_K *>(dst), nb);
        break;
    case TensorType::Q5_K:
        quantQ5_K(src, static_cast<BlockQ5_K *>(dst), nb);
        break;
    case TensorType::Q6_K:
        quantQ6_K(src, static_cast<BlockQ6_K *>(dst), nb);
        break;
    case TensorType::Q8_K:
        quantQ8_K(src, static_cast<BlockQ8_K *>(dst), nb);
        break;
    case TensorType::Q2_K:
        quantQ2_K(src, static_cast<BlockQ2_K *>(dst), nb);
        break;
    case TensorType::Q3_K:
        quantQ3_K(src, static_cast<BlockQ3_K *>(dst), nb);
        break;
    case TensorType::IQ4_NL:
        quantIQ4_NL(src, static_cast<BlockIQ4_NL *>(dst), nb);
        break;
    case TensorType::IQ4_XS:
        quantIQ4_XS(src, static_cast<BlockIQ4_XS *>(dst), nb);
        break;
    case TensorType::MXFP4:
        quantMXFP4(src, static_cast<BlockMXFP4 *>(dst), nb);
        break;
    default:
        fail("quantizeRow: tensor type {} is not supported", tensorTypeName(type));
    }
    return rowBytes(type, n);
}

} // namespace nw
