// Embedding rows through quantize.h's dequantizeRow (few rows per step: no SIMD needed).
#include "kernels/cpu/embed.h"

#include "common/error.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"

namespace nw::cpu {

void embed(ThreadPool &pool, const WeightMatrix &table, const std::int32_t *ids, int n, float *out)
{
    if (!canDequantize(table.type))
        fail("embed: table of type {} cannot be read", tensorTypeName(table.type));
    for (int i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= table.rows)
            fail("embed: token id {} is outside the vocabulary of {}", ids[i], table.rows);
    const std::size_t stride = table.rowStride ? table.rowStride
                                               : rowBytes(table.type, static_cast<std::size_t>(table.cols));
    const auto range = [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i)
            dequantizeRow(table.type, table.data + std::size_t(ids[i]) * stride, out + i * table.cols,
                          static_cast<std::size_t>(table.cols));
    };
    if (n < 16)
        range(0, n);
    else
        pool.parallelFor(n, 4, range);
}

} // namespace nw::cpu
