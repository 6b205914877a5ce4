// The CPU implementation of nw::Backend: a thread pool plus one op per file in kernels/cpu.
// One CpuBackend serves one model at a time (its scratch buffers are not shared across calls).
#pragma once

#include "kernels/backend.h"
#include "kernels/cpu/matmul_packed.h"
#include "kernels/cpu/thread_pool.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace nw::cpu {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int threads); // threads <= 0: all logical cores
    std::string name() const override;
    int threads() const override { return m_pool.size(); }

    // Repacks the Q4_0 / Q4_K matrices into the 8-row interleaved layout
    // (matmul_packed.h); matmul then finds them by their data pointer. NW_CPU_REPACK=0 in the
    // environment turns this off (to compare with the per-row kernels).
    void prepareWeights(std::span<const WeightMatrix> weights) override;
    BackendMemoryInfo memoryInfo() const override;

    void matmul(const WeightMatrix &w, const float *x, float *y, int nTokens) override;
    void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out) override;
    void rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps) override;
    void rope(float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions,
        const RopeParams &p) override;
    void swiglu(const float *gate, const float *up, float *y, std::size_t n) override;
    void attention(const AttentionArgs &a) override;
    void storeKv(
        const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions) override;
    void addRow(float *y, const float *row, int nTokens, int dim) override;
    void zero(float *x, std::size_t n) override;
    void scale(float *x, float s, std::size_t n) override;
    void geglu(const float *gate, const float *up, float *y, std::size_t n) override;
    void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit) override;
    void copyRows(
        float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows, int cols) override;
    void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst) override;
    void scatterAddRows(
        float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim) override;
    void moeRoute(
        const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights) override;
    void layerNorm(
        const float *x, const float *weight, const float *bias, float *y, int nTokens, int dim, float eps) override;
    void swigluLimited(const float *gate, const float *up, float *y, std::size_t n, float limit) override;
    void sparseAttention(const SparseAttentionArgs &a) override;
    void lightningIndexer(const LightningIndexerArgs &a) override;
    void softmaxPool(const SoftmaxPoolArgs &a) override;
    void hyperMix(const HyperMixArgs &a) override;
    void hyperCollapse(const float *x, const float *weights, int nTokens, int nStreams, int dim, float *y) override;
    void hyperExpand(const float *y, const float *x, const float *post, const float *comb, int nTokens, int nStreams,
        int dim, float *out) override;
    void sigmoidMul(float *y, const float *gate, int rows, int cols, int gateCols) override;
    void shortConv(const ShortConvArgs &a) override;
    void gatedDeltaNet(const DeltaNetArgs &a) override;

    ThreadPool &pool() { return m_pool; }

private:
    ThreadPool m_pool;
    std::vector<std::byte> m_activations; // quantized activation rows of the current matmul
    bool m_repack = true;
    std::unordered_map<const std::byte *, std::unique_ptr<PackedWeights>> m_packed; // by WeightMatrix::data
    std::uint64_t m_packedBytes = 0;
};

} // namespace nw::cpu
