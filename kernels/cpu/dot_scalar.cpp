// Portable dot products and activation quantizers (the fallback and the SIMD kernels' yardstick),
// and the per-type kernel table. Block layouts as in kernels/tensor_type.h (ggml-common.h).
#include "kernels/cpu/dot_products.h"

#include "common/assert.h"
#include "kernels/cpu/dot_scalar.h"
#include "kernels/cpu/iq_grids.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

namespace nw::cpu {
namespace {

template <typename Block> const Block *blocks(const std::byte *p)
{
    return reinterpret_cast<const Block *>(p);
}

float absMax(const float *x, std::int64_t n)
{
    float amax = 0.f;
    for (std::int64_t i = 0; i < n; ++i)
        amax = std::max(amax, std::fabs(x[i]));
    return amax;
}

// ---- weight-side dot products -------------------------------------------------------------

float dotF32(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const float *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols; ++i)
        sum += a[i] * b[i];
    return sum;
}

float dotF16(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const f16_t *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols; ++i)
        sum += fp16ToFloat(a[i]) * b[i];
    return sum;
}

float dotBF16(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const bf16_t *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols; ++i)
        sum += bf16ToFloat(a[i]) * b[i];
    return sum;
}

float dotQ8_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ8_0>(w);
    const auto *xb = blocks<BlockQ8_0>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk; ++j)
            sumi += wb[i].qs[j] * xb[i].qs[j];
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

float dotQ4_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ4_0>(w);
    const auto *xb = blocks<BlockQ8_0>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            sumi += ((wb[i].qs[j] & 0x0f) - 8) * xb[i].qs[j];
            sumi += ((wb[i].qs[j] >> 4) - 8) * xb[i].qs[j + kQk / 2];
        }
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

// Q4_1 · Q8_1: sum (d q + m) (dx qx) = d dx sum(q qx) + m (dx sum qx), the last factor is s.
float dotQ4_1(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ4_1>(w);
    const auto *xb = blocks<BlockQ8_1>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            sumi += (wb[i].qs[j] & 0x0f) * xb[i].qs[j];
            sumi += (wb[i].qs[j] >> 4) * xb[i].qs[j + kQk / 2];
        }
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi)
            + fp16ToFloat(wb[i].m) * fp16ToFloat(xb[i].s);
    }
    return sum;
}

// Element j's fifth bit is bit j of qh (low nibbles are elements 0..15, high ones 16..31).
template <typename Block> int q5Value(const Block &b, std::size_t j)
{
    std::uint32_t qh;
    std::memcpy(&qh, b.qh, sizeof qh);
    const int nibble = j < kQk / 2 ? (b.qs[j] & 0x0f) : (b.qs[j - kQk / 2] >> 4);
    return nibble | static_cast<int>(((qh >> j) & 1u) << 4);
}

float dotQ5_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ5_0>(w);
    const auto *xb = blocks<BlockQ8_0>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk; ++j)
            sumi += (q5Value(wb[i], j) - 16) * xb[i].qs[j];
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

float dotQ5_1(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ5_1>(w);
    const auto *xb = blocks<BlockQ8_1>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk; ++j)
            sumi += q5Value(wb[i], j) * xb[i].qs[j];
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi)
            + fp16ToFloat(wb[i].m) * fp16ToFloat(xb[i].s);
    }
    return sum;
}

// Q4_K / Q5_K: per sub-block of 32, x = d * sc * q - dmin * m.
float dotQ4_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ4_K>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        std::uint8_t sc[8], mn[8];
        unpackKScales(wb[i].scales, sc, mn);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 4; ++j) {
            const std::uint8_t *q = wb[i].qs + 32 * j;
            const std::int8_t *y = xb[i].qs + 64 * j;
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += (q[l] & 0x0f) * y[l];
                hi += (q[l] >> 4) * y[l + 32];
            }
            sumi += sc[2 * j] * lo + sc[2 * j + 1] * hi;
        }
        for (int j = 0; j < 8; ++j)
            summ += mn[j] * (xb[i].bsums[2 * j] + xb[i].bsums[2 * j + 1]);
        sum += xb[i].d
            * (fp16ToFloat(wb[i].d) * static_cast<float>(sumi) - fp16ToFloat(wb[i].dmin) * static_cast<float>(summ));
    }
    return sum;
}

