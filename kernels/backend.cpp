// Helpers shared by every backend: weight views and the checks done once at the host-side entry.
#include "kernels/backend.h"

#include "common/error.h"

namespace nw {

WeightMatrix denseWeights(TensorType type, std::int64_t rows, std::int64_t cols, const void *data)
{
    const auto &traits = tensorTypeTraits(type);
    if (rows < 0 || cols < 0 || static_cast<std::size_t>(cols) % traits.blockElements != 0)
        fail("weight matrix of {} x {} {}: columns must be a multiple of {}", rows, cols,
             traits.name, traits.blockElements);
    WeightMatrix w;
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.data = static_cast<const std::byte *>(data);
    w.rowStride = rowBytes(type, static_cast<std::size_t>(cols));
    return w;
}

} // namespace nw
