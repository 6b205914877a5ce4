// Threaded, tiled matmul over file-type weights (see matmul.h).
#include "kernels/cpu/matmul.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>

namespace nw::cpu {
namespace {

// A tile of rows × tokens: kRowTile weight rows stay in L2 while kTokenTile activation rows
// stream past them, so prefill reads each weight byte from memory once per kTokenTile tokens
// instead of once per token.
constexpr std::int64_t kRowTile = 16;
constexpr int kTokenTile = 16;
constexpr std::int64_t kColChunk = 2048; // a multiple of every block size (32, 256)
constexpr double kSerialBytes = 64 * 1024; // weight bytes x tokens below which one thread does it

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

    // Decode: one dot product per row, the activation row stays in L1 and weights stream by.
    const auto decodeRows = [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r)
            y[r] = k.dot(w.data + static_cast<std::size_t>(r) * rowStride, act, cols);
    };
    // Prefill: tiles of kRowTile rows x kTokenTile tokens x kColChunk columns, so the weight and
    // activation pieces of a tile stay in L2 while every pair in it is computed. Rows and
    // activation rows are sequences of whole blocks, so a column chunk is a byte offset.
    const std::int64_t colChunk = std::min<std::int64_t>(cols, kColChunk);
    const auto prefillRows = [&](std::int64_t r0, std::int64_t r1) {
        float partial[kRowTile * kTokenTile];
        for (std::int64_t rt = r0; rt < r1; rt += kRowTile) {
            const std::int64_t nr = std::min(r1, rt + kRowTile) - rt;
            for (int tt = 0; tt < nTokens; tt += kTokenTile) {
                const int nt = std::min(nTokens - tt, kTokenTile);
                std::fill(partial, partial + kRowTile * kTokenTile, 0.f);
                for (std::int64_t c0 = 0; c0 < cols; c0 += colChunk) {
                    const std::int64_t nc = std::min(colChunk, cols - c0);
                    const std::size_t wOffset = rowBytes(w.type, static_cast<std::size_t>(c0));
                    const std::size_t aOffset = activationRowBytes(k.activation, c0);
                    const std::byte *a0 = act + static_cast<std::size_t>(tt) * actStride + aOffset;
                    for (std::int64_t r = 0; r < nr; ++r) {
                        const std::byte *wr = w.data + static_cast<std::size_t>(rt + r) * rowStride + wOffset;
                        float out[kTokenTile];
                        if (k.dotMany) {
                            k.dotMany(wr, a0, actStride, nt, nc, out);
                        } else {
                            for (int t = 0; t < nt; ++t)
                                out[t] = k.dot(wr, a0 + static_cast<std::size_t>(t) * actStride, nc);
                        }
                        for (int t = 0; t < nt; ++t)
                            partial[r * kTokenTile + t] += out[t];
                    }
                }
                for (std::int64_t r = 0; r < nr; ++r)
                    for (int t = 0; t < nt; ++t)
                        y[static_cast<std::int64_t>(tt + t) * rows + rt + r] = partial[r * kTokenTile + t];
            }
        }
    };
    // Grain of 4 rows keeps neighbouring threads' outputs off each other's cache lines mostly.
    // A small product (a router, a tiny test model) is over before the workers would wake.
    const bool small = static_cast<double>(rowStride) * static_cast<double>(rows) * nTokens < kSerialBytes;
    if (nTokens == 1)
        small ? decodeRows(0, rows) : pool.parallelFor(rows, 4, decodeRows);
    else
        small ? prefillRows(0, rows) : pool.parallelFor(rows, kRowTile, prefillRows);
}

} // namespace nw::cpu
