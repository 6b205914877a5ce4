// RoPE kernel: one block per token computes the token's cos/sin pairs once (in double, like the
// CPU backend) into shared memory, then rotates every head.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/rope.cuh"

#include "kernels/cpu/rope.h"

#include <cmath>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

struct RopeConsts {
    int nDims;
    bool neox;
    double freqBase, freqScale, extFactor, mscale;
    float corr0, corr1;
    const float *freqFactors;
};

__global__ void ropeKernel(float *x, int nHeads, int headStride, int offset,
                           const std::int32_t *positions, RopeConsts c)
{
    extern __shared__ float cosSin[]; // [nDims]: (cos, sin) per pair
    const int t = blockIdx.x;
    const double pos = positions[t];
    for (int i0 = 2 * threadIdx.x; i0 < c.nDims; i0 += 2 * kThreads) {
        double thetaExtrap = pos * pow(c.freqBase, -double(i0) / c.nDims);
        if (c.freqFactors != nullptr)
            thetaExtrap /= c.freqFactors[i0 / 2];
        const double thetaInterp = c.freqScale * thetaExtrap;
        double theta = thetaInterp;
        if (c.extFactor != 0.0) { // YaRN ramp; ggml's integer i0 / 2
            const double y = (i0 / 2 - c.corr0) / fmax(0.001, double(c.corr1) - c.corr0);
            const double rampMix = (1.0 - fmin(1.0, fmax(0.0, y))) * c.extFactor;
            theta = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
        }
        cosSin[i0] = float(cos(theta) * c.mscale);
        cosSin[i0 + 1] = float(sin(theta) * c.mscale);
    }
    __syncthreads();
    const int half = c.nDims / 2;
    for (int i = threadIdx.x; i < nHeads * half; i += kThreads) {
        const int h = i / half, pair = i % half;
        float *head = x + (std::size_t(t) * nHeads + h) * headStride + offset;
        float &a = c.neox ? head[pair] : head[2 * pair];
        float &b = c.neox ? head[pair + half] : head[2 * pair + 1];
        const float cs = cosSin[2 * pair], sn = cosSin[2 * pair + 1];
        const float x0 = a, x1 = b;
        a = x0 * cs - x1 * sn;
        b = x0 * sn + x1 * cs;
    }
}

} // namespace

void rope(float *x, int nTokens, int nHeads, int headStride, int offset,
          const std::int32_t *positions, const RopeParams &p, cudaStream_t stream)
{
    if (p.nDims <= 0 || p.nDims % 2 != 0 || offset < 0 || offset + p.nDims > headStride)
        nw::fail("cuda::rope: {} rotated dims at offset {} do not fit a head of {} (must be even and inside)",
                 p.nDims, offset, headStride);
    if (p.extFactor != 0.f && p.nCtxOrig <= 0)
        nw::fail("cuda::rope: YaRN (ext factor {}) needs the original context length", p.extFactor);
    if (nTokens <= 0 || nHeads <= 0)
        return;
    if (x == nullptr || positions == nullptr)
        nw::fail("cuda::rope: null pointer");
    RopeConsts c{p.nDims, p.neox, p.freqBase, p.freqScale, p.extFactor, p.attnFactor, 0.f, 0.f, p.freqFactors};
    if (p.extFactor != 0.f) {
        float corr[2];
        cpu::ropeYarnCorrDims(p, corr); // the same host computation as the CPU backend
        c.corr0 = corr[0];
        c.corr1 = corr[1];
        c.mscale *= 1.0 + 0.1 * std::log(1.0 / p.freqScale);
    }
    ropeKernel<<<nTokens, kThreads, std::size_t(p.nDims) * sizeof(float), stream>>>(
        x, nHeads, headStride, offset, positions, c);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
