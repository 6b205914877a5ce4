// Token embedding lookup: table rows (any file type) dequantized to f32.
#pragma once

#include "kernels/backend.h"

namespace nw::cpu {

class ThreadPool;

// out: [n, table.cols] f32. Throws nw::Error for an id outside [0, table.rows).
void embed(ThreadPool &pool, const WeightMatrix &table, const std::int32_t *ids, int n, float *out);

} // namespace nw::cpu