float dotQ5_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ5_K>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        std::uint8_t sc[8], mn[8];
        unpackKScales(wb[i].scales, sc, mn);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 4; ++j) {
            const std::uint8_t *q = wb[i].qs + 32 * j;
            const std::int8_t *y = xb[i].qs + 64 * j;
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                const int hbLo = (wb[i].qh[l] >> (2 * j)) & 1;
                const int hbHi = (wb[i].qh[l] >> (2 * j + 1)) & 1;
                lo += ((q[l] & 0x0f) | (hbLo << 4)) * y[l];
                hi += ((q[l] >> 4) | (hbHi << 4)) * y[l + 32];
            }
            sumi += sc[2 * j] * lo + sc[2 * j + 1] * hi;
        }
        for (int j = 0; j < 8; ++j)
            summ += mn[j] * (xb[i].bsums[2 * j] + xb[i].bsums[2 * j + 1]);
        sum += xb[i].d
            * (fp16ToFloat(wb[i].d) * static_cast<float>(sumi) - fp16ToFloat(wb[i].dmin) * static_cast<float>(summ));
    }
    return sum;
}

// Q6_K: per 128 elements, 64 bytes of low nibbles, 32 bytes of 2-bit highs, 8 int8 scales of 16.
float dotQ6_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ6_K>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        int sumi = 0;
        for (int half = 0; half < 2; ++half) {
            const std::uint8_t *ql = wb[i].ql + 64 * half;
            const std::uint8_t *qh = wb[i].qh + 32 * half;
            const std::int8_t *sc = wb[i].scales + 8 * half;
            const std::int8_t *y = xb[i].qs + 128 * half;
            int part[8] = {};
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                part[is + 0] += q1 * y[l];
                part[is + 2] += q2 * y[l + 32];
                part[is + 4] += q3 * y[l + 64];
                part[is + 6] += q4 * y[l + 96];
            }
            for (int k = 0; k < 8; ++k)
                sumi += sc[k] * part[k];
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

// Q2_K: x = d * sc * q - dmin * m per sub-block of 16; the mins go through the Q8_K per-16 sums.
float dotQ2_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ2_K>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 16; ++j) {
            const int n = j / 8, k = (j % 8) / 2, l0 = 16 * (j % 2);
            const std::uint8_t *q = wb[i].qs + 32 * n + l0;
            const std::int8_t *y = xb[i].qs + 16 * j;
            int part = 0;
            for (int l = 0; l < 16; ++l)
                part += ((q[l] >> (2 * k)) & 3) * y[l];
            sumi += (wb[i].scales[j] & 0x0f) * part;
            summ += (wb[i].scales[j] >> 4) * xb[i].bsums[j];
        }
        sum += xb[i].d
            * (fp16ToFloat(wb[i].d) * static_cast<float>(sumi) - fp16ToFloat(wb[i].dmin) * static_cast<float>(summ));
    }
    return sum;
}

// Q3_K: x = d * sc * q, q = the 2 low bits (Q2_K's layout) - 4 where the hmask bit is clear.
float dotQ3_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockQ3_K>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        std::int8_t sc[16];
        unpackQ3Scales(wb[i].scales, sc);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            const int n = j / 8, k = (j % 8) / 2, l0 = 16 * (j % 2);
            const int bit = 4 * n + k; // element 32 * bit + l's high bit is bit `bit` of hmask[l]
            int part = 0;
            for (int l = l0; l < l0 + 16; ++l) {
                const int q = ((wb[i].qs[32 * n + l] >> (2 * k)) & 3) - (((wb[i].hmask[l] >> bit) & 1) ? 0 : 4);
                part += q * xb[i].qs[128 * n + 32 * k + l];
            }
            sumi += sc[j] * part;
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

// IQ4_NL · Q8_0: the nibbles index kIq4nlValues.
float dotIQ4_NL(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ4_NL>(w);
    const auto *xb = blocks<BlockQ8_0>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            sumi += kIq4nlValues[wb[i].qs[j] & 0x0f] * xb[i].qs[j];
            sumi += kIq4nlValues[wb[i].qs[j] >> 4] * xb[i].qs[j + kQk / 2];
        }
        sum += fp16ToFloat(wb[i].d) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

