// Expert routing, one token at a time (the choice is a small serial top-k per token).
#include "kernels/cpu/moe_route.h"

#include "common/assert.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace nw {
namespace {

// DeepSeek-V3 §2.1.2 node-limited routing as its gate computes it: a group scores the sum of its
// two best biased affinities; experts outside the nGroupsUsed best groups drop out (-inf).
void keepBestGroups(const MoeRouting &routing, std::vector<float> &selection, std::vector<float> &groupScores,
    std::vector<int> &groupOrder)
{
    const int groupSize = routing.nExperts / routing.nGroups;
    for (int g = 0; g < routing.nGroups; ++g) {
        const float *first = selection.data() + std::size_t(g) * groupSize;
        float best = -INFINITY, second = -INFINITY;
        for (int i = 0; i < groupSize; ++i) {
            if (first[i] > best) {
                second = best;
                best = first[i];
            } else if (first[i] > second) {
                second = first[i];
            }
        }
        groupScores[std::size_t(g)] = groupSize > 1 ? best + second : best;
    }
    std::iota(groupOrder.begin(), groupOrder.end(), 0);
    std::partial_sort(
        groupOrder.begin(), groupOrder.begin() + routing.nGroupsUsed, groupOrder.end(), [&](int a, int b) {
            return groupScores[std::size_t(a)] > groupScores[std::size_t(b)]
                || (groupScores[std::size_t(a)] == groupScores[std::size_t(b)] && a < b);
        });
    for (int k = routing.nGroupsUsed; k < routing.nGroups; ++k)
        std::fill_n(selection.begin() + std::ptrdiff_t(groupOrder[std::size_t(k)]) * groupSize, groupSize, -INFINITY);
}

} // namespace

void routeExperts(const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights)
{
    const int n = routing.nExperts, k = routing.nUsed;
    NW_ASSERT(n > 0 && k > 0 && k <= n);
    NW_ASSERT(routing.nGroups >= 1 && n % routing.nGroups == 0 && routing.nGroupsUsed >= 1
        && routing.nGroupsUsed <= routing.nGroups);
    std::vector<float> probs(n), selection(n), groupScores(std::size_t(routing.nGroups));
    std::vector<int> order(n), groupOrder(std::size_t(routing.nGroups));
    for (int t = 0; t < nTokens; ++t) {
        const float *row = logits + std::size_t(t) * n;
        if (routing.gating == MoeGating::Softmax) {
            const float peak = *std::max_element(row, row + n);
            double sum = 0.0;
            for (int e = 0; e < n; ++e)
                sum += probs[e] = std::exp(row[e] - peak);
            for (float &p : probs)
                p = float(p / sum);
        } else if (routing.gating == MoeGating::Sigmoid) {
            for (int e = 0; e < n; ++e)
                probs[e] = 1.f / (1.f + std::exp(-row[e]));
        } else if (routing.gating == MoeGating::SqrtSoftplus) {
            for (int e = 0; e < n; ++e) // softplus as ggml computes it (x above 20 is x itself)
                probs[e] = std::sqrt(row[e] > 20.f ? row[e] : std::log(1.f + std::exp(row[e])));
        } else {
            std::copy_n(row, n, probs.begin()); // the choice is on the logits themselves
        }
        if (routing.fixedIds) { // hash routing: the experts are given, their weights are not
            const std::int32_t *given = routing.fixedIds + std::size_t(t) * k;
            for (int j = 0; j < k; ++j) {
                NW_ASSERT(given[j] >= 0 && given[j] < n);
                order[std::size_t(j)] = given[j];
            }
        } else {
            for (int e = 0; e < n; ++e)
                selection[e] = probs[e] + (routing.selectionBias ? routing.selectionBias[e] : 0.f);
            if (routing.nGroups > 1 && routing.nGroupsUsed < routing.nGroups)
                keepBestGroups(routing, selection, groupScores, groupOrder);
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + k, order.end(),
                [&](int a, int b) { return selection[a] > selection[b] || (selection[a] == selection[b] && a < b); });
        }
        std::int32_t *rowIds = ids + std::size_t(t) * k;
        float *rowWeights = weights + std::size_t(t) * k;
        double sum = 0.0;
        for (int j = 0; j < k; ++j) {
            rowIds[j] = order[j];
            rowWeights[j] = probs[order[j]];
            sum += rowWeights[j];
        }
        if (routing.gating == MoeGating::SoftmaxOfChosen) { // softmax over the k chosen logits
            const float peak = rowWeights[0];
            sum = 0.0;
            for (int j = 0; j < k; ++j)
                sum += rowWeights[j] = std::exp(rowWeights[j] - peak);
            for (int j = 0; j < k; ++j)
                rowWeights[j] = float(rowWeights[j] / sum);
            sum = 1.0;
        }
        const double factor = (routing.normalize ? 1.0 / sum : 1.0) * routing.scale;
        for (int j = 0; j < k; ++j)
            rowWeights[j] = float(rowWeights[j] * factor);
    }
}

} // namespace nw
