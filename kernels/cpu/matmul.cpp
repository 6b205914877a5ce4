// Threaded, tiled matmul over file-type weights (see matmul.h).
#include "kernels/cpu/matmul.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>

namespace nw::cpu {
namespace {

// A tile of rows × tokens: kRowTile weight rows (a few KiB each) stay in L1/L2 while kTokenTile
// activation rows stream past them, so prefill reads each weight byte from memory once per
// kTokenTile tokens instead of once per token.
constexpr std::int64_t kRowTile = 16;
constexpr int kTokenTile = 16;

} // namespace

void checkWeights(const WeightMatrix &w, const char *op)
{
    if (!matmulSupports(w.type))
        fail("{}: weights of type {} are not supported by the CPU backend", op, tensorTypeName(w.type));
    const auto &traits = tensorTypeTraits(w.type);
    if (w.rows <= 0 || w.cols <= 0 || static_cast<std::size_t>(w.cols) % traits.blockElements != 0)
        fail("{}: a {} x {} {} matrix (columns must be a positive multiple of {})", op, w.rows, w.cols,
             traits.name, traits.blockElements);
    if (w.data == nullptr)
        fail("{}: weight matrix has no data", op);
    if (w.rowStride != 0 && w.rowStride < rowBytes(w.type, static_cast<std::size_t>(w.cols)))
        fail("{}: row stride {} is shorter than a row of {} {} values", op, w.rowStride, w.cols, traits.name);
}

void matmul(ThreadPool &pool, std::vector<std::byte> &scratch, const WeightMatrix &w, const float *x,
            float *y, int nTokens, const DotKernel *kernel)
{
    checkWeights(w, "matmul");
    NW_ASSERT(x != nullptr && y != nullptr && nTokens >= 0);
    if (nTokens == 0)
        return;
    const DotKernel &k = kernel ? *kernel : dotKernel(w.type);
    const std::size_t rowStride = w.rowStride ? w.rowStride : rowBytes(w.type, static_cast<std::size_t>(w.cols));
    const std::int64_t cols = w.cols;
    const std::int64_t rows = w.rows;

    const std::byte *act = reinterpret_cast<const std::byte *>(x);
    std::size_t actStride = static_cast<std::size_t>(cols) * sizeof(float);
    if (k.activation != ActivationFormat::F32) {
        actStride = activationRowBytes(k.activation, cols);
        const std::size_t need = actStride * static_cast<std::size_t>(nTokens);
        if (scratch.size() < need)
            scratch.resize(need);
        std::byte *out = scratch.data();
        if (nTokens == 1)
            k.quantize(x, out, cols); // a few microseconds: not worth waking the workers
        else
            pool.parallelFor(nTokens, 1, [&](std::int64_t t0, std::int64_t t1) {
                for (std::int64_t t = t0; t < t1; ++t)
                    k.quantize(x + t * cols, out + static_cast<std::size_t>(t) * actStride, cols);
            });
        act = out;
    }

    const auto dotRows = [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t rt = r0; rt < r1; rt += kRowTile) {
            const std::int64_t rEnd = std::min(r1, rt + kRowTile);
            for (int tt = 0; tt < nTokens; tt += kTokenTile) {
                const int tEnd = std::min(nTokens, tt + kTokenTile);
                for (std::int64_t r = rt; r < rEnd; ++r) {
                    const std::byte *wr = w.data + static_cast<std::size_t>(r) * rowStride;
                    if (k.dotMany && tEnd - tt > 1) {
                        float out[kTokenTile];
                        k.dotMany(wr, act + static_cast<std::size_t>(tt) * actStride, actStride, tEnd - tt, cols, out);
                        for (int t = tt; t < tEnd; ++t)
                            y[static_cast<std::int64_t>(t) * rows + r] = out[t - tt];
                    } else {
                        for (int t = tt; t < tEnd; ++t)
                            y[static_cast<std::int64_t>(t) * rows + r] =
                                k.dot(wr, act + static_cast<std::size_t>(t) * actStride, cols);
                    }
                }
            }
        }
    };
    // Grain of 4 rows keeps neighbouring threads' outputs off each other's cache lines mostly.
    pool.parallelFor(rows, 4, dotRows);
}

} // namespace nw::cpu
