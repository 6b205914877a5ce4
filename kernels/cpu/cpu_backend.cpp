// CpuBackend: forwards each op to its file in kernels/cpu with the shared thread pool.
#include "kernels/cpu/cpu_backend.h"

#include "common/log.h"
#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/delta_net.h"
#include "kernels/cpu/embed.h"
#include "kernels/cpu/hyper_connections.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/moe_route.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rows.h"
#include "kernels/cpu/short_conv.h"
#include "kernels/cpu/softmax_pool.h"
#include "kernels/cpu/sparse_attention.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

#include <sys/mman.h>
#include <unistd.h>

namespace nw::cpu {
namespace {

std::size_t rowStrideOf(const WeightMatrix &w)
{
    return w.rowStride ? w.rowStride : rowBytes(w.type, static_cast<std::size_t>(w.cols));
}

// The file rows of a repacked matrix are not read again (matmul uses the copy), so the kernel is
// asked to reclaim their pages and the process does not hold the weights twice. MADV_PAGEOUT
// keeps the contents (a later read faults them back in), so it is safe on any memory; where it
// is refused (anonymous memory without swap) the pages simply stay.
void releaseSourcePages(const PackedWeights &p)
{
#if defined(MADV_PAGEOUT)
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(p.source);
    const std::uintptr_t end = begin + p.sourceStride * static_cast<std::size_t>(p.rows);
    const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (first < last)
        ::madvise(reinterpret_cast<void *>(first), last - first, MADV_PAGEOUT);
#else
    (void)p;
#endif
}

int resolveThreads(int threads)
{
    return threads > 0 ? threads : cpuFeatures().logicalCores;
}

} // namespace

CpuBackend::CpuBackend(int threads)
    : m_pool(resolveThreads(threads))
{
    if (const char *repack = std::getenv("NW_CPU_REPACK"))
        m_repack = std::strcmp(repack, "0") != 0;
    nw::log::get("kernels")->debug("CPU backend: {} threads, matmul kernels {} ({})", m_pool.size(),
        dotKernel(TensorType::Q4_0).isa, describeSimd(cpuFeatures()));
}

std::string CpuBackend::name() const
{
    return fmt::format("cpu ({} threads, {})", m_pool.size(), dotKernel(TensorType::Q4_0).isa);
}

void CpuBackend::prepareWeights(std::span<const WeightMatrix> weights)
{
    if (!m_repack)
        return;
    std::vector<const WeightMatrix *> todo;
    for (const WeightMatrix &w : weights) {
        // Q6_K stays in its rows: its packed kernel is correct but decodes no faster on this AVX2
        // machine (bench_matmul_bandwidth, 2048 x 8192, one thread: 2.6 vs 1.6 ms). Q8_0 is packed
        // since its 1-token kernel prefetches the whole block group and prefill has a 4-token tile:
        // Llama-1B shape, 1 thread, CPU time, prefill 18.7-19.7 -> 34.0-34.9 tok/s, decode 8.2 ->
        // 10.2-10.7 tok/s (rows before).
        if (!canPack(w.type) || w.type == TensorType::Q6_K || m_packed.contains(w.data))
            continue;
        checkWeights(w, "prepareWeights"); // throws here, before the workers start
        m_packed.emplace(w.data, nullptr);
        todo.push_back(&w);
    }
    // One matrix per task: each is a sequential copy, and the pool spreads them over the cores.
    std::vector<std::unique_ptr<PackedWeights>> packed(todo.size());
    std::exception_ptr error;
    std::mutex errorMutex;
    m_pool.forEachTask(static_cast<std::int64_t>(todo.size()), [&](std::int64_t i) {
        try {
            packed[static_cast<std::size_t>(i)] = packWeights(*todo[static_cast<std::size_t>(i)]);
            releaseSourcePages(*packed[static_cast<std::size_t>(i)]); // now, so the peak stays low too
        } catch (...) { // bad_alloc: rethrown on the calling thread below
            std::lock_guard lock(errorMutex);
            error = std::current_exception();
        }
    });
    for (std::size_t i = 0; i < todo.size(); ++i) {
        if (packed[i])
            m_packedBytes += packed[i]->bytes();
        m_packed[todo[i]->data] = std::move(packed[i]);
    }
    std::erase_if(m_packed, [](const auto &entry) { return entry.second == nullptr; });
    if (error)
        std::rethrow_exception(error);
    nw::log::get("kernels")->debug("CPU backend: {} matrices repacked into 8-row groups ({:.1f} MiB)", todo.size(),
        static_cast<double>(m_packedBytes) / (1024.0 * 1024.0));
}

BackendMemoryInfo CpuBackend::memoryInfo() const
{
    BackendMemoryInfo info = Backend::memoryInfo();
    info.weightsBytes = m_packedBytes;
    return info;
}

void CpuBackend::matmul(const WeightMatrix &w, const float *x, float *y, int nTokens)
{
    if (!m_packed.empty()) {
        const auto it = m_packed.find(w.data);
        // The same pointer with another shape is a different view (e.g. a slice): per-row path.
        if (it != m_packed.end() && it->second->type == w.type && it->second->rows == w.rows
            && it->second->cols == w.cols && it->second->sourceStride == rowStrideOf(w)) {
            matmulPacked(m_pool, m_activations, *it->second, x, y, nTokens);
            return;
        }
    }
    cpu::matmul(m_pool, m_activations, w, x, y, nTokens);
}

void CpuBackend::embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out)
{
    cpu::embed(m_pool, table, ids, n, out);
}

