// MoE routing kernel: one 32-thread block per token; affinities in parallel, then one thread
// makes the (small, serial) group and top-k choice exactly as the CPU code orders it.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/moe_route.cuh"

namespace nw::cuda {
namespace {

constexpr int kThreads = 32;
constexpr int kMaxExperts = 1024;

__global__ void moeRouteKernel(MoeRouteParams p, const float *logits, std::int32_t *ids, float *weights)
{
    // probs [nExperts], selection [nExperts], groupScore [nGroups], groupKept [nGroups]
    extern __shared__ float shared[];
    float *probs = shared;
    float *selection = probs + p.nExperts;
    float *groupScore = selection + p.nExperts;
    float *groupKept = groupScore + p.nGroups;
    const int n = p.nExperts;
    const float *row = logits + std::size_t(blockIdx.x) * n;

    float peak = -INFINITY;
    for (int e = threadIdx.x; e < n; e += kThreads)
        peak = fmaxf(peak, row[e]);
    for (int off = 16; off > 0; off /= 2)
        peak = fmaxf(peak, __shfl_xor_sync(0xffffffffu, peak, off));
    double sum = 0.0;
    for (int e = threadIdx.x; e < n; e += kThreads) {
        const float a = p.sigmoid ? 1.f / (1.f + expf(-row[e])) : expf(row[e] - peak);
        probs[e] = a;
        sum += a;
    }
    for (int off = 16; off > 0; off /= 2)
        sum += __shfl_xor_sync(0xffffffffu, sum, off);
    __syncwarp();
    for (int e = threadIdx.x; e < n; e += kThreads) {
        if (!p.sigmoid)
            probs[e] = float(probs[e] / sum);
        selection[e] = probs[e] + (p.selectionBias != nullptr ? p.selectionBias[e] : 0.f);
    }
    __syncwarp();
    if (threadIdx.x != 0)
        return;

    if (p.nGroups > 1 && p.nGroupsUsed < p.nGroups) {
        const int groupSize = n / p.nGroups;
        for (int g = 0; g < p.nGroups; ++g) {
            float best = -INFINITY, second = -INFINITY;
            for (int i = 0; i < groupSize; ++i) {
                const float s = selection[g * groupSize + i];
                if (s > best) {
                    second = best;
                    best = s;
                } else if (s > second) {
                    second = s;
                }
            }
            groupScore[g] = groupSize > 1 ? best + second : best;
            groupKept[g] = 0.f;
        }
        // Keep the nGroupsUsed best groups (strict > keeps the lower id on ties), drop the rest.
        for (int kept = 0; kept < p.nGroupsUsed; ++kept) {
            int bestGroup = -1;
            for (int g = 0; g < p.nGroups; ++g)
                if (groupKept[g] == 0.f && (bestGroup < 0 || groupScore[g] > groupScore[bestGroup]))
                    bestGroup = g;
            groupKept[bestGroup] = 1.f;
        }
        for (int g = 0; g < p.nGroups; ++g)
            if (groupKept[g] == 0.f)
                for (int i = 0; i < groupSize; ++i)
                    selection[g * groupSize + i] = -INFINITY;
    }

    // Top-k by repeated arg-max; a chosen expert is marked NaN so it is never taken twice, and
    // dropped experts (-inf) still fill the k slots in id order when too few remain, as
    // partial_sort does on the CPU.
    std::int32_t *rowIds = ids + std::size_t(blockIdx.x) * p.nUsed;
    float *rowWeights = weights + std::size_t(blockIdx.x) * p.nUsed;
    double chosenSum = 0.0;
    for (int j = 0; j < p.nUsed; ++j) {
        int best = -1;
        for (int e = 0; e < n; ++e)
            if (!isnan(selection[e]) && (best < 0 || selection[e] > selection[best]))
                best = e;
        rowIds[j] = best;
        rowWeights[j] = probs[best];
        chosenSum += probs[best];
        selection[best] = NAN;
    }
    const double factor = (p.normalize ? 1.0 / chosenSum : 1.0) * p.scale;
    for (int j = 0; j < p.nUsed; ++j)
        rowWeights[j] = float(rowWeights[j] * factor);
}

} // namespace

void moeRoute(const MoeRouteParams &p, const float *logits, int nTokens, std::int32_t *ids,
              float *weights, cudaStream_t stream)
{
    if (p.nExperts <= 0 || p.nExperts > kMaxExperts || p.nUsed <= 0 || p.nUsed > p.nExperts)
        nw::fail("cuda::moeRoute: {} of {} experts (at most {} experts)", p.nUsed, p.nExperts, kMaxExperts);
    if (p.nGroups < 1 || p.nExperts % p.nGroups != 0 || p.nGroupsUsed < 1 || p.nGroupsUsed > p.nGroups)
        nw::fail("cuda::moeRoute: {} of {} groups over {} experts", p.nGroupsUsed, p.nGroups, p.nExperts);
    if (nTokens <= 0)
        return;
    if (logits == nullptr || ids == nullptr || weights == nullptr)
        nw::fail("cuda::moeRoute: null pointer");
    const std::size_t smem = (2 * std::size_t(p.nExperts) + 2 * std::size_t(p.nGroups)) * sizeof(float);
    moeRouteKernel<<<nTokens, kThreads, smem, stream>>>(p, logits, ids, weights);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