float dotIQ4_XS(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ4_XS>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        int sumi = 0;
        for (int s = 0; s < 8; ++s) {
            const std::uint8_t *q = wb[i].qs + 16 * s;
            const std::int8_t *y = xb[i].qs + 32 * s;
            int part = 0;
            for (int j = 0; j < 16; ++j)
                part += kIq4nlValues[q[j] & 0x0f] * y[j] + kIq4nlValues[q[j] >> 4] * y[j + 16];
            sumi += iq4xsScale(wb[i], s) * part;
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

// MXFP4 · Q8_0: the doubled e2m1 integers times half the E8M0 scale.
float dotMXFP4(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockMXFP4>(w);
    const auto *xb = blocks<BlockQ8_0>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        int sumi = 0;
        for (std::size_t j = 0; j < kQk / 2; ++j) {
            sumi += kMxfp4Values[wb[i].qs[j] & 0x0f] * xb[i].qs[j];
            sumi += kMxfp4Values[wb[i].qs[j] >> 4] * xb[i].qs[j + kQk / 2];
        }
        sum += e8m0Half(wb[i].e) * fp16ToFloat(xb[i].d) * static_cast<float>(sumi);
    }
    return sum;
}

// ---- IQ2/IQ3 grid types · Q8_K: integer sums of grid magnitude x sign x activation per scale
// group, times the odd scale multiplier 2 s + 1; the constant factor (1/8 for IQ2, 1/4 for
// IQ3_XXS) is applied once per block.

std::uint32_t loadU32(const void *p)
{
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Σ_j grid byte j x ±y[j] over the 8 (or `n`) values of one grid entry.
int gridDot(std::uint64_t entry, std::uint8_t signs, const std::int8_t *y, int n = 8)
{
    int sum = 0;
    for (int j = 0; j < n; ++j) {
        const int v = static_cast<int>((entry >> (8 * j)) & 0xff) * y[j];
        sum += (signs >> j) & 1 ? -v : v;
    }
    return sum;
}

float dotIQ2_XXS(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ2_XXS>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const std::int8_t *y = xb[i].qs;
        int sumi = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const std::uint32_t indices = loadU32(wb[i].qs + 4 * ib);
            const std::uint32_t meta = loadU32(wb[i].qs + 4 * ib + 2);
            int part = 0;
            for (int l = 0; l < 4; ++l, y += 8)
                part += gridDot(kIq2xxsGrid[(indices >> (8 * l)) & 0xff], iqSigns(meta >> (7 * l)), y);
            sumi += (2 * static_cast<int>(meta >> 28) + 1) * part;
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi) * 0.125f;
    }
    return sum;
}

float dotIQ2_XS(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ2_XS>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const std::int8_t *y = xb[i].qs;
        int sumi = 0;
        for (int h = 0; h < 16; ++h) { // scale groups of 16 values: two grid entries each
            int part = 0;
            for (int l = 0; l < 2; ++l, y += 8) {
                const std::uint16_t q = wb[i].qs[2 * h + l];
                part += gridDot(kIq2xsGrid[q & 511], iqSigns(q >> 9), y);
            }
            sumi += (2 * ((wb[i].scales[h / 2] >> (4 * (h % 2))) & 0x0f) + 1) * part;
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi) * 0.125f;
    }
    return sum;
}

float dotIQ2_S(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ2_S>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const BlockIQ2_S &b = wb[i];
        const std::uint8_t *signs = b.qs + kQkK / 8;
        const std::int8_t *y = xb[i].qs;
        int sumi = 0;
        for (int h = 0; h < 16; ++h) {
            int part = 0;
            for (int l = 0; l < 2; ++l, y += 8) {
                const int g = 2 * h + l;
                const int index = b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
                part += gridDot(kIq2sGrid[index], signs[g], y);
            }
            sumi += (2 * ((b.scales[h / 2] >> (4 * (h % 2))) & 0x0f) + 1) * part;
        }
        sum += xb[i].d * fp16ToFloat(b.d) * static_cast<float>(sumi) * 0.125f;
    }
    return sum;
}

float dotIQ3_XXS(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ3_XXS>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const std::uint8_t *qs = wb[i].qs;
        const std::int8_t *y = xb[i].qs;
        int sumi = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const std::uint32_t meta = loadU32(qs + kQkK / 4 + 4 * ib);
            int part = 0;
            for (int l = 0; l < 4; ++l, y += 8) {
                const std::uint8_t signs = iqSigns(meta >> (7 * l));
                part += gridDot(kIq3xxsGrid[qs[8 * ib + 2 * l]], signs, y, 4);
                part += gridDot(kIq3xxsGrid[qs[8 * ib + 2 * l + 1]], static_cast<std::uint8_t>(signs >> 4), y + 4, 4);
            }
            sumi += (2 * static_cast<int>(meta >> 28) + 1) * part;
        }
        sum += xb[i].d * fp16ToFloat(wb[i].d) * static_cast<float>(sumi) * 0.25f;
    }
    return sum;
}