void CpuBackend::rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps)
{
    cpu::rmsNorm(m_pool, x, weight, y, nTokens, dim, eps);
}

void CpuBackend::rope(
    float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions, const RopeParams &p)
{
    cpu::rope(m_pool, x, nTokens, nHeads, headStride, offset, positions, p);
}

void CpuBackend::swiglu(const float *gate, const float *up, float *y, std::size_t n)
{
    cpu::swiglu(m_pool, gate, up, y, n);
}

void CpuBackend::attention(const AttentionArgs &a)
{
    cpu::attention(m_pool, a);
}

void CpuBackend::storeKv(
    const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions)
{
    cpu::storeKv(m_pool, kv, k, v, nTokens, positions);
}

void CpuBackend::addRow(float *y, const float *row, int nTokens, int dim)
{
    cpu::addRow(m_pool, y, row, nTokens, dim);
}

void CpuBackend::zero(float *x, std::size_t n)
{
    std::fill_n(x, n, 0.f);
}

void CpuBackend::scale(float *x, float s, std::size_t n)
{
    cpu::scale(m_pool, x, s, n);
}

void CpuBackend::geglu(const float *gate, const float *up, float *y, std::size_t n)
{
    cpu::geglu(m_pool, gate, up, y, n);
}

void CpuBackend::swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit)
{
    cpu::swigluOai(m_pool, gate, up, y, n, alpha, limit);
}

void CpuBackend::copyRows(
    float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows, int cols)
{
    cpu::copyRows(m_pool, dst, dstStride, src, srcStride, rows, cols);
}

void CpuBackend::gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst)
{
    cpu::gatherRows(m_pool, src, rows, n, dim, dst);
}

void CpuBackend::scatterAddRows(
    float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim)
{
    cpu::scatterAddRows(m_pool, dst, src, rows, weights, n, dim);
}

void CpuBackend::moeRoute(
    const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights)
{
    // Tokens route independently: split them over the workers for a prefill.
    if (nTokens < 32) {
        routeExperts(routing, logits, nTokens, ids, weights);
        return;
    }
    const auto n = std::size_t(routing.nExperts), k = std::size_t(routing.nUsed);
    m_pool.parallelFor(nTokens, 8, [&](std::int64_t t0, std::int64_t t1) {
        MoeRouting part = routing;
        if (part.fixedIds)
            part.fixedIds += std::size_t(t0) * k;
        routeExperts(
            part, logits + std::size_t(t0) * n, int(t1 - t0), ids + std::size_t(t0) * k, weights + std::size_t(t0) * k);
    });
}

void CpuBackend::layerNorm(
    const float *x, const float *weight, const float *bias, float *y, int nTokens, int dim, float eps)
{
    cpu::layerNorm(m_pool, x, weight, bias, y, nTokens, dim, eps);
}

void CpuBackend::swigluLimited(const float *gate, const float *up, float *y, std::size_t n, float limit)
{
    cpu::swigluLimited(m_pool, gate, up, y, n, limit);
}

void CpuBackend::sparseAttention(const SparseAttentionArgs &a)
{
    cpu::sparseAttention(m_pool, a);
}

void CpuBackend::lightningIndexer(const LightningIndexerArgs &a)
{
    cpu::lightningIndexer(m_pool, a);
}

void CpuBackend::softmaxPool(const SoftmaxPoolArgs &a)
{
    cpu::softmaxPool(m_pool, a);
}

void CpuBackend::hyperMix(const HyperMixArgs &a)
{
    cpu::hyperMix(m_pool, a);
}

void CpuBackend::hyperCollapse(const float *x, const float *weights, int nTokens, int nStreams, int dim, float *y)
{
    cpu::hyperCollapse(m_pool, x, weights, nTokens, nStreams, dim, y);
}

void CpuBackend::hyperExpand(const float *y, const float *x, const float *post, const float *comb, int nTokens,
    int nStreams, int dim, float *out)
{
    cpu::hyperExpand(m_pool, y, x, post, comb, nTokens, nStreams, dim, out);
}

void CpuBackend::sigmoidMul(float *y, const float *gate, int rows, int cols, int gateCols)
{
    cpu::sigmoidMul(m_pool, y, gate, rows, cols, gateCols);
}

void CpuBackend::shortConv(const ShortConvArgs &a)
{
    cpu::shortConv(m_pool, a);
}

void CpuBackend::gatedDeltaNet(const DeltaNetArgs &a)
{
    cpu::gatedDeltaNet(m_pool, a);
}

} // namespace nw::cpu

namespace nw {

std::unique_ptr<Backend> makeCpuBackend(int threads)
{
    return std::make_unique<cpu::CpuBackend>(threads);
}

} // namespace nw
