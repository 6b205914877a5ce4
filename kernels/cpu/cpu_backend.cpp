// CpuBackend: forwards each op to its file in kernels/cpu with the shared thread pool.
#include "kernels/cpu/cpu_backend.h"

#include "common/log.h"
#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/embed.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"

#include <fmt/format.h>

namespace nw::cpu {
namespace {

int resolveThreads(int threads)
{
    return threads > 0 ? threads : cpuFeatures().logicalCores;
}

} // namespace

CpuBackend::CpuBackend(int threads) : m_pool(resolveThreads(threads))
{
    nw::log::get("kernels")->debug("CPU backend: {} threads, matmul kernels {} ({})", m_pool.size(),
                                   dotKernel(TensorType::Q4_0).isa, describeSimd(cpuFeatures()));
}

std::string CpuBackend::name() const
{
    return fmt::format("cpu ({} threads, {})", m_pool.size(), dotKernel(TensorType::Q4_0).isa);
}

void CpuBackend::matmul(const WeightMatrix &w, const float *x, float *y, int nTokens)
{
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

void CpuBackend::rope(float *x, int nTokens, int nHeads, int headStride, int offset,
                      const std::int32_t *positions, const RopeParams &p)
{
    cpu::rope(m_pool, x, nTokens, nHeads, headStride, offset, positions, p);
}

void CpuBackend::swiglu(const float *gate, const float *up, float *y, std::size_t n)
{
    cpu::swiglu(m_pool, gate, up, y, n);
}

void CpuBackend::softmax(float *x, int rows, int cols)
{
    cpu::softmax(m_pool, x, rows, cols);
}

void CpuBackend::attention(const AttentionArgs &a)
{
    cpu::attention(m_pool, a);
}

void CpuBackend::storeKv(const KvLayerView &kv, const float *k, const float *v, int nTokens,
                         const std::int32_t *positions)
{
    cpu::storeKv(m_pool, kv, k, v, nTokens, positions);
}

} // namespace nw::cpu

namespace nw {

std::unique_ptr<Backend> makeCpuBackend(int threads)
{
    return std::make_unique<cpu::CpuBackend>(threads);
}

} // namespace nw