float dotIQ3_S(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = blocks<BlockIQ3_S>(w);
    const auto *xb = blocks<BlockQ8_K>(x);
    float sum = 0.f;
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const BlockIQ3_S &b = wb[i];
        const std::int8_t *y = xb[i].qs;
        int sumi = 0;
        for (int ib = 0; ib < 8; ++ib) {
            int part = 0;
            for (int l = 0; l < 4; ++l, y += 8) {
                const int g = 4 * ib + l;
                for (int half = 0; half < 2; ++half) {
                    const int k = 2 * g + half;
                    const int index = b.qs[k] | (((b.qh[ib] >> (k % 8)) & 1) << 8);
                    part += gridDot(
                        kIq3sGrid[index], static_cast<std::uint8_t>(b.signs[g] >> (4 * half)), y + 4 * half, 4);
                }
            }
            sumi += (2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 0x0f) + 1) * part;
        }
        sum += xb[i].d * fp16ToFloat(b.d) * static_cast<float>(sumi);
    }
    return sum;
}

// ---- activation quantizers ----------------------------------------------------------------

void quantizeQ8_0(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_0 *>(out);
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        const float *xi = x + i * std::int64_t(kQk);
        // The scale is stored as f16 but the values are quantized with the unrounded 127 / amax,
        // as ggml's quantize_row_q8_0 does: the integer products are then the ones llama.cpp
        // computes, and a quantized model's logits follow it (tests/engine/tst_fidelity.cpp).
        const float amax = absMax(xi, kQk);
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        ob[i].d = floatToFp16(amax / 127.f);
        for (std::size_t j = 0; j < kQk; ++j)
            ob[i].qs[j] = static_cast<std::int8_t>(std::clamp(std::nearbyint(xi[j] * id), -127.f, 127.f));
    }
}

void quantizeQ8_1(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_1 *>(out);
    for (std::int64_t i = 0; i < cols / std::int64_t(kQk); ++i) {
        const float *xi = x + i * std::int64_t(kQk);
        const float amax = absMax(xi, kQk), d = amax / 127.f; // as quantizeQ8_0 (ggml's quantize_row_q8_1)
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        int sumq = 0;
        for (std::size_t j = 0; j < kQk; ++j) {
            const auto q = static_cast<std::int8_t>(std::clamp(std::nearbyint(xi[j] * id), -127.f, 127.f));
            ob[i].qs[j] = q;
            sumq += q;
        }
        ob[i].d = floatToFp16(d);
        ob[i].s = floatToFp16(d * static_cast<float>(sumq));
    }
}

void quantizeQ8_K(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_K *>(out);
    for (std::int64_t i = 0; i < cols / std::int64_t(kQkK); ++i) {
        const float *xi = x + i * std::int64_t(kQkK);
        // ggml's quantize_row_q8_K_ref: quantized with 127 / amax, the scale stored as its inverse
        // (not amax / 127, which can differ in the last bit), so the products are llama.cpp's.
        const float amax = absMax(xi, kQkK);
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        ob[i].d = amax != 0.f ? 1.f / id : 0.f;
        for (std::size_t g = 0; g < kQkK / 16; ++g) {
            int bsum = 0;
            for (std::size_t j = 16 * g; j < 16 * g + 16; ++j) {
                const auto q = static_cast<std::int8_t>(std::clamp(std::nearbyint(xi[j] * id), -127.f, 127.f));
                ob[i].qs[j] = q;
                bsum += q;
            }
            ob[i].bsums[g] = static_cast<std::int16_t>(bsum);
        }
    }
}

