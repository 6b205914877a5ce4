// RoPE as ggml computes it, with angles evaluated in double (ggml accumulates theta by repeated
// float multiplication; doing it directly is at least as accurate and costs nDims/2 sin/cos per
// token, shared by all heads).
#include "kernels/cpu/rope.h"

#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace nw::cpu {
namespace {

// The pair index whose wavelength fits nRot times into the original context
// (YaRN paper, arXiv:2309.00071 §3.2; ggml_rope_yarn_corr_dim).
double corrDim(int nDims, int nCtxOrig, double nRot, double base)
{
    return nDims * std::log(nCtxOrig / (nRot * 2 * std::numbers::pi)) / (2 * std::log(base));
}

} // namespace

void ropeYarnCorrDims(const RopeParams &p, float dims[2])
{
    const double start = std::floor(corrDim(p.nDims, p.nCtxOrig, p.betaFast, p.freqBase));
    const double end = std::ceil(corrDim(p.nDims, p.nCtxOrig, p.betaSlow, p.freqBase));
    dims[0] = static_cast<float>(std::max(0.0, start));
    dims[1] = static_cast<float>(std::min(double(p.nDims - 1), end));
}

void ropeCosSin(const RopeParams &p, std::int32_t pos, float *cosSin)
{
    float corr[2] = {0.f, 0.f};
    if (p.extFactor != 0.f)
        ropeYarnCorrDims(p, corr);
    double mscale = p.attnFactor;
    if (p.extFactor != 0.f) // YaRN's attention temperature, sqrt(1/t) = 0.1 ln(s) + 1
        mscale *= 1.0 + 0.1 * std::log(1.0 / p.freqScale);
    for (int i0 = 0; i0 < p.nDims; i0 += 2) {
        double thetaExtrap = pos * std::pow(double(p.freqBase), -double(i0) / p.nDims);
        if (p.freqFactors)
            thetaExtrap /= p.freqFactors[i0 / 2];
        const double thetaInterp = p.freqScale * thetaExtrap;
        double theta = thetaInterp;
        if (p.extFactor != 0.f) {
            // Ramp from 1 (pure extrapolation, high frequencies) to 0 (interpolation) across
            // the correction range; ggml uses integer division i0 / 2 here.
            const double y = (i0 / 2 - corr[0]) / std::max(0.001, double(corr[1]) - corr[0]);
            const double rampMix = (1.0 - std::min(1.0, std::max(0.0, y))) * p.extFactor;
            theta = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
        }
        cosSin[i0] = static_cast<float>(std::cos(theta) * mscale);
        cosSin[i0 + 1] = static_cast<float>(std::sin(theta) * mscale);
    }
}

void rope(ThreadPool &pool, float *x, int nTokens, int nHeads, int headStride, int offset,
          const std::int32_t *positions, const RopeParams &p)
{
    if (p.nDims <= 0 || p.nDims % 2 != 0 || offset < 0 || offset + p.nDims > headStride)
        fail("rope: {} rotated dims at offset {} do not fit a head of {} (must be even and inside)",
             p.nDims, offset, headStride);
    if (p.extFactor != 0.f && p.nCtxOrig <= 0)
        fail("rope: YaRN (ext factor {}) needs the original context length", p.extFactor);
    if (nTokens <= 0 || nHeads <= 0)
        return;
    const int half = p.nDims / 2;
    const auto rotateToken = [&](std::int64_t t, std::vector<float> &cosSin) {
        ropeCosSin(p, positions[t], cosSin.data());
        for (int h = 0; h < nHeads; ++h) {
            float *head = x + (t * nHeads + h) * std::int64_t(headStride) + offset;
            for (int i = 0; i < half; ++i) {
                const float c = cosSin[2 * i], s = cosSin[2 * i + 1];
                // Adjacent pairs (x[2i], x[2i+1]) or neox halves (x[i], x[i + nDims/2]).
                float &a = p.neox ? head[i] : head[2 * i];
                float &b = p.neox ? head[i + half] : head[2 * i + 1];
                const float x0 = a, x1 = b;
                a = x0 * c - x1 * s;
                b = x0 * s + x1 * c;
            }
        }
    };
    if (nTokens == 1) {
        std::vector<float> cosSin(static_cast<std::size_t>(p.nDims));
        rotateToken(0, cosSin);
        return;
    }
    pool.parallelFor(nTokens, 1, [&](std::int64_t t0, std::int64_t t1) {
        std::vector<float> cosSin(static_cast<std::size_t>(p.nDims));
        for (std::int64_t t = t0; t < t1; ++t)
            rotateToken(t, cosSin);
    });
}

} // namespace nw::cpu