const DotKernel kScalar[] = {
    { ActivationFormat::F32, dotF32, nullptr, nullptr, "scalar" },
    { ActivationFormat::F32, dotF16, nullptr, nullptr, "scalar" },
    { ActivationFormat::F32, dotBF16, nullptr, nullptr, "scalar" },
    { ActivationFormat::Q8_0, dotQ8_0, quantizeQ8_0, nullptr, "scalar" },
    { ActivationFormat::Q8_0, dotQ4_0, quantizeQ8_0, nullptr, "scalar" },
    { ActivationFormat::Q8_1, dotQ4_1, quantizeQ8_1, nullptr, "scalar" },
    { ActivationFormat::Q8_0, dotQ5_0, quantizeQ8_0, nullptr, "scalar" },
    { ActivationFormat::Q8_1, dotQ5_1, quantizeQ8_1, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotQ4_K, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotQ5_K, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotQ6_K, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotQ2_K, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotQ3_K, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_0, dotIQ4_NL, quantizeQ8_0, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ4_XS, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_0, dotMXFP4, quantizeQ8_0, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ2_XXS, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ2_XS, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ2_S, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ3_XXS, quantizeQ8_K, nullptr, "scalar" },
    { ActivationFormat::Q8_K, dotIQ3_S, quantizeQ8_K, nullptr, "scalar" },
};
static_assert(std::size(kScalar) == kKernelTypes);

} // namespace

void unpackKScales(const std::uint8_t *packed, std::uint8_t *scales, std::uint8_t *mins)
{
    // Sub-blocks 0..3 keep 6 bits in the low bits of bytes 0..3 (scales) and 4..7 (mins);
    // 4..7 put their low 4 bits in bytes 8..11 (scale low nibble, min high nibble) and their top
    // 2 bits in the spare top bits of bytes 0..3 (scales) and 4..7 (mins). Four sub-blocks at a
    // time as 32-bit words:
    std::uint32_t a, b, c;
    std::memcpy(&a, packed, 4);
    std::memcpy(&b, packed + 4, 4);
    std::memcpy(&c, packed + 8, 4);
    const std::uint32_t scalesLow = a & 0x3f3f3f3fu;
    const std::uint32_t minsLow = b & 0x3f3f3f3fu;
    const std::uint32_t scalesHigh = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
    const std::uint32_t minsHigh = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
    std::memcpy(scales, &scalesLow, 4);
    std::memcpy(scales + 4, &scalesHigh, 4);
    std::memcpy(mins, &minsLow, 4);
    std::memcpy(mins + 4, &minsHigh, 4);
}

std::size_t activationRowBytes(ActivationFormat format, std::int64_t cols)
{
    const auto n = static_cast<std::size_t>(cols);
    switch (format) {
    case ActivationFormat::F32:
        return n * sizeof(float);
    case ActivationFormat::Q8_0:
        return n / kQk * sizeof(BlockQ8_0);
    case ActivationFormat::Q8_1:
        return n / kQk * sizeof(BlockQ8_1);
    case ActivationFormat::Q8_K:
        return n / kQkK * sizeof(BlockQ8_K);
    }
    NW_ASSERT(!"unknown ActivationFormat");
    return 0;
}

int kernelIndex(TensorType type)
{
    switch (type) {
    case TensorType::F32:
        return 0;
    case TensorType::F16:
        return 1;
    case TensorType::BF16:
        return 2;
    case TensorType::Q8_0:
        return 3;
    case TensorType::Q4_0:
        return 4;
    case TensorType::Q4_1:
        return 5;
    case TensorType::Q5_0:
        return 6;
    case TensorType::Q5_1:
        return 7;
    case TensorType::Q4_K:
        return 8;
    case TensorType::Q5_K:
        return 9;
    case TensorType::Q6_K:
        return 10;
    case TensorType::Q2_K:
        return 11;
    case TensorType::Q3_K:
        return 12;
    case TensorType::IQ4_NL:
        return 13;
    case TensorType::IQ4_XS:
        return 14;
    case TensorType::MXFP4:
        return 15;
    case TensorType::IQ2_XXS:
        return 16;
    case TensorType::IQ2_XS:
        return 17;
    case TensorType::IQ2_S:
        return 18;
    case TensorType::IQ3_XXS:
        return 19;
    case TensorType::IQ3_S:
        return 20;
    default:
        return -1;
    }
}

bool matmulSupports(TensorType type)
{
    return kernelIndex(type) >= 0;
}

const DotKernel &scalarDotKernel(TensorType type)
{
    const int index = kernelIndex(type);
    NW_ASSERT(index >= 0);
    return kScalar[index];
}

const DotKernel &dotKernel(TensorType type)
{
    if (const DotKernel *simd = avx2DotKernel(type))
        return *simd;
    return scalarDotKernel(type);
}

} // namespace nw::cpu
